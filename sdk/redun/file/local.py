"""The local (POSIX) file system: plain paths and ``file://`` URLs."""

from __future__ import annotations

import glob as globlib
import os
from shlex import quote
from typing import IO, Any

from redun.errors import FileError
from redun.file.filesystem import (
    FileStat,
    FileSystem,
    file_error,
    get_proto,
    missing_error,
    register_filesystem,
)

CHUNK_SIZE = 1 << 20
_WRITE_MODE_CHARS = frozenset("wax+")


def _os_path(path: str) -> str:
    # file:///tmp/x -> /tmp/x; plain paths pass through untouched.
    if path.startswith("file://"):
        return path[len("file://") :] or "/"
    return path


def is_write_mode(mode: str) -> bool:
    """Return True if opening with ``mode`` can change the file."""
    return not _WRITE_MODE_CHARS.isdisjoint(mode)


@register_filesystem
class LocalFileSystem(FileSystem):
    """Files on this machine."""

    name = "local"
    protocols = ("file",)

    def open(self, path: str, mode: str = "r", encoding: str | None = None, **kwargs: Any) -> IO:
        os_path = _os_path(path)
        writing = is_write_mode(mode)
        try:
            if writing:
                parent = os.path.dirname(os_path)
                if parent:
                    os.makedirs(parent, exist_ok=True)
            return open(os_path, mode, encoding=encoding, **kwargs)
        except OSError as exc:
            raise file_error("open for writing" if writing else "read", path, exc) from exc

    def exists(self, path: str) -> bool:
        return os.path.exists(_os_path(path))

    def isfile(self, path: str) -> bool:
        return os.path.isfile(_os_path(path))

    def isdir(self, path: str) -> bool:
        return os.path.isdir(_os_path(path))

    def remove(self, path: str) -> None:
        try:
            os.remove(_os_path(path))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise file_error("remove", path, exc) from exc

    def touch(self, path: str, time: tuple[float, float] | None = None) -> None:
        os_path = _os_path(path)
        try:
            if os.path.exists(os_path):
                os.utime(os_path, time)
                return
            self.open(path, "ab").close()
            if time is not None:
                os.utime(os_path, time)
        except OSError as exc:
            raise file_error("touch", path, exc) from exc

    def mkdir(self, path: str) -> None:
        try:
            os.makedirs(_os_path(path), exist_ok=True)
        except OSError as exc:
            raise file_error("create directory", path, exc) from exc

    def rmdir(self, path: str, recursive: bool = False) -> None:
        os_path = _os_path(path)
        if not os.path.isdir(os_path):
            return
        try:
            if recursive:
                import shutil

                shutil.rmtree(os_path)
            else:
                os.rmdir(os_path)
        except OSError as exc:
            hint = "" if recursive else "; pass recursive=True to remove its contents"
            raise file_error("remove directory", path, exc, hint=hint) from exc

    def glob(self, pattern: str) -> list[str]:
        if pattern.startswith("file://"):
            return sorted("file://" + p for p in globlib.glob(_os_path(pattern), recursive=True))
        return sorted(globlib.glob(pattern, recursive=True))

    def walk_files(self, path: str) -> list[str]:
        # Iterative scandir walk: regular files (and symlinks to them); symlinked
        # directories are not followed, so a link cycle cannot hang us.
        root = path.rstrip("/") or "/"
        found: list[str] = []
        stack = [root]
        while stack:
            current = stack.pop()
            try:
                with os.scandir(_os_path(current)) as entries:
                    for entry in entries:
                        child = f"{current}/{entry.name}" if current != "/" else f"/{entry.name}"
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                stack.append(child)
                            elif entry.is_file():
                                found.append(child)
                        except OSError:
                            continue
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise file_error("list directory", current, exc) from exc
        found.sort()
        return found

    def stat(self, path: str) -> FileStat:
        try:
            st = os.stat(_os_path(path))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise missing_error("stat", path) from exc
        except OSError as exc:
            raise file_error("stat", path, exc) from exc
        return FileStat(size=st.st_size, mtime_ns=st.st_mtime_ns)

    def checksum(self, path: str) -> str:
        from redun.hashing.digest import _blake2b

        digest = _blake2b(digest_size=20)
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        try:
            with open(_os_path(path), "rb", buffering=0) as infile:
                while n := infile.readinto(buffer):
                    digest.update(view[:n])
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise missing_error("read", path) from exc
        except OSError as exc:
            raise file_error("read", path, exc) from exc
        return digest.hexdigest()

    def copy(self, src_path: str, dest_path: str) -> None:
        if get_proto(src_path) != "local" or get_proto(dest_path) != "local":
            super().copy(src_path, dest_path)
            return
        src, dest = _os_path(src_path), _os_path(dest_path)
        try:
            parent = os.path.dirname(dest)
            if parent:
                os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise file_error("copy to", dest_path, exc) from exc
        import shutil  # here: most runs copy nothing

        try:
            shutil.copyfile(src, dest)
        except (FileNotFoundError, NotADirectoryError) as exc:
            if not os.path.exists(src):
                raise missing_error("copy", src_path) from exc
            raise file_error("copy to", dest_path, exc) from exc
        except shutil.SameFileError:
            return
        except OSError as exc:
            raise file_error(f"copy {src_path!r} to", dest_path, exc) from exc

    def local_path(self, path: str) -> str | None:
        return _os_path(path)

    def shell_copy(
        self,
        src_path: str | None,
        dest_path: str | None,
        recursive: bool = False,
        as_mount: bool = False,
    ) -> str:
        protos = {get_proto(p) for p in (src_path, dest_path) if p}
        other = next((p for p in protos if p != "local"), None)
        if other is not None:
            # The remote side knows its own tools (aws s3 cp, gsutil, ...).
            from redun.file.filesystem import get_filesystem

            return get_filesystem(proto=other).shell_copy(
                src_path, dest_path, recursive=recursive, as_mount=as_mount
            )
        src = _os_path(src_path) if src_path else None
        dest = _os_path(dest_path) if dest_path else None
        if src and dest:
            # The commands redun renders; script() stages in Python and makes
            # parent directories itself, so these are for display and for users'
            # own scripts.
            flag = "-r " if recursive else ""
            return f"cp {flag}{quote(src)} {quote(dest)}"
        if recursive:
            raise FileError("a recursive copy needs both a source and a destination path")
        if src:
            return f"cat {quote(src)}"
        if dest:
            return f"cat > {quote(dest)}"
        raise FileError("a copy needs a source or a destination path")
