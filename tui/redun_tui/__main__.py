"""``redun-tui [--home DIR] [--address ADDR] [--token-file F]``: the terminal UI.

Attaches to the daemon of the redun home (``--home``, else ``$REDUN_HOME``,
else the nearest ``.redun`` up from here, as clients find it) or at
``--address``. With no daemon, it says how to start one and offers to browse
the home's database read-only (``--read-only`` goes straight there).
"""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redun-tui",
        description="The terminal UI of redun: live executions, jobs, logs and lineage.",
    )
    parser.add_argument("--home", help="the redun home (default: $REDUN_HOME, else ./.redun)")
    parser.add_argument(
        "--address", help="the daemon's gRPC address instead (unix:/path or HOST:PORT)"
    )
    parser.add_argument(
        "--token-file", help="file holding the daemon's TCP token (default: the home's)"
    )
    parser.add_argument(
        "--read-only", action="store_true", help="browse the database, without the daemon"
    )
    return parser


def _database(home: str) -> str | None:
    """The home's database, if there is one to browse."""
    from redun_tui.data.db_source import database_uri

    try:
        uri, _ = database_uri(home)
    except Exception:  # noqa: BLE001 - an unreadable redun.ini: nothing to offer
        return None
    from redun.backends.engine import sqlite_path

    path = sqlite_path(uri)
    if path is None:
        return uri
    return path if os.path.exists(path) else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from redun.client.paths import resolve_home
    from redun.errors import RedunError

    home = resolve_home(args.home, search=True)
    token = None
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as error:
            print(f"redun-tui: cannot read --token-file: {error}", file=sys.stderr)
            return 2

    from redun_tui.app import RedunApp
    from redun_tui.data.db_source import DbSource
    from redun_tui.data.grpc_source import GrpcSource

    def connect() -> GrpcSource:
        return GrpcSource(home, address=args.address, token=token)

    def browse() -> DbSource:
        return DbSource.for_home(home)

    source = None
    reason = ""
    try:
        source = browse() if args.read_only else connect()
    except RedunError as error:
        if args.read_only:
            print(f"redun-tui: {error}", file=sys.stderr)
            return 1
        reason = str(error)
    app = RedunApp(
        source,
        home=home,
        connect=connect,
        browse=browse,
        reason=reason,
        database=_database(home),
    )
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
