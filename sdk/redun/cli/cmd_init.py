"""``redun init [DIR]``: make a config directory with redun.ini and an empty database."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from redun.cli.main import EXIT_OK


def register(commands: Any) -> None:
    init = commands.add_parser(
        "init",
        help="create a config directory (.redun) with redun.ini and a database",
        description="Create the config directory, as redun does: BASEDIR/.redun when "
        "BASEDIR is given, else -c DIR, $REDUN_CONFIG, the nearest .redun above, or "
        ".redun here; it holds a default redun.ini and an initialized database. An "
        "existing redun.ini is kept.",
    )
    init.add_argument(
        "dir", nargs="?", metavar="BASEDIR", help="the project directory (its .redun is made)"
    )
    init.set_defaults(handler=init_command)


def init_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.backends import backend_from_config
    from redun.config import CONFIG_FILENAME, DEFAULT_CONFIG_DIR, find_config_dir, load_config

    if args.dir:
        config_dir = os.path.abspath(os.path.join(args.dir, DEFAULT_CONFIG_DIR))
    else:
        config_dir = os.path.abspath(find_config_dir(args.config))
    existed = os.path.exists(os.path.join(config_dir, CONFIG_FILENAME))
    config = load_config(config_dir, create=True)
    section = dict(config.get("backend") or {})
    if args.db:
        section["db_uri"] = args.db
    backend = backend_from_config(section)
    try:
        backend.load(migrate=True)
    finally:
        backend.close()
    what = "kept the existing" if existed else "wrote"
    print(f"Initialized redun repository: {config_dir} ({what} {CONFIG_FILENAME})", file=sys.stderr)
    return EXIT_OK
