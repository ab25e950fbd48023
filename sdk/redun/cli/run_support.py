"""What ``redun run`` adds around running a task: help, results, tags, re-runs, pdb.

* ``redun run FILE help`` lists the file's tasks; ``redun run FILE TASK help``
  shows a task's arguments.
* The result is pretty-printed (``pprint``); a ``None`` result prints nothing.
* ``--rerun JOB`` runs a recorded job's task again with its recorded
  arguments, any given on the command line replacing them.
* ``--pdb`` opens the post-mortem debugger on the failing task's frame.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import IO, Any

from redun.errors import UsageError
from redun.task import Task, get_task_registry


def module_tasks(module: ModuleType) -> list[Task]:
    """The tasks defined in ``module`` (redun's own left out), by full name."""
    return sorted(
        (
            task
            for task in get_task_registry()
            if task.namespace != "redun"
            and getattr(task.func, "__module__", None) == module.__name__
        ),
        key=lambda task: task.fullname,
    )


def print_task_list(module: ModuleType, out: IO[str] | None = None) -> None:
    """``Tasks available:`` and each task with the first line of its docstring."""
    out = out or sys.stdout
    tasks = module_tasks(module)
    print("Tasks available:", file=out)
    width = max((len(task.fullname) for task in tasks), default=0)
    for task in tasks:
        doc = (task.func.__doc__ or "").strip().splitlines()
        summary = f"  {doc[0]}" if doc else ""
        print(f"  {task.fullname:<{width}}{summary}".rstrip(), file=out)
    if not tasks:
        print("  (none)", file=out)


def print_task_help(task: Task, out: IO[str] | None = None) -> None:
    """The task's arguments, as ``redun run FILE TASK --help`` would show them."""
    from redun.workflow.args import build_parser

    parser, _ = build_parser(task)
    (out or sys.stdout).write(parser.format_help())


_PLAIN = frozenset({int, float, bool, complex})


def print_result(result: Any, out: IO[str] | None = None) -> None:
    """Print ``result`` as redun does: pretty-printed, and nothing at all for None."""
    if result is None:
        return
    out = out or sys.stdout
    try:
        if type(result) in _PLAIN:
            text = repr(result)  # what pformat gives them, without importing pprint
        else:
            import pprint

            text = pprint.pformat(result)
    except Exception as error:  # the run is recorded: a bad __repr__ must not crash here
        text = f"<{type(result).__qualname__} object; its __repr__ raised {type(error).__name__}>"
    out.write(text + "\n")
    out.flush()


def recorded_arguments(backend: Any, job_prefix: str) -> tuple[str, dict[str, Any]]:
    """(task full name, recorded keyword arguments) of the job or execution ``job_prefix``.

    An execution stands for its root job. Arguments whose values were not
    stored (or cannot be loaded here) must be given again on the command line.
    """
    from redun.backends.queries import StoreReader

    reader = StoreReader(backend)
    matches = [
        (kind, full) for kind, full in reader.find_id(job_prefix) if kind in ("job", "execution")
    ]
    if not matches:
        raise UsageError(f"--rerun: no job or execution {job_prefix!r} in the store")
    if len(matches) > 1:
        listing = ", ".join(f"{kind} {full[:12]}" for kind, full in matches)
        raise UsageError(f"--rerun: {job_prefix!r} is ambiguous ({listing}); give more characters")
    kind, full = matches[0]
    if kind == "execution":
        execution = reader.execution(full)
        full = (execution.root_job_id if execution is not None else "") or ""
        if not full:
            raise UsageError(f"--rerun: execution {job_prefix!r} has no root job")
    job = reader.job(full)
    if job is None:
        raise UsageError(f"--rerun: job {job_prefix!r} is not in the store")
    arg_hashes = dict(job.arg_hashes or {})
    if not arg_hashes and job.call_hash:
        call = reader.call(job.call_hash)
        arg_hashes = dict(call.arguments) if call is not None else {}
    kwargs: dict[str, Any] = {}
    for name, value_hash in arg_hashes.items():
        if name.startswith("*"):
            continue  # *args/**kwargs entries: give them again
        try:
            kwargs[name] = reader.load_value(value_hash)
        except Exception:  # noqa: BLE001 - an unloadable value: the user gives it
            continue
    return job.task_name, kwargs


def post_mortem(error: BaseException) -> None:
    """Open pdb on the frame where ``error`` was raised (in the task's code)."""
    import pdb

    print(f"redun: {type(error).__name__}: {error}; starting the debugger", file=sys.stderr)
    pdb.post_mortem(error.__traceback__)
