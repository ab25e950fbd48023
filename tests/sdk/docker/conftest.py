"""The stand-in ``docker`` (tests/fake_docker.py) first on PATH, and what it was asked."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FAKE = Path(__file__).resolve().parents[2] / "fake_docker.py"


class FakeDocker:
    """A bin directory holding ``docker`` (this interpreter running the stand-in) and its state."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.state = root / "docker-state"
        self.bin.mkdir(parents=True)
        self.state.mkdir()
        script = self.bin / "docker"
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's) with the stand-in first on PATH."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["FAKE_DOCKER_STATE"] = str(self.state)
        return env

    def _lines(self, name: str) -> list[dict]:
        path = self.state / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def calls(self, command: str | None = None) -> list[list[str]]:
        """The argv of every invocation (of ``command`` only, if given)."""
        argvs = [entry["argv"] for entry in self._lines("calls.jsonl")]
        return [argv for argv in argvs if command is None or argv[:1] == [command]]

    def runs(self) -> list[dict]:
        """Each container's parsed ``run`` request: image, command, env, labels, binds."""
        return self._lines("runs.jsonl")

    def events(self) -> list[dict]:
        return self._lines("events.jsonl")

    def docker(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", *args], env=self.env(), capture_output=True, text=True, timeout=60
        )

    def containers(self) -> list[str]:
        """Names of the containers that exist now (running or not)."""
        ids = self.docker("ps", "-a", "-q", "--no-trunc").stdout.split()
        if not ids:
            return []
        return [
            item["Name"].lstrip("/") for item in json.loads(self.docker("inspect", *ids).stdout)
        ]

    def max_running(self) -> int:
        """The most containers that ran at once."""
        running = peak = 0
        for event in sorted(self.events(), key=lambda event: event["time"]):
            running += 1 if event["event"] == "start" else -1
            peak = max(peak, running)
        return peak


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDocker]:
    """The stand-in on this process's PATH (and in ``env()`` for child processes).

    Containers a failing test leaves are killed and removed afterwards.
    """
    fake = FakeDocker(tmp_path / "fake-docker")
    for key, value in fake.env().items():
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)
    yield fake
    ids = fake.docker("ps", "-a", "-q", "--no-trunc").stdout.split()
    if ids:
        fake.docker("rm", "-f", *ids)
