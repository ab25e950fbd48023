"""``redun fs cp [--recursive] SRC DEST``: copy between any file systems redun reads.

Staging commands rendered for copies no single tool can do (``http://`` to
``s3://``, ``s3://`` dir to ``gs://``) call this.
"""

from __future__ import annotations

import argparse
from typing import Any

from redun.cli.main import EXIT_OK


def register(commands: Any) -> None:
    fs = commands.add_parser("fs", help="copy files between file systems (local, s3, http...)")
    actions = fs.add_subparsers(dest="fs_command", metavar="ACTION", required=True)
    cp = actions.add_parser("cp", help="copy a file (or, with --recursive, a directory)")
    cp.add_argument("src", metavar="SRC", help="source path or URL")
    cp.add_argument("dest", metavar="DEST", help="destination path or URL")
    cp.add_argument("-r", "--recursive", action="store_true", help="copy a directory")
    cp.set_defaults(handler=fs_cp_command)


def fs_cp_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.file import Dir, File

    if args.recursive:
        Dir(args.src).copy_to(Dir(args.dest))
    else:
        File(args.src).copy_to(File(args.dest))
    return EXIT_OK
