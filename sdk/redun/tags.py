"""Tags: ``key=value`` labels on executions, jobs, tasks and values.

They come from ``apply_tags()``, ``@task(tags=[...])``, ``redun run --tag
key=value`` and, for every ``redun run``, the execution's automatic tags
(``redun.version``, ``user``, ``project``, and ``git_commit`` when the
workflow is in a git checkout). ``redun tag`` and ``redun log --tag`` query
and edit them.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

VERSION_KEY = "redun.version"
PROJECT_KEY = "project"
DOC_KEY = "doc"
USER_KEY = "user"

ANY_VALUE: Any = object()  # a query for a key, whatever its value


def parse_tag_value(text: str) -> Any:
    """A tag value from the command line: JSON where it parses, else the text.

    ``""`` is None; ``3`` is an int, ``1.5`` a float, ``true`` a bool,
    ``[1, 2]``/``{"a": 1}``/``"quoted"`` JSON, anything else the string itself.
    """
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        if text[0] in '[{"':
            raise ValueError(f"invalid JSON tag value: {text!r}") from None
        return text


def parse_tag_key_value(key_value: str, value_required: bool = True) -> tuple[str, Any]:
    """``key=value`` as ``(key, value)``; ``key`` alone is ``(key, ANY_VALUE)`` if allowed."""
    key, sep, value = key_value.partition("=")
    if not key:
        raise ValueError(f"a tag needs a key: {key_value!r}")
    if not sep:
        if value_required:
            raise ValueError(f"a tag is key=value, got {key_value!r}")
        return key, ANY_VALUE
    return key, parse_tag_value(value)


def format_tag_value(value: Any) -> str:
    """A value as ``redun tag``/``redun log`` print it: a plain word unquoted, unless it
    would read back as something else (``"10"``, ``"true"``: strings, not 10 or True)."""
    if (
        isinstance(value, str)
        and re.fullmatch(r"[\w./:@+-]+", value)
        and isinstance(parse_tag_value(value), str)
    ):
        return value
    return json.dumps(value, sort_keys=True)


def format_tag_key_value(key: str, value: Any, max_length: int | None = None) -> str:
    """``key=value``; with ``max_length``, each side cut to it (``...`` marks a cut)."""
    text = format_tag_value(value)
    if max_length is not None:
        key, text = _cut(key, max_length), _cut(text, max_length)
    return f"{key}={text}"


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: max(length - 3, 0)] + "..."


def get_username() -> str:
    """``$REDUN_USER``, else the login name."""
    return os.environ.get("REDUN_USER") or login_name()


def login_name() -> str:
    """The login name, as :func:`getpass.getuser` finds it: the environment, else the
    password database (``pwd``, built in; getpass would also load termios, warnings
    and more, in a daemon's or a container's runs, whose environment seldom says)."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        value = os.environ.get(name)
        if value:
            return value
    try:
        import pwd
    except ImportError:  # Windows: getpass knows what else to ask
        import getpass

        return getpass.getuser()
    return pwd.getpwuid(os.getuid()).pw_name


def infer_project_name(task: Any) -> str | None:
    """The project a task belongs to: its namespace (as redun tags it), else its module's."""
    namespace = getattr(task, "namespace", "") or ""
    if namespace:
        return str(namespace)
    module = getattr(getattr(task, "func", None), "__module__", "") or ""
    return module.split(".")[0] or None


def default_execution_tags(
    task: Any, *, user: str | None = None, project: str | None = None, workdir: str | None = None
) -> list[tuple[str, Any]]:
    """The tags ``redun run`` puts on every execution.

    ``redun.version``, ``user``, ``project`` (from the task's namespace or
    module, unless given), and ``git_commit``/``git_origin_url`` when
    ``workdir`` is in a git checkout (``$REDUN_GIT_COMMIT`` and
    ``$REDUN_GIT_ORIGIN_URL`` override them).
    """
    from redun import __version__
    from redun.gitinfo import git_commit, git_origin_url

    tags: list[tuple[str, Any]] = [(VERSION_KEY, __version__), (USER_KEY, user or get_username())]
    project = project or infer_project_name(task)
    if project:
        tags.append((PROJECT_KEY, project))
    where = workdir or os.getcwd()
    commit = os.environ.get("REDUN_GIT_COMMIT") or git_commit(where)
    if commit:
        tags.append(("git_commit", commit))
        origin = os.environ.get("REDUN_GIT_ORIGIN_URL") or git_origin_url(where)
        if origin:
            tags.append(("git_origin_url", origin))
    return tags
