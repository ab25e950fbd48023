"""``redun cancel ID``: cancel a run in the daemon (or, with --job, one running job)."""

from __future__ import annotations

import argparse
from typing import Any

from redun.client.cli_support import EXIT_OK, add_client_arguments, connect, report
from redun.client.errors import ClientError


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "cancel",
        help="cancel a run in the daemon",
        description="Cancel execution ID: its jobs stop and it is recorded as cancelled.",
    )
    parser.add_argument("id", metavar="ID", help="the execution id (or a job id with --job)")
    parser.add_argument("--job", action="store_true", help="ID is a running job: cancel only it")
    add_client_arguments(parser)
    parser.set_defaults(handler=cancel_command)


def cancel_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    try:
        with connect(args) as client:
            if args.job:
                count = client.cancel(job_id=args.id)
                print(f"cancelled job {args.id}")
            else:
                count = client.cancel(args.id)
                print(f"cancelled execution {args.id} ({count} job(s) stopped)")
    except ClientError as error:
        return report(error)
    return EXIT_OK
