"""What the ``redun`` commands that talk to the daemon share (submit, events, cancel)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.client.errors import ClientError, InvalidArgument, NotFound

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """``--home``, ``--address``, ``--token``, ``--tls-ca``."""
    group = parser.add_argument_group("daemon")
    group.add_argument(
        "--home", metavar="DIR", help="the daemon's redun home (default: $REDUN_HOME, else .redun)"
    )
    group.add_argument(
        "--address", metavar="ADDR", help="the daemon's address instead (unix:PATH or HOST:PORT)"
    )
    group.add_argument(
        "--token", metavar="TOKEN", help="the daemon's TCP token (default: $REDUN_DAEMON_TOKEN)"
    )
    group.add_argument("--tls-ca", metavar="FILE", help="CA certificate for a TLS daemon")


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """FILE, TASK, ``--option KEY=VALUE`` and ``--context KEY=VALUE``: what to run (submit,
    watch)."""
    parser.add_argument("file", metavar="FILE", help="workflow file (flow.py) or module (pkg.flow)")
    parser.add_argument("task", metavar="TASK", help="task name (or namespace.name)")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="scheduler option: executor=NAME, max_workers=N, context=JSON (repeatable)",
    )
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a context value for get_context(), as for 'redun run' (repeatable; dotted "
        "keys nest; merged over --option context=JSON)",
    )
    parser.add_argument(
        "--context-file",
        metavar="JSON",
        help="a JSON object file: the run's base context, as for 'redun run' "
        "(--option context=JSON and --context are merged over it)",
    )


def run_options(args: argparse.Namespace) -> dict[str, str]:
    """The run's scheduler options: ``--option`` items, with the context of
    ``--context-file``, ``--option context=JSON`` and ``--context`` (each merged over
    the one before) as ``context``."""
    options = parse_options(args.option)
    context_file = getattr(args, "context_file", None)
    if args.context or context_file:
        import json

        from redun.cli.cmd_run import parse_context, read_context_file
        from redun.errors import UsageError
        from redun.scheduler.context import merge_contexts

        base: Any = read_context_file(context_file) if context_file else {}
        if options.get("context"):
            try:
                given = json.loads(options["context"])
            except ValueError as error:
                raise UsageError(f"--option context= takes a JSON object ({error})") from None
            if not isinstance(given, dict):
                raise UsageError("--option context= takes a JSON object")
            base = merge_contexts(base, given)
        options["context"] = json.dumps(merge_contexts(base, parse_context(args.context)))
    return options


def parse_options(items: list[str]) -> dict[str, str]:
    """``--option KEY=VALUE`` items as a dict (UsageError on a malformed one)."""
    from redun.errors import UsageError

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--option takes KEY=VALUE, got {item!r}")
        options[key] = value
    return options


def connect(args: argparse.Namespace) -> Any:
    """A :class:`redun.client.Client` for the command's options."""
    from redun.client import Client

    return Client(
        home=args.home or None,
        address=args.address or None,
        token=args.token or None,
        tls_ca=args.tls_ca or None,
    )


def report(error: ClientError) -> int:
    """Print a client error; return the exit code (2 for what the user got wrong)."""
    print(f"redun: error: {error}", file=sys.stderr)
    return EXIT_USAGE if isinstance(error, (NotFound, InvalidArgument)) else EXIT_FAILED
