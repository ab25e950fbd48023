"""The code package: the user's own modules, packed deterministically, named by content.

A package is a ``.tar.gz`` of the files under a code root (the working
directory by default) matching the include globs and none of the exclude
globs. Entries are sorted, with fixed times, owners and modes, so the same
files always give the same bytes; the package is named by a SHA-256 over the
files' paths and contents, so an unchanged tree is found in the scratch
(one existence check) and never uploaded again.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import os
import tarfile
import zipfile
from dataclasses import dataclass

from redun.errors import ExecutorError
from redun.executors.remote.scratch import Scratch

DEFAULT_INCLUDES: tuple[str, ...] = ("**/*.py",)
"""What a package holds unless ``code_includes`` says otherwise."""

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    ".redun",
    "node_modules",
    "build",
    "dist",
    "*.egg-info",
    "site-packages",
)
"""Directory (or file) names never packed: virtualenvs, VCS, caches, build output.

Any directory holding a ``pyvenv.cfg`` (a virtualenv of any name) is skipped
too. Data files stay out because only ``*.py`` is included by default; add
big data trees to ``code_excludes`` so they are not even walked.
"""

MAX_PACKAGE_BYTES = 100 << 20


@dataclass(frozen=True)
class CodePackage:
    """A built package: its content hash, its bytes and the files it holds."""

    digest: str
    data: bytes
    files: tuple[str, ...]


def _split_globs(value: object, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(str(item) for item in value)  # type: ignore[attr-defined]


def package_options(config: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(includes, excludes)`` from ``code_includes`` / ``code_excludes`` (space-separated)."""
    includes = _split_globs(config.get("code_includes"), DEFAULT_INCLUDES)
    excludes = _split_globs(config.get("code_excludes"), ()) + DEFAULT_EXCLUDES
    return includes, excludes


def find_files(
    root: str, includes: tuple[str, ...], excludes: tuple[str, ...] = DEFAULT_EXCLUDES
) -> list[str]:
    """Paths (relative, ``/``-separated, sorted) under ``root`` that belong in the package.

    A path is in when it matches an include glob (``**/`` matches any depth,
    including none) and none of its parts matches an exclude glob.
    """
    found: list[str] = []
    stack = [""]
    while stack:
        relative_dir = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(root, relative_dir)))
        except OSError:
            continue
        for entry in entries:
            if any(fnmatch.fnmatch(entry.name, pattern) for pattern in excludes):
                continue
            relative = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                        stack.append(relative)
                elif entry.is_file() and _included(relative, includes):
                    found.append(relative)
            except OSError:
                continue
    found.sort()
    return found


def _included(relative: str, includes: tuple[str, ...]) -> bool:
    for pattern in includes:
        if fnmatch.fnmatch(relative, pattern):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatch(relative, pattern[3:]):
            return True
    return False


def build_package(
    root: str,
    includes: tuple[str, ...] = DEFAULT_INCLUDES,
    excludes: tuple[str, ...] = DEFAULT_EXCLUDES,
    *,
    max_bytes: int = MAX_PACKAGE_BYTES,
) -> CodePackage:
    """Pack the files under ``root``; the same files always give the same package.

    Raises:
        ExecutorError: the code root is missing or the package grows past ``max_bytes``.
    """
    if not os.path.isdir(root):
        raise ExecutorError(f"code root {root!r} is not a directory; set code_root")
    files = find_files(root, includes, excludes)
    digest = hashlib.sha256(b"redun-code-package-1\n")
    buffer = io.BytesIO()
    total = 0
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for relative in files:
                path = os.path.join(root, relative)
                try:
                    with open(path, "rb") as infile:
                        content = infile.read()
                    executable = os.access(path, os.X_OK)
                except OSError as exc:
                    raise ExecutorError(
                        f"cannot read {path!r} for the code package: {exc}"
                    ) from exc
                total += len(content)
                if total > max_bytes:
                    raise ExecutorError(
                        f"the code package under {root!r} passes {max_bytes >> 20} MB at "
                        f"{relative!r}; narrow it with code_includes/code_excludes or code_root"
                    )
                info = tarfile.TarInfo(relative)
                info.size = len(content)
                info.mode = 0o755 if executable else 0o644
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(content))
                digest.update(f"{relative}\0{info.mode:o}\0{len(content)}\0".encode())
                digest.update(content)
    return CodePackage(digest.hexdigest(), buffer.getvalue(), tuple(files))


def ensure_uploaded(scratch: Scratch, package: CodePackage) -> tuple[str, bool]:
    """The package's URL in the scratch, uploading it only if it is not there yet.

    Returns:
        ``(url, uploaded)``.
    """
    url = scratch.code_url(package.digest)
    if scratch.exists(url):
        return url, False
    scratch.write(url, package.data)
    return url, True


def unpack(data: bytes, directory: str) -> list[str]:
    """Extract a package into ``directory``; returns the files' relative paths.

    Raises:
        ExecutorError: the package is damaged or holds a path outside ``directory``.
    """
    names: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                target = os.path.realpath(os.path.join(directory, member.name))
                if not member.isfile() or not target.startswith(
                    os.path.realpath(directory) + os.sep
                ):
                    raise ExecutorError(f"code package entry {member.name!r} is not a plain file")
                names.append(member.name)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(directory, members=members, filter="data")
            else:  # pragma: no cover - Python before 3.11.4; entries were checked above
                tar.extractall(directory, members=members)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ExecutorError(f"cannot unpack the code package: {exc}") from exc
    return names


def as_zip(package: CodePackage) -> bytes:
    """The package's files as a deterministic zip archive.

    Python imports straight from a zip on ``sys.path`` (zipimport), which is
    what Spark's ``addPyFile`` ships; a task in ``sub/flow.py`` is found with
    ``ARCHIVE.zip/sub`` on ``sys.path``.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(package.data), mode="r:gz") as tar:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in tar.getmembers():
                extracted = tar.extractfile(member)
                if extracted is None:
                    continue
                info = zipfile.ZipInfo(member.name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (member.mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, extracted.read())
    return buffer.getvalue()
