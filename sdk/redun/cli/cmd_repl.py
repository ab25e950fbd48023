"""``redun repl``: a Python prompt for querying provenance, as in insitro/redun.

::

    redun repl                   (redun) query('3f2a').task.source
    redun repl 3f2a              starts with obj = query('3f2a') shown

The namespace holds ``query``, ``scheduler``, ``session``, ``last_exec`` and the
models of :mod:`redun.backends.orm` (``Execution``, ``Job``, ``CallNode``...).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.cli.main import EXIT_OK

PROMPT = "(redun) "


def register(commands: Any) -> None:
    repl = commands.add_parser(
        "repl",
        help="a Python prompt for querying the recorded provenance",
        description=(
            "An interactive Python prompt on the store. query('PREFIX') returns the "
            "execution, job, call node, task or value whose id or hash starts with PREFIX "
            "('-' is the latest execution); session is a SQLAlchemy session over the "
            "models Execution, Job, CallNode, Task, Value, Argument, File and Tag."
        ),
    )
    repl.add_argument("id", nargs="?", metavar="ID", help="show this record first, as obj")
    repl.set_defaults(handler=repl_command)


def namespace(backend: Any) -> dict[str, Any]:
    """What the prompt starts with: ``query``, ``session``, ``scheduler`` and the models."""
    from redun.backends import orm
    from redun.backends.orm_lookup import find_record
    from redun.scheduler.core import Scheduler

    session = backend.session

    def query(expr: Any, *args: Any, **kwargs: Any) -> Any:
        """The record whose id or hash starts with ``expr`` (a string), or, given a model
        class, ``session.query(expr, ...)``."""
        if isinstance(expr, str):
            return find_record(session, expr)
        return session.query(expr, *args, **kwargs)

    names: dict[str, Any] = {name: getattr(orm, name) for name in orm.__all__}
    last = session.query(orm.Execution).order_by(orm.Execution.start_time.desc()).first()
    names.update(
        query=query,
        session=session,
        scheduler=Scheduler(backend=backend),
        backend=backend,
        last_exec=last,
    )
    return names


def repl_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    import code

    from redun.backends.engine import mask_uri
    from redun.cli.cmd_db import open_store

    backend = open_store(args)
    try:
        local = namespace(backend)
        if args.id:
            local["obj"] = local["query"](args.id)
            print(f"obj = query({args.id!r})\n{local['obj']!r}")
        _enable_line_editing(local)
        sys.ps1, sys.ps2 = PROMPT, "... "
        banner = (
            f"redun repl on {mask_uri(backend.db_uri)}\n"
            "query('PREFIX') finds an execution, job, call node, task or value; also: "
            "session, scheduler, last_exec, Execution, Job, CallNode, Task, Value... "
            "(Ctrl-D to leave)"
        )
        code.interact(banner=banner, local=local, exitmsg="")
    finally:
        backend.close()
    return EXIT_OK


def _enable_line_editing(local: dict[str, Any]) -> None:
    """History and tab completion of the namespace, on a terminal with readline."""
    if not sys.stdin.isatty():
        return
    try:
        import readline
        import rlcompleter
    except ImportError:
        return
    readline.set_completer(rlcompleter.Completer(local).complete)
    readline.parse_and_bind("tab: complete")
