"""``redun watch FILE TASK [--arg value ...] [--follow]``, ``redun watches``, ``redun unwatch ID``.

A watch keeps a task's results up to date: the daemon runs it, follows what the
run touched (the workflow's own modules, the files its tasks read or wrote),
and runs it again when one of them changes. ``cmd_watches`` and
``cmd_unwatch`` register the other two commands from here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from redun.cli.trailing import take_own_options
from redun.client.cli_support import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_client_arguments,
    add_target_arguments,
    connect,
    report,
    run_options,
)
from redun.client.errors import ClientError, NotFound


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "watch",
        help="re-run a task whenever what it used changes",
        description=(
            "Register a watch of TASK of FILE in the daemon and print its id. The daemon "
            "runs it now, then again whenever the workflow's own source files or the local "
            "files its tasks read or wrote change; the cache makes the unchanged part free. "
            "Task arguments are given as --name value, as for 'redun run'."
        ),
        usage="redun watch [options] FILE TASK [--arg value ...] [options]",
    )
    add_target_arguments(parser)
    parser.add_argument(
        "--follow", action="store_true", help="stay, and print the watch's events until Ctrl-C"
    )
    parser.add_argument("--json", action="store_true", help="with --follow: one JSON object a line")
    add_client_arguments(parser)
    parser.set_defaults(handler=watch_command, command_parser=parser)


def register_watches(commands: Any) -> None:
    parser = commands.add_parser(
        "watches",
        help="list the daemon's watches",
        description="List the watches: id, last run and its status, paths observed, what runs.",
    )
    parser.add_argument("--paths", action="store_true", help="also list each watch's paths")
    parser.add_argument("--json", action="store_true", help="one JSON object per watch")
    add_client_arguments(parser)
    parser.set_defaults(handler=watches_command)


def register_unwatch(commands: Any) -> None:
    parser = commands.add_parser(
        "unwatch",
        help="remove a watch (its run in flight is cancelled)",
        description="Remove a watch by its id (or a unique prefix of it).",
    )
    parser.add_argument("watch_id", metavar="ID", help="the watch id, or a unique prefix")
    add_client_arguments(parser)
    parser.set_defaults(handler=unwatch_command)


# -- watch -------------------------------------------------------------------------------
def watch_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    # watch's own options may follow the task's arguments ('--' ends them).
    task_argv = take_own_options(args, task_argv)
    follow, as_json = args.follow, args.json
    options = run_options(args)
    try:
        with connect(args) as client:
            info = client.watch(args.file, args.task, argv=task_argv, options=options)
            if not follow:
                print(info.id)
                return EXIT_OK
            print(
                f"redun: watching {args.file} {args.task} (watch {info.id}); Ctrl-C to stop "
                f"following ('redun unwatch {info.id[:8]}' removes it)",
                file=sys.stderr,
            )
            return _follow(client, info.id, as_json=as_json)
    except ClientError as error:
        return report(error)


def _follow(client: Any, watch_id: str, *, as_json: bool) -> int:
    from redun.cli.cmd_events import format_event

    try:
        for event in client.events(watch_id=watch_id, replay=True, exclude_logs=False):
            line = json.dumps(event) if as_json else _format(event, format_event)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        return EXIT_OK
    return EXIT_OK


def _format(event: dict[str, Any], format_event: Any) -> str:
    text = format_event(event)
    if event["type"] == "watch_triggered" and event.get("superseded_execution_id"):
        text += f" (superseding {event['superseded_execution_id'][:8]})"
    return text


# -- watches ---------------------------------------------------------------------------------
def watches_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.client.convert import status_name

    try:
        with connect(args) as client:
            watches = client.watches(include_paths=args.paths or args.json)
    except ClientError as error:
        return report(error)
    if args.json:
        for info in watches:
            print(json.dumps(_watch_dict(info, status_name)))
        return EXIT_OK
    if not watches:
        print("no watches (add one with 'redun watch FILE TASK')", file=sys.stderr)
        return EXIT_OK
    rows = [("ID", "STATUS", "LAST RUN", "TRIGGERED", "PATHS", "RUNS")]
    for info in watches:
        status = status_name(info.last_status) if info.last_execution_id else "-"
        triggered = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.last_trigger_unix_ns / 1e9))
            if info.last_trigger_unix_ns
            else "-"
        )
        rows.append(
            (
                info.id[:8],
                status,
                info.last_execution_id[:8] or "-",
                triggered,
                str(info.watched_path_count),
                _describe_spec(info.spec),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
        if args.paths and row is not rows[0]:
            info = watches[rows.index(row) - 1]
            for path in info.watched_paths:
                print(f"    {path}")
    return EXIT_OK


def _describe_spec(spec: Any) -> str:
    parts = [spec.workflow_path, spec.task]
    parts += [f"--{name} {value}" for name, value in spec.args.items()]
    parts += list(spec.argv)
    return " ".join(parts)


def _watch_dict(info: Any, status_name: Any) -> dict[str, Any]:
    return {
        "id": info.id,
        "workflow_path": info.spec.workflow_path,
        "task": info.spec.task,
        "args": dict(info.spec.args),
        "argv": list(info.spec.argv),
        "working_dir": info.spec.working_dir,
        "create_time": info.create_unix_ns / 1e9,
        "last_execution_id": info.last_execution_id,
        "last_status": status_name(info.last_status) if info.last_execution_id else None,
        "last_trigger_time": info.last_trigger_unix_ns / 1e9 or None,
        "watched_paths": list(info.watched_paths),
    }


# -- unwatch ------------------------------------------------------------------------------------
def unwatch_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    try:
        with connect(args) as client:
            watch_id = args.watch_id
            try:
                client.unwatch(watch_id)
            except NotFound:
                matches = [w.id for w in client.watches() if w.id.startswith(watch_id)]
                if len(matches) != 1:
                    what = "no watch" if not matches else f"{len(matches)} watches"
                    print(
                        f"redun: error: {what} match {watch_id!r} (see 'redun watches')",
                        file=sys.stderr,
                    )
                    return EXIT_USAGE if not matches else EXIT_FAILED
                watch_id = matches[0]
                client.unwatch(watch_id)
    except ClientError as error:
        return report(error)
    print(f"redun: removed watch {watch_id}", file=sys.stderr)
    return EXIT_OK
