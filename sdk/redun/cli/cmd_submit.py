"""``redun submit FILE TASK [--arg value ...] [--wait]``: run a workflow in the daemon."""

from __future__ import annotations

import argparse
import pickle
import sys
from typing import Any

from redun.cli.trailing import take_own_options
from redun.client.cli_support import (
    EXIT_FAILED,
    EXIT_OK,
    add_client_arguments,
    add_target_arguments,
    connect,
    report,
    run_options,
)
from redun.client.errors import ClientError

EXIT_INTERRUPTED = 130


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "submit",
        help="run a task of a workflow file in the daemon",
        description=(
            "Submit TASK of FILE to the daemon (see 'redund start'); prints the execution id. "
            "Task arguments are given as --name value, as for 'redun run'."
        ),
        usage="redun submit [options] FILE TASK [--arg value ...] [options]",
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--wait",
        action="store_true",
        help="follow the run, print its result's repr last; exit 1 if it fails",
    )
    parser.add_argument("--no-cache", action="store_true", help="re-run every job")
    parser.add_argument(
        "--dryrun", "--dry-run", action="store_true", help="only report what would run"
    )
    add_client_arguments(parser)
    parser.set_defaults(handler=submit_command, command_parser=parser)


def submit_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    # submit's own options may follow the task's arguments ('--' ends them).
    task_argv = take_own_options(args, task_argv)
    wait = args.wait
    options = run_options(args)
    try:
        with connect(args) as client:
            handle = client.submit(
                args.file,
                args.task,
                argv=task_argv,
                options=options,
                no_cache=args.no_cache,
                dryrun=args.dryrun,
            )
            if not wait:
                print(handle.id)
                return EXIT_OK
            print(f"redun: submitted execution {handle.id}", file=sys.stderr)
            try:
                return follow(client, handle.id)
            except KeyboardInterrupt:
                print(
                    f"redun: stopped waiting; execution {handle.id} goes on in the daemon "
                    f"('redun cancel {handle.id}' stops it, "
                    f"'redun events --execution {handle.id}' follows it)",
                    file=sys.stderr,
                )
                return EXIT_INTERRUPTED
    except ClientError as error:
        return report(error)


def follow(client: Any, execution_id: str) -> int:
    """Wait for the run (drawing progress on a terminal); print its result; exit code."""
    if sys.stderr.isatty():
        _draw_progress(client, execution_id)
    response = client.get_result(execution_id, wait=-1.0, include_pickle=True)
    from redun.client.convert import status_name

    status = status_name(response.status)
    if status == "done":
        text = response.result.repr
        if response.pickled:
            try:
                text = repr(pickle.loads(response.pickled))
            except Exception:
                pass  # the result's class is not importable here: show the daemon's repr
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return EXIT_OK
    error = response.error
    if error.traceback:
        print(error.traceback.rstrip(), file=sys.stderr)
    message = f"{error.type}: {error.message}" if error.type else error.message
    print(f"redun: execution {execution_id} {status}: {message}", file=sys.stderr)
    return EXIT_FAILED


def _draw_progress(client: Any, execution_id: str) -> None:
    from redun.cli.progress import ProgressDisplay, ProgressTally
    from redun.events import ExecutionFinished, JobStateChanged

    tally = ProgressTally()
    with ProgressDisplay(tally, enabled=None):
        for event in client.events(execution_id, replay=True, exclude_logs=True):
            if event["type"] == "job_state":
                tally(
                    JobStateChanged(
                        execution_id,
                        job_id=event["job_id"],
                        task=event["task"],
                        state=event["state"],
                    )
                )
            elif event["type"] == "execution_finished":
                tally(ExecutionFinished(execution_id, status=event["status"]))
