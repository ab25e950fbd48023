"""``redun db info|upgrade|downgrade|versions``: describe and migrate the database schema.

Also home of :func:`open_store`, which ``redun log``, ``explain`` and
``cache`` use to open the configured database without creating one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from redun.cli.main import EXIT_OK
from redun.errors import BackendError, UsageError


def store_uri(args: argparse.Namespace) -> tuple[str, dict]:
    """The database URL and ``[backend]`` section: ``--db``, ``$REDUN_DB_URI``, ``redun.ini``."""
    from redun.config import find_config_dir, load_config

    config_dir = find_config_dir(getattr(args, "config", None))
    config = load_config(config_dir, create=False)
    section = dict(config.get("backend") or {})
    uri = getattr(args, "db", None) or os.environ.get("REDUN_DB_URI") or section.get("db_uri")
    if not uri:
        uri = f"sqlite:///{os.path.join(os.path.abspath(config_dir), 'redun.db')}"
    if uri in ("memory", "sqlite://", "sqlite:///:memory:"):
        raise UsageError(
            f"the configured database is in memory ({uri}): nothing is kept between runs; "
            "set [backend] db_uri in redun.ini, or pass --db URL"
        )
    section["db_uri"] = uri
    return uri, section


def open_store(args: argparse.Namespace, *, load: bool = True) -> Any:
    """The configured :class:`~redun.backends.db.DbBackend`, loaded (schema checked).

    Raises:
        BackendError: no database file there yet, or it cannot be opened.
    """
    from redun.backends.db import DbBackend

    uri, section = store_uri(args)
    backend = DbBackend(uri, section)
    path = backend.sqlite_file()
    if path is not None and not os.path.exists(path):
        raise BackendError(
            f"no redun database at {path}: run a workflow first, or point at one with "
            "--db URL or -c CONFIG_DIR"
        )
    if load:
        backend.load()
    return backend


def register(commands: Any) -> None:
    db = commands.add_parser(
        "db",
        help="describe or migrate the database",
        description="Describe the database (info), list the schema revisions (versions) "
        "or migrate its schema (upgrade, downgrade).",
    )
    sub = db.add_subparsers(dest="db_command", metavar="COMMAND")
    info = sub.add_parser("info", help="URL, schema revision and row counts")
    info.add_argument("--format", choices=("text", "json"), default="text")
    info.set_defaults(handler=info_command)
    upgrade = sub.add_parser(
        "upgrade", help="migrate the schema to this redun's revision (or REVISION)"
    )
    upgrade.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    upgrade.set_defaults(handler=upgrade_command)
    downgrade = sub.add_parser(
        "downgrade", help="migrate the schema back to an older REVISION (see versions)"
    )
    downgrade.add_argument("revision", metavar="REVISION", help="the revision to go back to")
    downgrade.set_defaults(handler=downgrade_command)
    versions = sub.add_parser("versions", help="the schema revisions, and the database's")
    versions.set_defaults(handler=versions_command)
    db.set_defaults(handler=lambda args, argv: _usage(db))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def info_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.backends.engine import mask_uri
    from redun.backends.migrate import describe

    backend = open_store(args, load=False)
    engine = backend.open_engine()
    try:
        info = describe(engine)
    except Exception as exc:
        from redun.backends.engine import backend_error

        raise backend_error("cannot read", backend.db_uri, exc) from exc
    finally:
        engine.dispose()
    info["url"] = mask_uri(backend.db_uri)
    store = backend.value_store
    info["value_store"] = store.root or None
    info["inline_max_bytes"] = None if not store.root else store.inline_max_bytes
    if args.format == "json":
        print(json.dumps(info, indent=2, sort_keys=True))
        return EXIT_OK
    print(f"database:    {info['url']} ({info['dialect']})")
    print(f"schema:      revision {info['revision'] or '(none)'}; this redun: {info['head']}")
    print(f"status:      {info['status']}")
    if store.root:
        print(f"value store: {store.root} (values over {store.inline_max_bytes} bytes)")
    else:
        print("value store: none (every value is kept in the database)")
    if info["counts"]:
        print("rows:")
        for table, count in sorted(info["counts"].items()):
            print(f"  {table:<20} {count:>10}")
    return EXIT_OK


def upgrade_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.backends.migrate import upgrade

    return _migrate(args, upgrade)


def downgrade_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.backends.migrate import downgrade

    return _migrate(args, downgrade)


def _migrate(args: argparse.Namespace, migrate: Any) -> int:
    from redun.backends.db import DbBackend
    from redun.backends.engine import mask_uri

    uri, section = store_uri(args)
    backend = DbBackend(uri, section)
    engine = backend.open_engine()
    try:
        before, after = migrate(engine, uri, args.revision)
    finally:
        engine.dispose()
    if before == after:
        print(f"{mask_uri(uri)}: already at revision {after}")
    elif before is None:
        print(f"{mask_uri(uri)}: created the schema at revision {after}")
    else:
        print(f"{mask_uri(uri)}: migrated from revision {before} to {after}")
    return EXIT_OK


def versions_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    """The revisions this redun knows, the database's marked (if there is a database)."""
    from redun.backends.migrate import describe, revision_notes

    current = None
    try:
        backend = open_store(args, load=False)
    except (BackendError, UsageError):
        backend = None  # no database yet: list the revisions alone
    if backend is not None:
        engine = backend.open_engine()
        try:
            current = describe(engine)["revision"]
        finally:
            engine.dispose()
    print("Revision  Description")
    for revision, note in revision_notes():
        mark = "  (this database)" if revision == current else ""
        print(f"{revision:<9} {note}{mark}")
    return EXIT_OK
