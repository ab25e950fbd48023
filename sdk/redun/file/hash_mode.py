"""How local files are hashed by default: by ``stat`` (fast) or by ``content``.

``stat`` hashes a file by its path, size and ``st_mtime_ns``: one ``stat()``
call, whatever the file's size. It sees every rewrite that changes the size or
the modification time. Its blind spot is a same-size rewrite within one tick of
the file system's clock: on file systems with coarse timestamps (FAT: 2 s,
HFS+ and some network mounts: 1 s, Linux kernels before 6.6: one jiffy,
1-10 ms) two such writes can leave identical metadata. Where that matters, use
``content``: a blake2b digest of the bytes, read in 1 MiB chunks.

The default is process-wide (it is configuration, not per-context state): set
it once at start-up. A workflow sets it in its ``redun.ini``::

    [file]
    hash = content

(:func:`redun.config.load_config` applies it through
:func:`configure_hash_mode`), or with ``REDUN_FILE_HASH=content`` in the
environment. :func:`set_default_hash_mode` also exports that variable, so
worker processes started later (the ``processes`` executor) agree. A File or
Dir made without an explicit mode takes the default when its hash is first
taken (so one made at import time, before the config is loaded, follows the
config), then keeps that mode, through pickling too.
"""

from __future__ import annotations

import os
from typing import Any

from redun.errors import UsageError

HASH_MODES: tuple[str, ...] = ("stat", "content")
ENV_VAR = "REDUN_FILE_HASH"
"""The environment variable holding the default mode (read at import)."""

_default_content_hash = os.environ.get(ENV_VAR, "").strip().lower() == "content"


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
    os.environ[ENV_VAR] = mode


def get_default_hash_mode() -> str:
    """Return the current default hash mode, ``"stat"`` or ``"content"``."""
    return "content" if _default_content_hash else "stat"


def resolve_content_hash(content_hash: bool | None) -> bool:
    """Return ``content_hash``, or the default when it is None."""
    return _default_content_hash if content_hash is None else bool(content_hash)


def split_hash_argument(
    hash: str | None, content_hash: bool | None
) -> tuple[str | None, bool | None]:
    """Read ``File(path, hash="content")`` (or ``"stat"``) as a mode, not a recorded hash.

    Returns:
        The recorded hash (or None) and the ``content_hash`` choice.

    Raises:
        UsageError: a mode and a contradicting ``content_hash`` were both given.
    """
    if hash not in HASH_MODES:
        return hash, content_hash
    wanted = hash == "content"
    if content_hash is not None and bool(content_hash) != wanted:
        raise UsageError(f"hash={hash!r} contradicts content_hash={content_hash!r}")
    return None, wanted


def configure_hash_mode(config: Any) -> None:
    """Apply the ``[file]`` section of a config (``hash = stat|content``), if it sets one.

    ``hash_mode`` is accepted as another name for the key.

    Raises:
        UsageError: the value is not a known mode.
    """
    section = config.get("file") or {}
    mode = section.get("hash", section.get("hash_mode"))
    if mode is None:
        return
    mode = str(mode).strip().lower()
    if mode not in HASH_MODES:
        raise UsageError(
            f"[file] hash = {mode!r} in the redun config is not a file hash mode; "
            f"use one of {', '.join(HASH_MODES)}"
        )
    set_default_hash_mode(mode)
