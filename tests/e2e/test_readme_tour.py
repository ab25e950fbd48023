"""README's five-minute tour, run as written: every `$ ` command of its shell blocks, in
order, from a copy of examples/, and its Python snippet; shown output must appear."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def tour_blocks() -> list[tuple[str, str]]:
    """(language, text) of each fenced block of the tour section."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## A five-minute tour")
    end = readme.index("\n## ", start + 1)
    return re.findall(r"```(\w+)\n(.*?)```", readme[start:end], flags=re.S)


def commands(block: str) -> list[tuple[str, list[str]]]:
    """Each `$ ` command with the output lines shown under it."""
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found and line.strip():
            found[-1][1].append(line.strip())
    return found


def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples, ignore=shutil.ignore_patterns(".redun"))
    env = dict(os.environ)
    for name in ("REDUN_HOME", "REDUN_CONFIG", "REDUN_DB_URI"):
        env.pop(name, None)
    # As after `. .venv/bin/activate`: the project's commands come first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    ran = 0
    for language, block in tour_blocks():
        if language == "sh":
            for command, shown in commands(block):
                result = subprocess.run(
                    ["bash", "-c", command],
                    cwd=examples,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert result.returncode == 0, f"$ {command}\n{result.stdout}{result.stderr}"
                for line in shown:
                    assert line in result.stdout.splitlines(), f"$ {command}: no {line!r}"
                ran += 1
        elif language == "python" and "from fanout import main" in block:
            result = subprocess.run(
                [sys.executable, "-c", block],
                cwd=examples,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip() == str(sum(i * i for i in range(100)))
            ran += 1
    assert ran >= 10
