"""A plain `redun run` imports only what it uses: no heavy module on the way.

Each module named here once slipped onto the path of every run (argparse's help
formatter importing shutil, a hash importing OpenSSL through hashlib); what is
asserted is what a user's `redun run` process has loaded when it exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = """
from redun import task

@task
def leaf(i: int) -> int:
    return i * 2

@task
def total(values: list) -> int:
    return sum(values)

@task
def main(n: int = 3) -> int:
    return total([leaf(i) for i in range(n)])
"""

# Loaded only by the commands and features that need them, never by a plain run.
HEAVY = (
    "shutil",
    "hashlib",
    "_hashlib",
    "sqlalchemy",
    "alembic",
    "rich",
    "grpc",
    "textual",
    "redun.file.file",
    "redun.file.filesystem",
    "getpass",  # the run's user comes from the environment or from pwd
)

PROBE = f"""
import atexit, sys
heavy = {HEAVY!r}
atexit.register(lambda: print("LOADED", sorted(m for m in heavy if m in sys.modules)))
from redun.cli.main import main
raise SystemExit(main())
"""


def _run(directory: Path, *args: str) -> list[str]:
    env = dict(os.environ, REDUN_CODE_CACHE=str(directory / "codecache"), COLUMNS="80")
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):  # as in a container or a daemon
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "-c", ".redun", "run", "wf.py", "main", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "20", proc.stdout
    loaded = [line for line in lines if line.startswith("LOADED ")]
    assert loaded, proc.stdout
    return eval(loaded[-1][len("LOADED ") :])  # a list literal printed by the probe


@pytest.mark.parametrize("runs", [1, 2], ids=["first", "cached"])
def test_plain_run_loads_no_heavy_module(tmp_path: Path, runs: int) -> None:
    (tmp_path / "wf.py").write_text(WORKFLOW)
    for _ in range(runs):
        loaded = _run(tmp_path, "--n", "5")
    assert loaded == []


def test_help_still_sized_to_the_terminal(tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="50")
    proc = subprocess.run(
        [sys.executable, "-m", "redun.cli.main", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    widths = [len(line) for line in proc.stdout.splitlines()]
    assert (
        max(widths)
        <= 48
        < max(
            len(line)
            for line in subprocess.run(
                [sys.executable, "-m", "redun.cli.main", "--help"],
                env=dict(os.environ, COLUMNS="200"),
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout.splitlines()
        )
    )
