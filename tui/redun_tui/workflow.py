"""The tasks of a workflow file, read from its source (the file is parsed, never imported)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class Parameter:
    """A task parameter as the CLI takes it (``--name``)."""

    name: str
    annotation: str = ""
    default: str | None = None

    def hint(self) -> str:
        kind = f" {self.annotation.upper()}" if self.annotation else ""
        default = f"={self.default}" if self.default is not None else ""
        return f"--{self.name}{kind}{default}"


@dataclass
class TaskSignature:
    """A ``@task`` function of a workflow file."""

    name: str
    parameters: list[Parameter] = field(default_factory=list)
    doc: str = ""

    def hint(self) -> str:
        return " ".join(p.hint() for p in self.parameters) or "(no arguments)"


def _is_task_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id == "task"
    if isinstance(target, ast.Attribute):
        return target.attr == "task"
    return False


def find_tasks(source: str) -> list[TaskSignature]:
    """The module-level ``@task`` functions of ``source``, in file order.

    Raises:
        SyntaxError: the source does not parse.
    """
    tree = ast.parse(source)
    found: list[TaskSignature] = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not any(_is_task_decorator(d) for d in node.decorator_list):
            continue
        args = node.args
        positional = args.posonlyargs + args.args
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
        defaults += list(args.defaults)
        params = [
            Parameter(
                arg.arg,
                ast.unparse(arg.annotation) if arg.annotation is not None else "",
                ast.unparse(default) if default is not None else None,
            )
            for arg, default in zip(positional, defaults)
        ]
        params += [
            Parameter(
                arg.arg,
                ast.unparse(arg.annotation) if arg.annotation is not None else "",
                ast.unparse(default) if default is not None else None,
            )
            for arg, default in zip(args.kwonlyargs, args.kw_defaults)
        ]
        doc = (ast.get_docstring(node) or "").strip().splitlines()
        found.append(TaskSignature(node.name, params, doc[0] if doc else ""))
    return found


def read_tasks(path: str) -> list[TaskSignature]:
    """:func:`find_tasks` of a file.

    Raises:
        OSError: the file cannot be read.
        SyntaxError: it does not parse.
    """
    with open(path, encoding="utf-8") as handle:
        return find_tasks(handle.read())
