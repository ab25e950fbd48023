"""``redun launch [--wait] [--executor NAME] [redun] run FILE TASK [--arg value ...]``.

redun launches a ``redun run`` command on a remote head node. Without
``--executor`` the daemon plays the head node: the run is submitted to it and
the command returns the execution id at once (``--wait`` follows it to the end),
the same as ``redun submit``. With ``--executor NAME``, as in redun, the command
itself runs as a script job on that executor (an AWS Batch or GCP Batch job, a
container), with the executor's code package: ``--wait`` waits for it and
prints its output; without, a detached launcher submits it and waits for it in
the background, and the command returns at once.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.errors import UsageError


def register(commands: Any) -> None:
    from redun.client.cli_support import add_client_arguments

    launch = commands.add_parser(
        "launch",
        help="submit a 'redun run' command to the daemon (--executor: run it as a job there)",
        usage="redun launch [--wait] [--executor NAME [-o KEY=VALUE]] [daemon options] "
        "[redun] run FILE TASK [--arg value ...]",
    )
    launch.add_argument("--wait", action="store_true", help="follow the run to its end")
    launch.add_argument(
        "--executor",
        metavar="NAME",
        help="run the command as a script job on [executors.NAME] instead of in the daemon",
    )
    launch.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --executor: an option of the script job (memory=4, image=...; repeatable)",
    )
    launch.add_argument(
        "--code-package",
        action="store_true",
        help="with --executor: ship the code package (the remote executors always do, "
        "unless their section sets code_package = false, which this refuses)",
    )
    add_client_arguments(launch)
    launch.add_argument("command", nargs=argparse.REMAINDER, help="the redun run command")
    launch.set_defaults(handler=launch_command)


def launch_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.main import main

    command = list(args.command) + list(task_argv)
    if command[:1] == ["redun"]:
        command = command[1:]
    if command[:1] != ["run"]:
        raise UsageError("redun launch takes a run command: redun launch [redun] run FILE TASK ...")
    if args.executor:
        return launch_on_executor(args, ["redun", *command])
    if args.option or args.code_package:
        raise UsageError("-o/--option and --code-package go with --executor NAME")
    submit = ["submit"]
    for flag in ("home", "address", "token", "tls_ca"):
        value = getattr(args, flag, None)
        if value:
            submit += [f"--{flag.replace('_', '-')}", value]
    run_args = command[1:]
    # `redun run` options the daemon understands; the others are refused by submit.
    passthrough = {"--no-cache", "--dryrun", "--dry-run"}
    options = [item for item in run_args if item in passthrough]
    rest = [item for item in run_args if item not in passthrough]
    submit += options + rest + (["--wait"] if args.wait else [])
    return main(submit)


def launch_on_executor(args: argparse.Namespace, command: list[str]) -> int:
    """Run ``command`` as a script job on executor ``args.executor``."""
    import shlex

    from redun.cli.cmd_run import make_scheduler, parse_task_options
    from redun.cli.main import EXIT_FAILED, EXIT_OK

    options = parse_task_options(args.option)
    scheduler = make_scheduler(args)
    executors = scheduler.config.get("executors") or {}
    section = executors.get(args.executor)
    if section is None:
        known = ", ".join(sorted(executors)) or "none"
        raise UsageError(
            f"--executor {args.executor}: no [executors.{args.executor}] (known: {known})"
        )
    if args.code_package and str(section.get("code_package", "true")).lower() in (
        "false",
        "0",
        "no",
    ):
        raise UsageError(
            f"executor {args.executor} has code packaging turned off (code_package = false)"
        )
    if not args.wait:
        return _detach(args)
    from redun.scripting import script_task

    line = shlex.join(command)
    print(f"[redun] launching on executor {args.executor}: {line}", file=sys.stderr)
    try:
        output = scheduler.run(
            script_task.options(executor=args.executor, **options)(line),
            exec_argv=["redun", *getattr(args, "full_argv", [])],
        )
    except Exception as error:  # the command failed there: its error, as a run's
        from redun.cli.main import print_error

        print_error(error)
        return EXIT_FAILED
    finally:
        scheduler.stop()
    text = output.decode(errors="replace") if isinstance(output, bytes) else str(output or "")
    sys.stdout.write(text)
    return EXIT_OK


def _detach(args: argparse.Namespace) -> int:
    """Without --wait: the same launch, with --wait, in a process of its own session
    whose output goes to a log file; returns at once."""
    import os
    import subprocess
    import tempfile

    from redun.cli.main import EXIT_OK

    argv = [item for item in args.full_argv if item != "--wait"]
    cut = argv.index("launch") + 1
    argv = [*argv[:cut], "--wait", *argv[cut:]]
    fd, log = tempfile.mkstemp(prefix="redun-launch-", suffix=".log")
    with os.fdopen(fd, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "redun", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    print(f"[redun] launched on executor {args.executor} (launcher pid {process.pid}; log {log})")
    return EXIT_OK
