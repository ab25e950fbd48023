"""``redun events [--json] [--execution ID]``: stream the daemon's events."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from redun.client.cli_support import EXIT_OK, add_client_arguments, connect, report
from redun.client.errors import ClientError


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "events",
        help="stream events from the daemon",
        description=(
            "Print the daemon's events as they happen. With --execution, replay that "
            "execution from its start and stop when it finishes."
        ),
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--execution", metavar="ID", default="", help="only this execution")
    replay = parser.add_mutually_exclusive_group()
    replay.add_argument(
        "--replay",
        dest="replay",
        action="store_true",
        default=None,
        help="first replay history (the default with --execution)",
    )
    replay.add_argument(
        "--no-replay", dest="replay", action="store_false", help="only events from now on"
    )
    parser.add_argument("--no-logs", action="store_true", help="leave out job output")
    add_client_arguments(parser)
    parser.set_defaults(handler=events_command)


def events_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    try:
        with connect(args) as client:
            for event in client.events(
                args.execution, replay=args.replay, exclude_logs=args.no_logs
            ):
                line = json.dumps(event) if args.json else format_event(event)
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
    except ClientError as error:
        return report(error)
    except BrokenPipeError:
        return EXIT_OK
    return EXIT_OK


def format_event(event: dict[str, Any]) -> str:
    """One readable line."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event["time"]))
    stamp += f".{int(event['time'] * 1000) % 1000:03d}"
    head = f"{stamp} {event['execution_id'][:8]} {event['type']:<18}"
    kind = event["type"]
    if kind == "job_state":
        text = f"{event['state']:<9} {event['task']} ({event['args_summary']})"
        if event.get("error"):
            text += f": {event['error']}"
        elif event.get("reason") and event["state"] in ("cached", "done"):
            text += f": {event['reason']}"
        return f"{head} {text}"
    if kind == "log":
        who = event["job_id"][:8] or "runner"
        return f"{head} [{who}] {event['text'].rstrip()}"
    if kind == "execution_started":
        return f"{head} {event['workflow_path']} {event['task']}"
    if kind == "execution_finished":
        text = event["status"]
        if event.get("error"):
            text += f": {event['error']}"
        elif "result" in event:
            text += f": {event['result']}"
        return f"{head} {text}"
    if kind == "watch_triggered":
        return f"{head} watch {event['watch_id'][:8]}: {', '.join(event['changed_paths'])}"
    return f"{head} {event}"
