"""``redun launch [--wait] [daemon options] [redun] run FILE TASK [--arg value ...]``.

redun launches a ``redun run`` command on a remote head node; here the daemon
plays the head node: the run is submitted to it and the command returns the
execution id at once (``--wait`` follows it to the end). The same as
``redun submit``, in redun's spelling.
"""

from __future__ import annotations

import argparse
from typing import Any

from redun.errors import UsageError


def register(commands: Any) -> None:
    from redun.client.cli_support import add_client_arguments

    launch = commands.add_parser(
        "launch",
        help="submit a 'redun run' command to the daemon and return",
        usage="redun launch [--wait] [daemon options] [redun] run FILE TASK [--arg value ...]",
    )
    launch.add_argument("--wait", action="store_true", help="follow the run to its end")
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
