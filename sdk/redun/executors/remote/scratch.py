"""The scratch store: where the scheduler and remote jobs exchange code, calls and outcomes.

A scratch is a root URL (a local directory, ``file://``, ``s3://``, ``gs://``:
any scheme of :mod:`redun.file`) with this fixed layout::

    ROOT/
      code/<sha256>.tar.gz          a code package, named by its content hash
      calls/<call_id>/call          the call list of a lone job (one call)
      calls/<call_id>/result        what the call returned (written by the job)
      calls/<call_id>/error         what the call raised, with its traceback
      calls/<call_id>/status        JSON: the entrypoint's last word (running/done/failed)
      arrays/<array_id>/calls       the call list of an array job (element i = call i)

``call_id`` is the job's eval hash (task hash, argument hashes, context): it
is known before the job runs and is the same after a restart, which is what
lets a restarted scheduler find a job's outcome. Files under ``calls/`` and
``arrays/`` start with a one-line header (see :mod:`.protocol`).

Every read and write goes through the file-system layer; on a local scratch
a write goes to a temporary name first and is renamed into place, so a
reader never sees half a file (object stores give that for free).
"""

from __future__ import annotations

import os
import tempfile

from redun.errors import ExecutorError
from redun.file.filesystem import FileSystem, RedunFileNotFoundError, get_filesystem, get_proto


class Scratch:
    """The scratch store at ``root`` (a directory path or URL).

    Args:
        root: ``/abs/dir``, ``file:///abs/dir``, ``s3://bucket/prefix``, ...
    """

    def __init__(self, root: str) -> None:
        if not root or not str(root).strip():
            raise ExecutorError("a remote executor needs a scratch: set scratch = PATH_OR_URL")
        root = str(root).strip()
        self.local = get_proto(root) == "local"
        if self.local:
            root = os.path.abspath(root[len("file://") :] if root.startswith("file://") else root)
        self.root = root.rstrip("/") or "/"
        self.fs: FileSystem = get_filesystem(self.root)

    def __repr__(self) -> str:
        return f"Scratch({self.root!r})"

    # -- the layout ----------------------------------------------------------
    def url(self, *parts: str) -> str:
        """``ROOT/part/part...``."""
        return "/".join((self.root, *parts))

    def code_url(self, digest: str) -> str:
        return self.url("code", f"{digest}.tar.gz")

    def call_dir(self, call_id: str) -> str:
        return self.url("calls", call_id)

    def calls_url(self, key: str) -> str:
        """The call list of a submission: ``calls/<id>/call`` or ``arrays/<id>/calls``."""
        if is_array_key(key):
            return self.url("arrays", key, "calls")
        return self.url("calls", key, "call")

    def result_url(self, call_id: str) -> str:
        return self.url("calls", call_id, "result")

    def error_url(self, call_id: str) -> str:
        return self.url("calls", call_id, "error")

    def status_url(self, call_id: str) -> str:
        return self.url("calls", call_id, "status")

    # -- I/O -------------------------------------------------------------------
    def read(self, url: str) -> bytes | None:
        """The bytes at ``url``, or None if there is no such file."""
        if self.local:
            try:
                with open(url, "rb") as infile:
                    return infile.read()
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError as exc:
                raise ExecutorError(f"cannot read {url!r} in the scratch: {exc}") from exc
        try:
            with self.fs.open(url, "rb") as infile:
                return infile.read()
        except RedunFileNotFoundError:
            return None

    def write(self, url: str, data: bytes) -> None:
        """Put ``data`` at ``url``, whole or not at all."""
        if not self.local:
            with self.fs.open(url, "wb") as outfile:
                outfile.write(data)
            return
        directory = os.path.dirname(url)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as outfile:
                    outfile.write(data)
                os.replace(temp, url)
            except BaseException:
                try:
                    os.unlink(temp)
                except OSError:
                    pass
                raise
        except OSError as exc:
            raise ExecutorError(f"cannot write {url!r} in the scratch: {exc}") from exc

    def exists(self, url: str) -> bool:
        if self.local:
            return os.path.exists(url)
        return self.fs.exists(url)

    def remove(self, url: str) -> None:
        """Delete ``url``; a missing file is fine."""
        if self.local:
            try:
                os.unlink(url)
            except FileNotFoundError:
                pass
            return
        self.fs.remove(url)


ARRAY_PREFIX = "a-"


def is_array_key(key: str) -> bool:
    """True for an array job's key (``a-<token>``); a lone job's key is its call id."""
    return key.startswith(ARRAY_PREFIX)
