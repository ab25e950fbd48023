"""``redun repo add|list|remove``: name other config directories (``[repos.NAME]``).

::

    redun repo add other_repo ../other/.redun   [repos.other_repo] config_dir = ... in redun.ini
    redun repo list                              the names and their directories
    redun repo remove other_repo                 delete the section
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.cli.main import EXIT_OK


def register(commands: Any) -> None:
    repo = commands.add_parser(
        "repo",
        help="add, list and remove named repositories (for push, pull and --repo)",
        description="Name other redun config directories in this redun.ini "
        "([repos.NAME] config_dir = DIR), for redun push/pull NAME and redun --repo NAME.",
    )
    actions = repo.add_subparsers(dest="repo_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a repository")
    add.add_argument("repo_name", metavar="NAME")
    add.add_argument("repo_config_dir", metavar="CONFIG_DIR", help="its config directory")
    add.set_defaults(handler=repo_add_command)
    listing = actions.add_parser("list", help="list repositories")
    listing.set_defaults(handler=repo_list_command)
    remove = actions.add_parser("remove", help="remove a repository (its section)")
    remove.add_argument("repo_name", metavar="NAME")
    remove.set_defaults(handler=repo_remove_command)


def repo_add_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.repos import add_repo, local_config_dir

    directory, same = add_repo(local_config_dir(args), args.repo_name, args.repo_config_dir)
    for other in same:
        print(f"Existing repository '{other}' also uses config at {directory}", file=sys.stderr)
    print(f"Added repository '{args.repo_name}': {directory}", file=sys.stderr)
    return EXIT_OK


def repo_list_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.repos import DEFAULT_REPO, local_config_dir, read_repos

    local = local_config_dir(args)
    repos = {DEFAULT_REPO: local, **read_repos(local)}
    print("Repositories:")
    for name, directory in sorted(repos.items()):
        print(f"  {name}: {directory}")
    return EXIT_OK


def repo_remove_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.repos import local_config_dir, remove_repo

    remove_repo(local_config_dir(args), args.repo_name)
    print(f"Removed repository '{args.repo_name}'", file=sys.stderr)
    return EXIT_OK
