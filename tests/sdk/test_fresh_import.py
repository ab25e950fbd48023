"""A workflow saved twice within a second runs the second save's code.

Python's own bytecode cache tells a source file from its earlier version by
modification time in whole seconds and size: an edit that keeps the length
(``V = 1`` -> ``V = 2``) in the same second as the run before it would run the
old code, from ``__pycache__``. Real `redun run` processes, with bytecode
caching on as on a user's machine.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from redun.workflow.freshness import RACY_SECONDS
from tests.conftest import redun_cli

WORKFLOW = """
from redun import task

import helper
from pkg import inner

V = 1


@task
def main() -> int:
    return V * 100 + helper.K * 10 + inner.J
"""


@pytest.fixture
def env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDUN_CONFIG", "REDUN_DB_URI", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env


def run(env: dict[str, str]) -> str:
    done = subprocess.run(
        [*redun_cli(), "run", "flow.py", "main"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def write(path: Path, text: str, *, age: float = 0.0) -> None:
    path.write_text(text)
    if age:
        when = time.time() - age
        os.utime(path, (when, when))


def test_an_edit_in_the_same_second_at_the_same_length_runs_the_new_code(
    workdir: Path, env: dict[str, str]
) -> None:
    (workdir / "pkg").mkdir()
    write(workdir / "pkg" / "__init__.py", "")
    write(workdir / "pkg" / "inner.py", "J = 1\n")
    write(workdir / "helper.py", "K = 1\n")
    write(workdir / "flow.py", WORKFLOW)
    assert run(env) == "111"
    # Same length, same second (two runs take well under one): only the contents differ.
    write(workdir / "flow.py", WORKFLOW.replace("V = 1", "V = 2"))
    write(workdir / "helper.py", "K = 2\n")
    write(workdir / "pkg" / "inner.py", "J = 2\n")
    assert run(env) == "222"


def test_bytecode_of_files_not_changed_lately_is_cached_and_reused(
    workdir: Path, env: dict[str, str]
) -> None:
    old = RACY_SECONDS + 5
    (workdir / "pkg").mkdir()
    write(workdir / "pkg" / "__init__.py", "", age=old)
    write(workdir / "pkg" / "inner.py", "J = 3\n", age=old)
    write(workdir / "helper.py", "K = 3\n", age=old)
    write(workdir / "flow.py", WORKFLOW, age=old)
    assert run(env) == "133"
    cached = {p.name: p.stat().st_mtime_ns for p in (workdir / "__pycache__").glob("*.pyc")}
    assert {name.split(".")[0] for name in cached} == {"flow", "helper"}
    assert run(env) == "133"
    again = {p.name: p.stat().st_mtime_ns for p in (workdir / "__pycache__").glob("*.pyc")}
    assert again == cached  # read, not written again
    # An edit that keeps the length, with the file's times set back: still seen.
    write(workdir / "helper.py", "K = 4\n", age=old)
    assert run(env) == "143"


def test_installed_packages_beside_the_workflow_keep_pythons_bytecode(
    workdir: Path, env: dict[str, str]
) -> None:
    # A project's own virtual environment inside the workflow's directory: its packages
    # are not the workflow's code, and their bytecode stays Python's.
    site = workdir / ".venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    write(site / "vendored.py", "X = 5\n", age=RACY_SECONDS + 5)
    import py_compile

    py_compile.compile(str(site / "vendored.py"), doraise=True)
    pyc = next((site / "__pycache__").glob("vendored*.pyc"))
    before = pyc.read_bytes()
    flow = f"""
import sys

sys.path.insert(0, {str(site)!r})

from redun import task

import vendored


@task
def main() -> int:
    return vendored.X
"""
    write(workdir / "flow.py", flow)
    assert run(env) == "5"
    assert pyc.read_bytes() == before  # neither rewritten nor re-stamped
