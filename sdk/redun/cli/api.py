"""What ``redun.cli`` offers Python code, under insitro/redun's names.

:class:`RedunClient` runs ``redun`` commands in this process
(``RedunClient().execute(["redun", "run", "flow.py", "main", "--x", "3"])``
returns the run's result); the helpers find the config directory, check a
version spec and import a workflow script as ``redun run`` does.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from types import ModuleType
from typing import IO, Any

__all__ = [
    "RedunClient",
    "check_version",
    "find_config_dir",
    "get_config_dir",
    "import_script",
    "parse_func_path",
]

REDUN_CONFIG_ENV = "REDUN_CONFIG"
REDUN_CONFIG_DIR = ".redun"


class RedunClient:
    """Runs ``redun`` commands inside this process.

    ``execute(argv)`` takes the whole command line, program name first (as
    ``sys.argv``). ``redun run`` returns the result of the task and leaves the
    scheduler it used on :attr:`scheduler`; a task's error, a bad argument or a
    workflow that does not load is raised, not printed. Other commands return
    their exit code. What a command prints goes to :attr:`stdout` and
    :attr:`stderr` (``sys.stdout`` and ``sys.stderr`` unless given).
    """

    def __init__(self, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> None:
        self.scheduler: Any = None
        self.repo = "default"
        self.stdout: IO[str] = stdout if stdout is not None else sys.stdout
        self.stderr: IO[str] = stderr if stderr is not None else sys.stderr

    def execute(self, argv: list[str] | None = None) -> Any:
        """Run ``argv`` (``["redun", "run", ...]``; default ``sys.argv``)."""
        from redun.cli.main import execute_embedded

        argv = list(sys.argv if argv is None else argv)
        with contextlib.ExitStack() as streams:
            if self.stdout is not sys.stdout:
                streams.enter_context(contextlib.redirect_stdout(self.stdout))
            if self.stderr is not sys.stderr:
                streams.enter_context(contextlib.redirect_stderr(self.stderr))
            return execute_embedded(argv[1:], self)

    def get_scheduler(self, args: Any = None) -> Any:
        """The scheduler of the last ``redun run``, else one set up from the config."""
        if self.scheduler is None:
            from redun.cli.setup import setup_scheduler

            self.scheduler = setup_scheduler(getattr(args, "config", None))
        return self.scheduler

    def get_session(self, args: Any = None) -> Any:
        """A session on the store (see ``scheduler.backend.session``)."""
        return self.get_scheduler(args).backend.session


def check_version(version: str, version_spec: str) -> bool:
    """Whether ``version`` meets ``version_spec`` (``>=0.8,<1.0``; no operator is ``==``).

    Raises:
        ValueError: either is not a version (spec).
    """
    from redun.cli.global_options import version_matches
    from redun.errors import UsageError

    try:
        return version_matches(version, version_spec)
    except UsageError as error:
        raise ValueError(str(error)) from None


def find_config_dir(cwd: str | None = None) -> str | None:
    """The nearest ``.redun`` directory from ``cwd`` (default: here) upwards, or None."""
    from redun.config import nearest_config_dir

    return nearest_config_dir(cwd or os.getcwd())


def get_config_dir(config_dir: str | None = None) -> str:
    """The config directory ``redun`` uses: ``config_dir`` if given, else
    ``$REDUN_CONFIG``, else the nearest ``.redun`` upwards, else ``.redun``."""
    return config_dir or os.environ.get(REDUN_CONFIG_ENV) or find_config_dir() or REDUN_CONFIG_DIR


def parse_func_path(path: str) -> tuple[str, str]:
    """``"file_or_module::function"`` as ``(file_or_module, function)``.

    Raises:
        ValueError: ``path`` has no ``::``.
    """
    found = re.fullmatch(r"(.+)::(.+)", path)
    if found is None:
        raise ValueError(f"Invalid function specification: '{path}' (write file_or_module::name)")
    return found.group(1), found.group(2)


def import_script(filename_or_module: str, add_cwd: bool = True) -> ModuleType:
    """Import a workflow as ``redun run`` does: a file path (``flow.py``) or a module
    name (``pkg.flow``); the current directory is importable from (``add_cwd``)."""
    from redun.workflow.loader import import_workflow

    if add_cwd and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    return import_workflow(filename_or_module)
