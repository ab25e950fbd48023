"""Load a workflow file and find a task in it (used by `redun run` and the daemon)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

from redun.errors import TaskNotFoundError, UsageError
from redun.task import Task, get_task_registry
from redun.workflow.freshness import FreshSourceLoader, watch_directory

# Directories of the workflow files this process loaded (put on sys.path for them).
_WORKFLOW_DIRS: set[str] = set()


class WorkflowLoadError(Exception):
    """The workflow's own code failed to import (syntax error, import error...)."""


def import_workflow(path_or_module: str) -> ModuleType:
    """Import a workflow by file path (``flow.py``) or module name (``pkg.flow``)."""
    if path_or_module.endswith(".py") or os.path.sep in path_or_module:
        path = os.path.abspath(path_or_module)
        if not os.path.exists(path):
            raise UsageError(f"workflow file not found: {path_or_module}")
        directory = os.path.dirname(path)
        name = os.path.splitext(os.path.basename(path))[0]
        existing = sys.modules.get(name)
        if (
            existing is not None
            and os.path.abspath(getattr(existing, "__file__", "") or "") == path
        ):
            return existing
        _refuse_shadowing(name, path_or_module, existing)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        _WORKFLOW_DIRS.add(directory)
        # Its own modules from the files as they are now, never from stale bytecode.
        watch_directory(directory)
        spec = importlib.util.spec_from_file_location(
            name, path, loader=FreshSourceLoader(name, path)
        )
        if spec is None or spec.loader is None:
            raise UsageError(f"cannot load {path_or_module} as Python")
        module = importlib.util.module_from_spec(spec)
        module.__redun_workflow__ = True  # type: ignore[attr-defined]
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as error:
            sys.modules.pop(name, None)
            raise WorkflowLoadError(str(error)) from error
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    watch_directory(os.getcwd())
    try:
        return importlib.import_module(path_or_module)
    except ModuleNotFoundError as error:
        if error.name == path_or_module:
            raise UsageError(f"workflow not found: no file or module {path_or_module!r}") from None
        raise WorkflowLoadError(str(error)) from error
    except BaseException as error:
        raise WorkflowLoadError(str(error)) from error


def _refuse_shadowing(name: str, given: str, existing: ModuleType | None) -> None:
    """A workflow named like a module (``types.py``, ``json.py``, ``redun.py``) would replace
    it for everything imported after it, with baffling errors: say so instead."""
    if existing is not None:
        if getattr(existing, "__redun_workflow__", False):
            return  # another workflow file of the same name, loaded before: replace it
        where = getattr(existing, "__file__", None) or "built in"
        kind = f"the module {name!r} ({where})"
    elif name in sys.stdlib_module_names:
        kind = f"the standard library module {name!r}"
    else:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or (spec.origin and os.path.abspath(spec.origin) == os.path.abspath(given)):
            return
        if spec.origin and os.path.dirname(os.path.abspath(spec.origin)) in _WORKFLOW_DIRS:
            return  # another workflow's file of the same name, from an earlier run here
        kind = f"the installed module {name!r} ({spec.origin or 'a package'})"
    raise UsageError(
        f"workflow file {given} has the name of {kind}, which it would shadow; "
        f"rename it (for example to {name}_flow.py)"
    )


def _defined_in(task: Task, module: ModuleType) -> bool:
    """Whether ``task``'s function is ``module``'s: by its globals when it has them (an
    earlier file of the same module name, loaded in this process, left its tasks
    registered under the same ``__module__``), else by its module's name."""
    func_globals = getattr(task.func, "__globals__", None)
    if func_globals is not None:
        return func_globals is vars(module)
    return getattr(task.func, "__module__", None) == module.__name__


def find_task(module: ModuleType, task_name: str, source: str) -> Task:
    """The task ``task_name`` (full name, or short name within ``module``)."""
    registry = get_task_registry()
    in_module = [task for task in registry if _defined_in(task, module)]
    # The workflow's own task first: a task of another module (or of an earlier
    # workflow in this process) whose full name is this short name does not hide it.
    for task in in_module:
        if task.fullname == task_name:
            return task
    matches = [task for task in in_module if task.name == task_name]
    if len(matches) == 1:
        return matches[0]
    found = registry.get(task_name)
    if found is not None:
        return found
    names = [task.name for task in in_module] + [task.fullname for task in in_module]
    import difflib

    close = difflib.get_close_matches(task_name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    available = ", ".join(sorted({task.name for task in in_module})) or "none"
    raise TaskNotFoundError(
        f"task {task_name!r} not found in {source}{hint} (tasks there: {available})"
    )
