"""``redun run FILE TASK [--arg value ...]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from redun.cli.main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_error
from redun.cli.progress import ProgressDisplay, ProgressTally
from redun.cli.trailing import option_names, take_own_options
from redun.config import find_config_dir, load_config
from redun.errors import UsageError
from redun.workflow.args import parse_task_args
from redun.workflow.loader import WorkflowLoadError, find_task, import_workflow


def make_scheduler(args: argparse.Namespace) -> Any:
    from redun.scheduler import Scheduler

    # After the workflow's import: it may register executor types of its own.
    config = load_config(find_config_dir(args.config), check_types=True)
    db_uri = args.db or os.environ.get("REDUN_DB_URI")
    if db_uri:
        section = dict(config.get("backend") or {})
        section["db_uri"] = db_uri
        config["backend"] = section
    return Scheduler(config=config)


def parse_context(items: list[str]) -> dict:
    context: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--context takes KEY=VALUE, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        target = context
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return context


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
        "--traceback",
        action="store_true",
        help="on failure, print the whole traceback (redun's own frames too)",
    )
    run.set_defaults(handler=run_command, command_parser=run)


def run_command(args: argparse.Namespace, task_argv: list[str]) -> int:
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
    task = find_task(module, args.task, args.file)
    task_argv = take_own_options(args, task_argv, keep=option_names(task.signature.parameters))
    kwargs = parse_task_args(task, task_argv)
    context = parse_context(args.context)
    scheduler = make_scheduler(args)
    tally = ProgressTally()
    scheduler.events.subscribe(tally)
    display = ProgressDisplay(tally, enabled=None if not args.no_progress else False)
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
        if args.explain:
            _print_explanations(scheduler, scheduler.jobs())
        return EXIT_FAILED
    finally:
        scheduler.stop()
    if args.explain:
        _print_explanations(scheduler, scheduler.jobs())
    if args.dryrun:
        print("[redun] dryrun: every job is cached; nothing would run", file=sys.stderr)
    sys.stdout.write(safe_repr(result) + "\n")
    sys.stdout.flush()
    return EXIT_OK


def safe_repr(value: Any) -> str:
    """``repr(value)``, or a stand-in when the value's ``__repr__`` raises."""
    try:
        return repr(value)
    except Exception as error:
        return f"<{type(value).__qualname__} object; its __repr__ raised {type(error).__name__}>"


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
