"""``redun tag``: list, add and remove tags on executions, jobs, values and tasks.

::

    redun tag list                       the tag keys, with how many of each kind carry them
    redun tag list --values [KEY ...]    the key=value pairs (of those keys), with counts
    redun tag list project=acme user     entities with project=acme and any user tag
    redun tag add EXEC_ID env=prod       tag an execution (or a job, value, task)
    redun tag rm EXEC_ID env             remove a tag (all values of the key)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.cli.main import EXIT_OK
from redun.errors import UsageError


def register(commands: Any) -> None:
    tag = commands.add_parser("tag", help="list, add and remove tags")
    actions = tag.add_subparsers(dest="tag_command", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="tag keys with counts; with KEY[=VALUE]: the entities carrying them all",
    )
    listing.add_argument("tags", nargs="*", metavar="KEY[=VALUE]")
    listing.add_argument("--kind", choices=("execution", "job", "value", "task"))
    listing.add_argument(
        "--values", action="store_true", help="count each key=value pair (of the keys given)"
    )
    listing.set_defaults(handler=tag_list_command)
    add = actions.add_parser("add", help="add tags to an execution, job, value or task")
    add.add_argument("id", metavar="ID", help="an id or unique prefix")
    add.add_argument("tags", nargs="+", metavar="KEY=VALUE")
    add.set_defaults(handler=tag_add_command)
    remove = actions.add_parser("rm", help="remove tags (KEY alone removes every value)")
    remove.add_argument("id", metavar="ID", help="an id or unique prefix")
    remove.add_argument("tags", nargs="+", metavar="KEY[=VALUE]")
    remove.set_defaults(handler=tag_rm_command)


def _parse(items: list[str], value_required: bool) -> list[tuple[str, Any]]:
    from redun.tags import parse_tag_key_value

    try:
        return [parse_tag_key_value(item, value_required=value_required) for item in items]
    except ValueError as error:
        raise UsageError(str(error)) from None


def tag_list_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.cmd_db import open_store
    from redun.cli.tag_store import find_tagged, tag_counts, tags_of
    from redun.tags import format_tag_key_value

    wanted = _parse(args.tags, value_required=False)
    backend = open_store(args)
    try:
        if args.values or not wanted:
            counts = tag_counts(backend, wanted, args.kind, by_value=args.values)
            return _print_counts(counts, width=30 if args.values else 10)
        entities = find_tagged(backend, wanted, args.kind)
        tags = tags_of(backend, entities)
    finally:
        backend.close()
    if not entities:
        print("No tagged entities found.", file=sys.stderr)
    for kind, entity_id in entities:
        text = " ".join(format_tag_key_value(k, v) for k, v in tags[(kind, entity_id)])
        print(f"{kind:<9} {entity_id[:8]}  {text}")
    return EXIT_OK


def _print_counts(counts: list[tuple[str, list[tuple[str, int]]]], width: int) -> int:
    """redun's listing: ``  key (2 Execution, 1 Task)``, one key (or pair) a line."""
    if not counts:
        print("No tags found.", file=sys.stderr)
        return EXIT_OK
    print("Tags:")
    for label, per_kind in counts:
        text = ", ".join(f"{n} {kind.capitalize()}" for kind, n in per_kind)
        print(f"  {label:{width}} ({text})")
    return EXIT_OK


def tag_add_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.cmd_db import open_store
    from redun.cli.tag_store import add_tags, resolve_entity

    tags = _parse(args.tags, value_required=True)
    backend = open_store(args)
    try:
        kind, entity_id = resolve_entity(backend, args.id)
        add_tags(backend, kind, entity_id, tags)
    finally:
        backend.close()
    print(f"tagged {kind} {entity_id[:8]}", file=sys.stderr)
    return EXIT_OK


def tag_rm_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.cmd_db import open_store
    from redun.cli.tag_store import remove_tags, resolve_entity

    tags = _parse(args.tags, value_required=False)
    backend = open_store(args)
    try:
        kind, entity_id = resolve_entity(backend, args.id)
        removed = remove_tags(backend, kind, entity_id, tags)
    finally:
        backend.close()
    print(f"removed {removed} tag(s) from {kind} {entity_id[:8]}", file=sys.stderr)
    return EXIT_OK
