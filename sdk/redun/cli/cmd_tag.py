"""``redun tag``: list, add and remove tags on executions, jobs, values and tasks.

::

    redun tag list                       the tag keys, with how many of each kind carry them
    redun tag list --values [KEY ...]    the key=value pairs (of those keys), with counts
    redun tag list project=acme user     entities with project=acme and any user tag
    redun tag add EXEC_ID env=prod       tag an execution (or a job, value, task)
    redun tag update EXEC_ID env=dev     replace the values of a key
    redun tag rm EXEC_ID env             remove a tag (all values of the key)

As in redun, ``add``, ``update`` and ``rm`` take several ids before the tags
(``redun tag add ID1 ID2 env=prod``; ``redun tag rm ID1 ID2 -- env`` when the
tags are keys alone).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.cli.main import EXIT_OK
from redun.errors import UsageError


def register(commands: Any) -> None:
    tag = commands.add_parser("tag", help="list, add, update and remove tags")
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
    for name, replace, text in (
        ("add", False, "add tags to executions, jobs, values or tasks"),
        ("update", True, "set tags, replacing the values their keys had"),
    ):
        setter = actions.add_parser(
            name, help=text, usage=f"redun tag {name} ID [ID ...] KEY=VALUE [KEY=VALUE ...]"
        )
        setter.add_argument(
            "items", nargs="+", metavar="ID|KEY=VALUE", help="ids (or prefixes), tags"
        )
        setter.set_defaults(handler=tag_add_command, replace=replace)
    remove = actions.add_parser(
        "rm",
        help="remove tags (KEY alone removes every value)",
        usage="redun tag rm ID [ID ...] [--] KEY[=VALUE] [KEY[=VALUE] ...]",
    )
    # REMAINDER keeps a "--" (the end of the ids), which argparse would otherwise drop.
    remove.add_argument("items", nargs=argparse.REMAINDER, metavar="ID|KEY[=VALUE]")
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


def split_ids(items: list[str], *, keys_alone: bool) -> tuple[list[str], list[str]]:
    """``ID [ID ...] [--] TAG [TAG ...]`` as (ids, tags).

    The ids end at ``--`` or at the first ``KEY=VALUE``. With ``keys_alone`` (rm),
    items with no ``=`` and no ``--`` are one id and keys (``rm ID env user``).

    Raises:
        UsageError: no id, or no tag.
    """
    if "--" in items:
        cut = items.index("--")
        ids, tags = items[:cut], items[cut + 1 :]
    else:
        cut = next((i for i, item in enumerate(items) if "=" in item), len(items))
        if cut == len(items) and keys_alone:
            cut = 1
        ids, tags = items[:cut], items[cut:]
    if not ids:
        raise UsageError("give the id (or prefix) of an execution, job, value or task first")
    if not tags:
        raise UsageError(
            "give tags after the ids: KEY=VALUE" + ("" if not keys_alone else " or KEY")
        )
    return ids, tags


def tag_add_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.cmd_db import open_store
    from redun.cli.tag_store import add_tags, remove_tags, resolve_entity
    from redun.tags import ANY_VALUE

    ids, items = split_ids(args.items, keys_alone=False)
    tags = _parse(items, value_required=True)
    backend = open_store(args)
    try:
        entities = [resolve_entity(backend, prefix) for prefix in ids]  # all, before any change
        for kind, entity_id in entities:
            if args.replace:
                remove_tags(backend, kind, entity_id, [(key, ANY_VALUE) for key, _ in tags])
            add_tags(backend, kind, entity_id, tags)
            print(
                f"{'updated' if args.replace else 'tagged'} {kind} {entity_id[:8]}", file=sys.stderr
            )
    finally:
        backend.close()
    return EXIT_OK


def tag_rm_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.cmd_db import open_store
    from redun.cli.tag_store import remove_tags, resolve_entity

    ids, items = split_ids(args.items, keys_alone=True)
    tags = _parse(items, value_required=False)
    backend = open_store(args)
    try:
        entities = [resolve_entity(backend, prefix) for prefix in ids]
        for kind, entity_id in entities:
            removed = remove_tags(backend, kind, entity_id, tags)
            print(f"removed {removed} tag(s) from {kind} {entity_id[:8]}", file=sys.stderr)
    finally:
        backend.close()
    return EXIT_OK
