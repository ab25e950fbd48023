"""The global options of ``redun`` that a plain run does not pay for.

``--log-level``, ``--check-version``, ``-r/--repo`` and ``--setup-help`` are
read here, imported only when one of them is given (see ``main``):

* ``--log-level LEVEL`` sets the ``redun`` logger's level and prints its
  records to stderr as ``[redun] message``.
* ``--check-version SPEC`` compares the redun API release this engine
  implements (:data:`redun.cli.main.REDUN_API_VERSION`) with a spec such as
  ``>=0.8,<1.0``; a spec not met is a usage error.
* ``-r/--repo NAME`` uses the config directory named by ``[repos.NAME]
  config_dir = DIR`` in the current redun.ini (``default`` is the current one).
* ``--setup-help`` prints the options of the ``[scheduler] setup_scheduler``
  hook (what ``-s KEY=VALUE`` takes).
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import re
import sys
from collections.abc import Callable
from typing import IO

from redun.cli.repos import DEFAULT_REPO
from redun.errors import UsageError

LOG_LEVELS = {
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
}


def apply_global_options(args: argparse.Namespace) -> Callable[[], None]:
    """Act on the global options given; returns what undoes them (for in-process callers).

    Raises:
        UsageError: a version spec not met or malformed, or an unknown repository.
    """
    restore: Callable[[], None] = _nothing
    if args.log_level:
        restore = set_log_level(args.log_level)
    if args.check_version:
        from redun.cli.main import REDUN_API_VERSION

        check_version(REDUN_API_VERSION, args.check_version)
    if args.repo and args.repo != DEFAULT_REPO:
        from redun.cli.repos import repo_config_dir
        from redun.config import find_config_dir

        # Repository names stay those of the local redun.ini (redun push/pull read them).
        args.local_config = args.config
        local_dir = os.path.abspath(find_config_dir(args.config))
        try:
            args.config = repo_config_dir(local_dir, args.repo)
        except UsageError as error:
            raise UsageError(f"--repo {args.repo}: {error}") from None
    return restore


def _nothing() -> None:
    pass


# -- --log-level ----------------------------------------------------------------------------
def set_log_level(name: str) -> Callable[[], None]:
    """Set the ``redun`` logger to ``name``, printing to stderr; returns the undo."""
    logger = logging.getLogger("redun")
    old_level = logger.level
    logger.setLevel(LOG_LEVELS[name])
    handler: logging.Handler | None = None
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[redun] %(message)s"))
        logger.addHandler(handler)

    def restore() -> None:
        logger.setLevel(old_level)
        if handler is not None:
            logger.removeHandler(handler)

    return restore


# -- --check-version ------------------------------------------------------------------------
_CLAUSE = re.compile(r"^\s*(==|!=|>=|<=|~=|>|<)?\s*(\d+(?:\.\d+)*)\s*$")


def parse_version(text: str) -> tuple[int, ...]:
    """``"0.44.1"`` as ``(0, 44, 1)``."""
    try:
        return tuple(int(part) for part in text.strip().split("."))
    except ValueError:
        raise UsageError(
            f"--check-version: {text!r} is not a version (write e.g. 0.44.1)"
        ) from None


def version_matches(version: str, spec: str) -> bool:
    """Whether ``version`` meets ``spec``: comma-separated clauses, each an operator
    (``==`` when none, ``!=``, ``>=``, ``<=``, ``>``, ``<``, ``~=``) and a version.

    Versions compare as numbers part by part, missing parts being 0 (``0.44`` is
    ``0.44.0``). ``~=X.Y`` is ``>=X.Y`` with the same ``X``.

    Raises:
        UsageError: a clause that is not an operator and a version.
    """
    have = parse_version(version)
    clauses = [clause for clause in spec.split(",") if clause.strip()]
    if not clauses:
        raise UsageError("--check-version: empty version spec (write e.g. '>=0.8,<1.0')")
    for clause in clauses:
        match = _CLAUSE.match(clause)
        if match is None:
            raise UsageError(
                f"--check-version: {clause.strip()!r} is not a version clause "
                "(write e.g. '>=0.8,<1.0'; operators: == != >= <= > < ~=)"
            )
        op, want_text = match.group(1) or "==", match.group(2)
        want = parse_version(want_text)
        width = max(len(have), len(want))
        left = have + (0,) * (width - len(have))
        right = want + (0,) * (width - len(want))
        if op == "~=":
            ok = left >= right and left[: len(want) - 1] == want[:-1]
        else:
            ok = {
                "==": left == right,
                "!=": left != right,
                ">=": left >= right,
                "<=": left <= right,
                ">": left > right,
                "<": left < right,
            }[op]
        if not ok:
            return False
    return True


def check_version(version: str, spec: str) -> None:
    """Raise :class:`UsageError` unless ``version`` meets ``spec``."""
    if not version_matches(version, spec):
        from redun import __version__

        raise UsageError(
            f"redun {version} does not meet requirement {spec} ({version} is the redun "
            f"release whose API this engine implements; the engine itself is {__version__})"
        )


# -- --setup-help ---------------------------------------------------------------------------
def print_setup_help(config_dir: str | None, out: IO[str] | None = None) -> None:
    """What ``-s KEY=VALUE`` takes: the ``[scheduler] setup_scheduler`` hook's options."""
    from redun.cli.setup import get_user_setup_func
    from redun.config import CONFIG_FILENAME, find_config_dir, load_config

    out = out or sys.stdout
    directory = os.path.abspath(find_config_dir(config_dir))
    config = load_config(directory, create=False)
    path = (config.get("scheduler") or {}).get("setup_scheduler")
    print("redun -s KEY=VALUE ...  (or --setup KEY=VALUE)", file=out)
    if not path:
        print(
            f"\nNo [scheduler] setup_scheduler hook in {os.path.join(directory, CONFIG_FILENAME)}:"
            " -s takes no options.",
            file=out,
        )
        return
    func = get_user_setup_func(config)
    print(f"\nOptions of setup_scheduler = {path}:", file=out)
    doc = inspect.getdoc(func)
    if doc:
        print("\n" + doc + "\n", file=out)
    params = list(inspect.signature(func).parameters.values())[1:]
    if not params:
        print("  (none)", file=out)
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = param.annotation
        if annotation is param.empty:
            kind = (
                type(param.default).__name__ if param.default not in (param.empty, None) else "str"
            )
        else:
            kind = getattr(annotation, "__name__", None) or str(annotation)
        default = "required" if param.default is param.empty else f"default: {param.default!r}"
        print(f"  -s {param.name}={kind.upper()}  ({default})", file=out)
