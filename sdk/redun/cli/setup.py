"""The scheduler ``redun run`` uses, and the ``setup_scheduler`` hook that builds it.

``[scheduler] setup_scheduler = FILE_OR_MODULE::FUNCTION`` in redun.ini names a
function ``setup(config, **options) -> Scheduler``; ``redun -s KEY=VALUE``
passes options to it, converted by the function's annotations::

    # .redun/redun.ini
    [scheduler]
    setup_scheduler = workflow_setup.py::setup

    # workflow_setup.py
    def setup(config, profile: str = "dev", workers: int = 4):
        config["executors.default"] = {"type": "local", "max_workers": str(workers)}
        return Scheduler(config=config)
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

from redun.config import Config, find_config_dir, load_config
from redun.errors import UsageError


def parse_setup_args(setup_func: Callable, setup_args: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` items as keyword arguments of ``setup_func`` (after its config)."""
    if not setup_args:
        return {}
    from redun.workflow.args import converter_for

    params = list(inspect.signature(setup_func).parameters.values())[1:]
    by_name = {param.name: param for param in params}
    by_name.update({param.name.replace("_", "-"): param for param in params})
    kwargs: dict[str, Any] = {}
    for item in setup_args:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--setup takes KEY=VALUE, got {item!r}")
        param = by_name.get(key)
        if param is None:
            known = ", ".join(p.name for p in params) or "none"
            raise UsageError(f"--setup {key}: the setup function takes no such option ({known})")
        annotation = param.annotation
        if annotation is inspect.Parameter.empty:
            annotation = type(param.default) if param.default not in (param.empty, None) else str
        convert, _ = converter_for(annotation)
        try:
            kwargs[param.name] = convert(raw)
        except (ValueError, TypeError, KeyError) as error:
            raise UsageError(f"--setup {key}: bad value {raw!r} ({error})") from None
    return kwargs


def get_user_setup_func(config: Config) -> Callable[..., Any]:
    """The ``[scheduler] setup_scheduler`` function, else one making a plain Scheduler."""
    path = (config.get("scheduler") or {}).get("setup_scheduler")
    if not path:
        from redun.scheduler import Scheduler

        return lambda config: Scheduler(config=config)
    source, sep, name = path.rpartition("::")
    if not sep or not source or not name:
        raise UsageError(f"[scheduler] setup_scheduler = {path!r}: write FILE_OR_MODULE::FUNCTION")
    from redun.workflow.loader import import_workflow

    if source.endswith(".py") and not os.path.isabs(source):
        # A file path is relative to the project (the config directory's parent).
        candidate = os.path.join(os.path.dirname(config.configdir), source)
        source = candidate if os.path.exists(candidate) else source
    module = import_workflow(source)
    func = getattr(module, name, None)
    if not callable(func):
        raise UsageError(f"[scheduler] setup_scheduler: {source} has no function {name!r}")
    return func  # type: ignore[no-any-return]


def setup_scheduler(
    config_dir: str | None = None,
    setup_args: list[str] | None = None,
    repo: str = "default",
    migrate: bool | None = None,
    migrate_if_local: bool = False,
    *,
    db_uri: str | None = None,
    load: bool = True,
) -> Any:
    """The scheduler of a config directory, built by its setup hook if it has one,
    with its database open (created if new), as redun's ``setup_scheduler``.

    Args:
        config_dir: the config directory (default: as ``redun run`` finds it).
        setup_args: ``KEY=VALUE`` options for the hook (``redun -s``).
        repo: use the config directory of ``[repos.NAME]`` instead.
        migrate: migrate an older schema (True) or refuse it (False); None follows
            ``[backend] automigrate``.
        migrate_if_local: migrate when the database is a local SQLite file.
        db_uri: a database URL overriding ``[backend] db_uri``.
        load: open the database now (``redun run`` opens it later itself).
    """
    config_dir = find_config_dir(config_dir)
    if repo != "default":
        from redun.cli.repos import repo_config_dir

        config_dir = repo_config_dir(config_dir, repo)
    # Called once the workflow is imported: it may register executor types of its own.
    config = load_config(config_dir, check_types=True)
    if db_uri:
        section = dict(config.get("backend") or {})
        section["db_uri"] = db_uri
        config["backend"] = section
    setup_func = get_user_setup_func(config)
    kwargs = parse_setup_args(setup_func, setup_args)
    if setup_args and not kwargs:
        raise UsageError("--setup given, but no [scheduler] setup_scheduler hook is configured")
    scheduler = setup_func(config, **kwargs)
    if load:
        if migrate is None and migrate_if_local:
            uri = str((config.get("backend") or {}).get("db_uri") or "sqlite:")
            migrate = True if uri.startswith("sqlite:") else None
        scheduler.load(migrate=migrate)
    return scheduler
