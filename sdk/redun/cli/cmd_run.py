"""``redun run FILE TASK [--arg value ...]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from redun.cli.main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_error
from redun.cli.progress import ProgressDisplay, ProgressTally
from redun.cli.run_support import (
    post_mortem,
    print_result,
    print_task_help,
    print_task_list,
    recorded_arguments,
)
from redun.cli.trailing import option_names, take_own_options
from redun.errors import TaskNotFoundError, UsageError
from redun.tags import default_execution_tags, parse_tag_key_value
from redun.task import get_task_registry
from redun.workflow.args import parse_task_args
from redun.workflow.loader import WorkflowLoadError, find_task, import_workflow


def make_scheduler(args: argparse.Namespace) -> Any:
    """The scheduler of the config directory, built by its setup hook (``redun -s``)."""
    from redun.cli.setup import setup_scheduler

    db_uri = args.db or os.environ.get("REDUN_DB_URI")
    return setup_scheduler(args.config, getattr(args, "setup", None), db_uri=db_uri)


def parse_context(items: list[str]) -> dict:
    """``--context KEY=VALUE`` options as a nested dict, values read as the original does.

    Dotted keys nest (``a.b=10`` is ``{"a": {"b": 10}}``). A value is JSON when it
    starts with ``[``, ``{`` or ``"``; else an int, a float, ``true``/``false``/``null``,
    or the text itself; an empty value is None.
    """
    from redun.scheduler.context import merge_contexts

    context: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--context takes KEY=VALUE, got {item!r}")
        update: dict = {}
        target = update
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = parse_context_value(raw, key)
        context = merge_contexts(context, update)
    return context


_LITERALS = {"true": True, "false": False, "null": None}


def parse_context_value(raw: str, key: str = "") -> Any:
    """One ``--context`` value (see :func:`parse_context`)."""
    if not raw:
        return None
    if raw[0] in '[{"':
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            raise UsageError(f"--context {key}: {raw!r} is not valid JSON ({error})") from None
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return _LITERALS.get(raw, raw)


def register(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run a task of a workflow file",
        description="Run TASK from FILE; task arguments are given as --name value.",
        usage="redun run [options] FILE TASK [--arg value ...] [options]",
    )
    run.add_argument("file", metavar="FILE", help="workflow file (flow.py) or module (pkg.flow)")
    run.add_argument("task", metavar="TASK", help="task name (or namespace.name)")
    run.add_argument("--no-cache", action="store_true", help="re-run every job")
    run.add_argument(
        "--dryrun",
        "--dry-run",
        action="store_true",
        help="show which jobs would run, and why, without running them",
    )
    run.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a context value for get_context() (repeatable; dotted keys nest)",
    )
    run.add_argument(
        "--no-progress", action="store_true", help="do not draw the live progress table"
    )
    run.add_argument(
        "--explain",
        action="store_true",
        help="after the run, say why jobs ran (which argument, file or code changed)",
    )
    run.add_argument(
        "-t",
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="tag the execution (repeatable; besides user, project and redun.version)",
    )
    run.add_argument("--user", help="the execution's user tag (default: $REDUN_USER, else login)")
    run.add_argument("--project", help="the execution's project tag (default: the namespace)")
    run.add_argument(
        "--pdb", action="store_true", help="open the debugger where a failing task raised"
    )
    run.add_argument(
        "--script-trace",
        action="store_true",
        help="show script tasks' shell trace (set -x lines) live; it is always in the job log",
    )
    run.add_argument(
        "--rerun",
        action="store_true",
        help="TASK is a recorded job or execution id: run its task again with its "
        "recorded arguments (those given replace them)",
    )
    run.add_argument(
        "--traceback",
        action="store_true",
        help="on failure, print the whole traceback (redun's own frames too)",
    )
    run.set_defaults(handler=run_command, command_parser=run)


def run_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    schedulers: list[Any] = []
    try:
        return _run_command(args, task_argv, schedulers)
    finally:
        for scheduler in schedulers:
            # The process ends next: free the job graph now, not in exit's garbage collection.
            scheduler.release()


def _run_command(args: argparse.Namespace, task_argv: list[str], schedulers: list[Any]) -> int:
    from redun.scheduler import DryRunResult

    full_argv = getattr(args, "full_argv", [])

    try:
        module = import_workflow(args.file)
    except WorkflowLoadError as error:
        # Refused before anything runs, as 'redun submit' refuses it: exit 2.
        cause = error.__cause__ or error
        print(f"redun: error: cannot load workflow {args.file}:", file=sys.stderr)
        print_error(cause, full=args.traceback)
        return EXIT_USAGE
    if args.task == "help" and "help" not in get_task_registry():
        print_task_list(module)
        return EXIT_OK
    task_argv = take_own_options(args, task_argv, keep=_parameter_options(module, args))
    scheduler = make_scheduler(args)
    schedulers.append(scheduler)
    recorded: dict[str, Any] = {}
    if args.rerun:
        scheduler.load()
        task_name, recorded = recorded_arguments(scheduler.backend, args.task)
        task = find_task(module, task_name, args.file)
    else:
        task = find_task(module, args.task, args.file)
    if task_argv == ["help"]:
        print_task_help(task)
        return EXIT_OK
    kwargs = parse_task_args(task, task_argv, required=not recorded)
    kwargs = {**recorded, **kwargs}
    context = parse_context(args.context)
    if args.script_trace:
        os.environ["REDUN_SCRIPT_TRACE"] = "1"
    try:
        tags = [parse_tag_key_value(item) for item in args.tag]
    except ValueError as error:
        raise UsageError(f"--tag: {error}") from None
    tags = default_execution_tags(task, user=args.user, project=args.project) + tags
    tally = ProgressTally()
    display = ProgressDisplay(
        tally, enabled=None if not args.no_progress else False, jobs=scheduler.jobs
    )
    if display.follows_jobs:
        scheduler.events.attach(tally)
    else:  # counted once at the end, from the jobs: nothing on every job's path
        scheduler.events.subscribe(tally, job_states=False)
    expr = task(**kwargs)
    # Open the database first: an unreachable one is a one-line error, not a traceback.
    scheduler.load()
    try:
        with display:
            result = scheduler.run(
                expr,
                exec_argv=["redun", *full_argv],
                dryrun=args.dryrun,
                cache=not args.no_cache,
                context=context,
                tags=tags,
            )
    except DryRunResult as dry:
        print_dryrun(dry)
        if args.explain:
            _print_explanations(scheduler, dry.jobs, dryrun=True)
        return EXIT_OK
    except UsageError as error:
        print(f"redun: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BaseException as error:
        # A task's SystemExit or KeyboardInterrupt is that task failing (it carries
        # its job); only Ctrl-C of this process itself is an interruption.
        if not isinstance(error, Exception) and getattr(error, "__redun_job__", None) is None:
            raise
        print_error(error, full=args.traceback)
        if args.pdb:
            post_mortem(error)
        if args.explain:
            _print_explanations(scheduler, scheduler.jobs())
        return EXIT_FAILED
    finally:
        scheduler.stop()
    if args.explain:
        _print_explanations(scheduler, scheduler.jobs())
    if args.dryrun:
        print("[redun] dryrun: every job is cached; nothing would run", file=sys.stderr)
    print_result(result)
    return EXIT_OK


def _parameter_options(module: Any, args: argparse.Namespace) -> set[str]:
    """The task's ``--name`` options (they win over run's own); none known for --rerun."""
    if args.rerun:
        return set()
    try:
        task = find_task(module, args.task, args.file)
    except TaskNotFoundError:
        return set()  # reported below
    return option_names(task.signature.parameters)


def _print_explanations(scheduler: Any, jobs: list, dryrun: bool = False) -> None:
    from redun.explain import report_run

    print(report_run(scheduler.backend, jobs, dryrun=dryrun), file=sys.stderr)


def print_dryrun(dry: Any) -> None:
    print(f"[redun] dryrun: {len(dry.jobs)} job(s) would run:", file=sys.stderr)
    from redun.expression import format_arguments

    for job in dry.jobs:
        reason = job.reason or "no earlier call with this code and these arguments"
        call = f"{job.task.fullname}({format_arguments(job.args, job.kwargs, limit=40)})"
        print(f"  {call}: {reason}", file=sys.stderr)
