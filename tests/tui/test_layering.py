"""Layering: the TUI reaches the daemon only through redun.client, and loads Textual lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

TUI = Path(__file__).resolve().parents[2] / "tui" / "redun_tui"


def test_no_module_imports_the_daemon() -> None:
    offenders = []
    for path in TUI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "redund"]
    assert offenders == []


def test_import_is_light_and_the_app_never_loads_redund() -> None:
    script = (
        "import sys, redun_tui\n"
        "light = 'textual' not in sys.modules and 'grpc' not in sys.modules\n"
        "from redun_tui.app import RedunApp\n"
        "import redun_tui.__main__\n"
        "print(light, any(m == 'redund' or m.startswith('redund.') for m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]
