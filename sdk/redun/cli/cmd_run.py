"""``redun run FILE TASK [--arg value ...]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

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
from redun.tags import DOC_KEY, default_execution_tags, parse_tag_key_value
from redun.task import get_task_registry
from redun.workflow.args import parse_task_args
from redun.workflow.loader import WorkflowLoadError, find_task, import_workflow

if TYPE_CHECKING:
    import inspect


def make_scheduler(args: argparse.Namespace) -> Any:
    """The scheduler of the config directory, built by its setup hook (``redun -s``)."""
    from redun.cli.setup import setup_scheduler

    db_uri = args.db or os.environ.get("REDUN_DB_URI")
    return setup_scheduler(args.config, getattr(args, "setup", None), db_uri=db_uri, load=False)


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
        "--context-file",
        metavar="JSON",
        help="a JSON object file: the run's context over [scheduler] context "
        "(--context values are merged over it)",
    )
    run.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an option of TASK (its call only), e.g. -o cache=false, "
        "-o executor=batch (repeatable; values read as --context values)",
    )
    run.add_argument(
        "--no-prov",
        action="store_true",
        help="do not record TASK's call or any call below it (nor take them from the "
        "cache); the execution itself is still recorded",
    )
    run.add_argument(
        "-i",
        "--input",
        metavar="PICKLE",
        help="a pickle of (args, kwargs) for TASK; task arguments given on the "
        "command line override or add to it",
    )
    run.add_argument(
        "--execution-id",
        metavar="UUID",
        help="the execution's id: a UUID not used before (recorded as 32 hex digits)",
    )
    run.add_argument(
        "-t",
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="tag the execution (repeatable; besides user, project and redun.version)",
    )
    run.add_argument(
        "-u", "--user", help="the execution's user tag (default: $REDUN_USER, else login)"
    )
    run.add_argument("-p", "--project", help="the execution's project tag (default: the namespace)")
    run.add_argument("--doc", metavar="TEXT", help="a documentation tag (doc=TEXT) for the run")
    run.add_argument(
        "--exclude-user",
        action="append",
        default=[],
        metavar="NAME",
        help="do not add the user_NAME tag (redun's aws and gcp user tags; none are "
        "added here, so this changes nothing)",
    )
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
        if getattr(args, "client", None) is None:
            for scheduler in schedulers:
                # The process ends next: free the job graph now, not in exit's collection.
                scheduler.release()


def _run_command(args: argparse.Namespace, task_argv: list[str], schedulers: list[Any]) -> int:
    from redun.scheduler import DryRunResult

    full_argv = getattr(args, "full_argv", [])
    client = getattr(args, "client", None)  # redun.cli.RedunClient: in this process

    try:
        module = import_workflow(args.file)
    except WorkflowLoadError as error:
        if client is not None:
            raise
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
    if client is not None:
        client.scheduler = scheduler
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
    positional: tuple = ()
    if args.input:
        # As in redun, the input file stands instead of --rerun's recorded arguments.
        bound = read_input(task, args.input)
        kwargs = parse_task_args(task, task_argv, given=bound.arguments)
        positional, kwargs = merge_arguments(bound, kwargs)
    else:
        kwargs = parse_task_args(task, task_argv, required=not recorded)
        kwargs = {**recorded, **kwargs}
    if args.option or args.no_prov:
        task = override_options(task, args.option, no_prov=args.no_prov)
    context = parse_context(args.context)
    if args.context_file:
        from redun.scheduler.context import merge_contexts

        context = merge_contexts(read_context_file(args.context_file), context)
    if args.script_trace:
        os.environ["REDUN_SCRIPT_TRACE"] = "1"
    try:
        tags = [parse_tag_key_value(item) for item in args.tag]
    except ValueError as error:
        raise UsageError(f"--tag: {error}") from None
    defaults = default_execution_tags(task, user=args.user, project=args.project)
    if args.exclude_user:
        excluded = {f"user_{name}" for name in args.exclude_user}
        defaults = [tag for tag in defaults if tag[0] not in excluded]
    if args.doc:
        defaults.append((DOC_KEY, args.doc))
    tags = defaults + tags
    tally = ProgressTally()
    display = ProgressDisplay(
        tally,
        enabled=None if not args.no_progress and client is None else False,
        jobs=scheduler.jobs,
    )
    if display.follows_jobs:
        scheduler.events.attach(tally)
    else:  # counted once at the end, from the jobs: nothing on every job's path
        scheduler.events.subscribe(tally, job_states=False)
    expr = task(*positional, **kwargs)
    # Open the database first: an unreachable one is a one-line error, not a traceback.
    scheduler.load()
    execution_id = new_execution_id(scheduler, args.execution_id) if args.execution_id else None
    if getattr(args, "log_level", None) in ("INFO", "DEBUG"):
        scheduler.events.subscribe(_log_execution(scheduler), job_states=False)
    try:
        with display:
            result = scheduler.run(
                expr,
                exec_argv=["redun", *full_argv],
                dryrun=args.dryrun,
                cache=not args.no_cache,
                context=context,
                tags=tags,
                execution_id=execution_id,
            )
    except DryRunResult as dry:
        print_dryrun(dry)
        return EXIT_OK
    except UsageError as error:
        if client is not None:
            raise
        print(f"redun: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BaseException as error:
        if client is not None:
            raise  # the caller's to handle, as redun's client raises it
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
    if client is not None:
        client._result = result
    return EXIT_OK


def read_input(task: Any, path: str) -> inspect.BoundArguments:
    """``--input``: a pickle of ``(args, kwargs)``, bound to the task's parameters."""
    import pickle

    try:
        with _open(path, "rb") as handle:
            loaded = pickle.load(handle)
    except OSError as error:
        raise UsageError(f"--input {path}: cannot read it ({error})") from None
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad input file
        raise UsageError(
            f"--input {path}: cannot unpickle it ({type(error).__name__}: {error})"
        ) from None
    if (
        not isinstance(loaded, (tuple, list))
        or len(loaded) != 2
        or not isinstance(loaded[0], (tuple, list))
        or not isinstance(loaded[1], dict)
    ):
        raise UsageError(f"--input {path}: expected a pickle of (args, kwargs), a tuple and a dict")
    try:
        return task.signature.bind_partial(*loaded[0], **loaded[1])  # type: ignore[no-any-return]
    except TypeError as error:
        raise UsageError(f"--input {path}: does not fit task {task.fullname}: {error}") from None


def merge_arguments(bound: inspect.BoundArguments, given: dict[str, Any]) -> tuple[tuple, dict]:
    """(args, kwargs) for the call: ``bound`` (from ``--input``) with the command line's
    ``--name value`` arguments replacing or adding to it."""
    import inspect

    signature = bound.signature
    arguments = {**bound.arguments, **given}
    ordered = {name: arguments[name] for name in signature.parameters if name in arguments}
    merged = inspect.BoundArguments(signature, ordered)  # type: ignore[arg-type]
    return merged.args, merged.kwargs


def parse_task_options(items: list[str]) -> dict[str, Any]:
    """``-o KEY=VALUE`` items as task options, values read as redun reads them."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--option takes KEY=VALUE, got {item!r}")
        options[key] = parse_context_value(raw, key)
    return options


def override_options(task: Any, items: list[str], *, no_prov: bool = False) -> Any:
    """``-o KEY=VALUE`` (and ``--no-prov``) applied to TASK's own call, as redun does."""
    options = parse_task_options(items)
    if no_prov:
        options["prov"] = False
    try:
        return task.options(**options)
    except (TypeError, ValueError) as error:
        if isinstance(error, UsageError):
            raise
        raise UsageError(f"--option: {error}") from None


def read_context_file(path: str) -> dict:
    """``--context-file``: a JSON object."""
    try:
        with _open(path, "r") as handle:
            value = json.load(handle)
    except OSError as error:
        raise UsageError(f"--context-file {path}: cannot read it ({error})") from None
    except ValueError as error:
        raise UsageError(f"--context-file {path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise UsageError(
            f"--context-file {path}: expected a JSON object, got {type(value).__name__}"
        )
    return value


def _open(path: str, mode: str) -> Any:
    """A local path, or a URL (``s3://``, ``gs://``, ``http://``) through :class:`File`."""
    if "://" in path:
        from redun.file import File

        return File(path).open(mode)
    return open(path, mode)


def new_execution_id(scheduler: Any, text: str) -> str:
    """``--execution-id``: the UUID as the store spells ids (32 hex digits), if unused.

    Raises:
        UsageError: not a UUID, or an execution of the store already has it.
    """
    import uuid

    try:
        execution_id = uuid.UUID(text.strip()).hex
    except ValueError:
        raise UsageError(f"--execution-id {text!r} is not a UUID") from None
    backend = scheduler.backend
    if hasattr(backend, "query"):
        from redun.backends.queries import StoreReader

        if StoreReader(backend).execution(execution_id) is not None:
            raise UsageError(
                f"--execution-id {text}: execution {execution_id} already exists; "
                "give a new UUID (e.g. from uuidgen)"
            )
    return execution_id


def _log_execution(scheduler: Any) -> Any:
    """``--log-level INFO``: the config directory, and the execution's start and end, logged
    as redun logs them."""
    import logging

    from redun.events import ExecutionFinished, ExecutionStarted

    logger = logging.getLogger("redun")
    logger.info("config dir: %s", scheduler.config.configdir)

    def log(event: Any) -> None:
        if isinstance(event, ExecutionStarted):
            logger.info("Start Execution %s:  %s", event.execution_id, " ".join(event.argv or []))
        elif isinstance(event, ExecutionFinished):
            logger.info("Execution %s %s", event.execution_id, event.status)

    return log


def _parameter_options(module: Any, args: argparse.Namespace) -> set[str]:
    """The task's ``--name`` options (they win over run's own); none known for --rerun."""
    if args.rerun:
        return set()
    try:
        task = find_task(module, args.task, args.file)
    except TaskNotFoundError:
        return set()  # reported below
    return option_names(task.signature.parameters)


def _print_explanations(scheduler: Any, jobs: list) -> None:
    from redun.explain import report_run

    print(report_run(scheduler.backend, jobs), file=sys.stderr)


def print_dryrun(dry: Any) -> None:
    """What a dry run found would run, and why (the scheduler's explanation, when the
    store could give one; else the reason each job has)."""
    print(f"[redun] dryrun: {len(dry.jobs)} job(s) would run:", file=sys.stderr)
    report = getattr(dry, "report", "")
    if report:
        _, _, explained = report.partition("\n")  # past report_run's own header
        print(explained, file=sys.stderr)
        return
    from redun.expression import format_arguments

    for job in dry.jobs:
        reason = job.reason or "no earlier call with this code and these arguments"
        call = f"{job.task.fullname}({format_arguments(job.call_args, job.kwargs, limit=40)})"
        print(f"  {call}: {reason}", file=sys.stderr)
