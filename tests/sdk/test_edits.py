"""Workflows edited between runs re-run exactly what the edit affects.

Each run is a real `redun run` process on a real file, so code hashes are
computed fresh, as a user's would be. `main` only builds the expression that
calls the others: it never runs again; its recorded expression is re-evaluated
and only the calls whose code (or input) changed run.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import redun_cli

WORKFLOW = '''
"""An example workflow."""
from redun import task

redun_namespace = "edits"

SCALE = 2
UNUSED = 1


def record(name):
    with open("ran.txt", "a") as handle:
        handle.write(name + "\\n")


def helper(x):
    return x + 1


def unrelated(x):
    return x


class Shape:
    sides = 3

    def area(self, x):
        return x * self.sides


@task
def a(x: int) -> int:
    record("a")
    return helper(x)


@task
def b(x: int) -> int:
    record("b")
    return x * SCALE


@task
def c(x: int) -> int:
    record("c")
    return x - 1


@task
def d(x: int) -> int:
    record("d")
    return Shape().area(x)


@task
def combine(p: int, q: int, r: int) -> int:
    record("combine")
    return p + q + r


@task
def main(x: int = 5) -> int:
    record("main")
    return combine(a(x), b(c(x)), d(x))
'''


class Flow:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.path = root / "flow.py"
        self.source = WORKFLOW
        self.path.write_text(self.source)

    def edit(self, old: str, new: str) -> None:
        assert old in self.source, old
        self.source = self.source.replace(old, new, 1)
        self.path.write_text(self.source)

    def run(self) -> tuple[str, set[str]]:
        ran = self.root / "ran.txt"
        ran.unlink(missing_ok=True)
        proc = subprocess.run(
            [*redun_cli(), "run", "--no-progress", "flow.py", "main"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        names = set(ran.read_text().split()) if ran.exists() else set()
        return proc.stdout.strip().splitlines()[-1], names


@pytest.fixture
def flow(tmp_path: Path, cli_env: dict[str, str]) -> Flow:
    flow = Flow(tmp_path, cli_env)
    result, ran = flow.run()
    assert result == str(6 + 8 + 15)
    assert ran == {"main", "a", "b", "c", "d", "combine"}
    return flow


def test_rerun_without_edits_runs_nothing(flow: Flow) -> None:
    assert flow.run() == ("29", set())


def test_comments_docstrings_and_formatting_do_not_count(flow: Flow) -> None:
    flow.edit("    return helper(x)", "    # a comment\n    return helper( x )  # trailing")
    flow.edit('    record("b")', '    """Scale x."""\n\n    record( "b" )')
    flow.edit('"""An example workflow."""', '"""An example workflow, reworded."""')
    assert flow.run() == ("29", set())


def test_helper_edit_reruns_its_users_and_their_consumers(flow: Flow) -> None:
    flow.edit("    return x + 1\n", "    return x + 2\n")
    assert flow.run() == ("30", {"a", "combine"})


def test_helper_edit_with_same_result_reruns_only_its_users(flow: Flow) -> None:
    flow.edit("    return x + 1\n", "    y = x + 1\n    return y\n")
    assert flow.run() == ("29", {"a"})


def test_constant_edit_reruns_its_users(flow: Flow) -> None:
    flow.edit("SCALE = 2", "SCALE = 3")
    assert flow.run() == ("33", {"b", "combine"})


def test_unused_constant_and_unrelated_function_do_not_count(flow: Flow) -> None:
    flow.edit("UNUSED = 1", "UNUSED = 2")
    flow.edit("def unrelated(x):\n    return x", "def unrelated(x):\n    return x * 2")
    assert flow.run() == ("29", set())


def test_class_edit_reruns_its_users(flow: Flow) -> None:
    flow.edit("    sides = 3", "    sides = 4")
    assert flow.run() == ("34", {"d", "combine"})


def test_task_edit_reruns_it_and_its_consumers(flow: Flow) -> None:
    flow.edit("    return x - 1", "    return x - 2")
    assert flow.run() == ("27", {"c", "b", "combine"})


def test_version_pins_the_hash(tmp_path: Path, cli_env: dict[str, str]) -> None:
    flow = Flow(tmp_path, cli_env)
    flow.edit("@task\ndef c(", '@task(version="1")\ndef c(')
    flow.run()
    flow.edit("    return x - 1", "    return x - 1  # same version, new code\n    pass")
    assert flow.run() == ("29", set())
    flow.edit('@task(version="1")', '@task(version="2")')
    assert flow.run() == ("29", {"c"})


def test_transitive_helper_in_another_module(tmp_path: Path, cli_env: dict[str, str]) -> None:
    (tmp_path / "mylib.py").write_text(
        textwrap.dedent(
            """
            OFFSET = 10

            def inner(x):
                return x + OFFSET

            def outer(x):
                return inner(x) * 2
            """
        )
    )
    flow = Flow(tmp_path, cli_env)
    flow.edit("from redun import task", "from redun import task\nimport mylib")
    flow.edit("    return helper(x)", "    return mylib.outer(x)")
    assert flow.run()[1] == {"a", "b", "c", "d", "combine", "main"}
    assert flow.run()[1] == set()
    lib = (tmp_path / "mylib.py").read_text().replace("OFFSET = 10", "OFFSET = 11")
    (tmp_path / "mylib.py").write_text(lib)
    assert flow.run()[1] == {"a", "combine"}
