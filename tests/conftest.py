"""Shared fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory (its .redun/ holds config and database)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REDUN_CONFIG", raising=False)
    monkeypatch.delenv("REDUN_DB_URI", raising=False)
    return tmp_path


def redun_cli() -> list[str]:
    """The command that runs the installed `redun` CLI with this interpreter."""
    return [PYTHON, "-m", "redun.cli.main"]


@pytest.fixture
def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REDUN_CONFIG", None)
    env.pop("REDUN_DB_URI", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
