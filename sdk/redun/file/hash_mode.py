"""How local files are hashed by default: by ``stat`` (fast) or by ``content``.

``stat`` hashes a file by its path, size and ``st_mtime_ns``: one ``stat()``
call, whatever the file's size. It sees every rewrite that changes the size or
the modification time. Its blind spot is a same-size rewrite within one tick of
the file system's clock: on file systems with coarse timestamps (FAT: 2 s,
HFS+ and some network mounts: 1 s, Linux kernels before 6.6: one jiffy,
1-10 ms) two such writes can leave identical metadata. Where that matters, use
``content``: a blake2b digest of the bytes, read in 1 MiB chunks.

The default is process-wide (it is configuration, not per-context state): set
it once at start-up, e.g. from the ``[file] hash_mode`` config key. A File or
Dir fixes its mode when it is constructed, and keeps it through pickling.
"""

from __future__ import annotations

from redun.errors import UsageError

HASH_MODES: tuple[str, ...] = ("stat", "content")

_default_content_hash = False


def set_default_hash_mode(mode: str) -> None:
    """Set how Files and Dirs constructed from now on hash their contents.

    Args:
        mode: ``"stat"`` (path, size and mtime; the default) or ``"content"``
            (a digest of the bytes).

    Raises:
        UsageError: ``mode`` is neither.
    """
    global _default_content_hash
    if mode not in HASH_MODES:
        raise UsageError(
            f"unknown file hash mode {mode!r}; expected one of {', '.join(HASH_MODES)}"
        )
    _default_content_hash = mode == "content"


def get_default_hash_mode() -> str:
    """Return the current default hash mode, ``"stat"`` or ``"content"``."""
    return "content" if _default_content_hash else "stat"


def resolve_content_hash(content_hash: bool | None) -> bool:
    """Return ``content_hash``, or the default when it is None."""
    return _default_content_hash if content_hash is None else bool(content_hash)
