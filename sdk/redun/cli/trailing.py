"""A command's own options typed after the task's arguments (``redun run f.py main --n 3 --dryrun``).

``redun run``, ``submit`` and ``watch`` take ``FILE TASK [task arguments]``;
users also type the command's options at the end, as they would for any
other command. :func:`take_own_options` moves those out of the task's
arguments into the parsed options. A task parameter of the same name wins
(``keep``), and everything after ``--`` belongs to the task.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable


def _own_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        option: action
        for option, action in parser._option_string_actions.items()
        if not isinstance(action, argparse._HelpAction)
    }


def split_own_options(
    parser: argparse.ArgumentParser, task_argv: list[str], keep: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """(the command's options with their values, the task's arguments) from ``task_argv``."""
    actions = _own_actions(parser)
    kept = set(keep)
    ours: list[str] = []
    theirs: list[str] = []
    index = 0
    while index < len(task_argv):
        item = task_argv[index]
        if item == "--":
            theirs += task_argv[index + 1 :]
            break
        name = item.split("=", 1)[0]
        action = actions.get(name) if item.startswith("-") else None
        if action is None or name in kept:
            theirs.append(item)
            index += 1
            continue
        takes_value = action.nargs != 0 and "=" not in item
        if takes_value and index + 1 < len(task_argv):
            ours += [item, task_argv[index + 1]]
            index += 2
        else:
            ours.append(item)
            index += 1
    return ours, theirs


def take_own_options(
    args: argparse.Namespace, task_argv: list[str], keep: Iterable[str] = ()
) -> list[str]:
    """Parse the command's options found in ``task_argv`` into ``args``; returns the rest.

    Options given both before and after the task combine as on any command
    line: a later flag wins, repeatable options (``--context``, ``--option``)
    collect every value.
    """
    parser: argparse.ArgumentParser | None = getattr(args, "command_parser", None)
    if parser is None or not task_argv:
        return task_argv
    ours, theirs = split_own_options(parser, task_argv, keep)
    if not ours:
        return theirs
    late = parser.parse_args([args.file, args.task, *ours])
    actions = _own_actions(parser)
    given = {actions[item.split("=", 1)[0]] for item in ours if item.split("=", 1)[0] in actions}
    for action in given:
        value = getattr(late, action.dest)
        if isinstance(action, argparse._AppendAction):
            value = list(getattr(args, action.dest, None) or []) + list(value)
        setattr(args, action.dest, value)
    return theirs


def option_names(names: Iterable[str]) -> set[str]:
    """``--name`` and ``--na-me`` spellings of a task's parameters (what ``keep`` takes)."""
    spelled: set[str] = set()
    for name in names:
        spelled.add(f"--{name}")
        spelled.add(f"--{name.replace('_', '-')}")
    return spelled
