"""Helpers of the end-to-end tests: real daemons in temporary homes, real workflow files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PYTHON = sys.executable

WORKFLOW = """
import os
import sys
import time

from redun import File, task

redun_namespace = "e2e"


@task
def greet(name: str = "world") -> str:
    print(f"greeting {name}")
    return f"Hello, {name}!"


@task
def inc(x: int) -> int:
    return x + 1


@task
def total(values: list) -> int:
    return sum(values)


@task
def fanout(n: int = 10) -> int:
    return total([inc(i) for i in range(n)])


@task
def boom(x: int = 1) -> int:
    raise ValueError(f"boom {x}")


@task
def crash(code: int = 3) -> int:
    os._exit(code)


@task
def hang(seconds: float = 3600.0) -> float:
    print("hanging", flush=True)
    time.sleep(seconds)
    return seconds


@task
def chatty(lines: int = 3) -> int:
    for i in range(lines):
        print(f"line {i}", flush=True)
        time.sleep(0.05)
    return lines


@task
def grpc_loaded() -> bool:
    return "grpc" in sys.modules


@task
def count_words(path: File) -> int:
    return len(path.read().split())


@task
def sum_list(xs: list[int]) -> int:
    return sum(xs)


@task
def big(n: int = 100000) -> list:
    return list(range(n))
"""


def redund(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "redund", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def redun(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "redun.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDUN_HOME", "REDUN_CONFIG", "REDUN_DB_URI", "REDUN_DAEMON_TOKEN"):
        env.pop(name, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class Daemon:
    """A daemon started for a test: its home, project dir and helpers."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.home = project / ".redun"
        self.env = clean_env()
        self.env["REDUN_HOME"] = str(self.home)

    def start(self, *extra: str) -> subprocess.CompletedProcess:
        result = redund("start", "--home", str(self.home), *extra, env=self.env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def stop(self) -> subprocess.CompletedProcess:
        return redund("stop", "--home", str(self.home), env=self.env)

    def redun(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return redun(*args, cwd=self.project, env=self.env, timeout=timeout)

    def pid(self) -> int:
        return int((self.home / "redund.pid").read_text())

    def client(self):  # type: ignore[no-untyped-def]
        from redun.client import Client

        return Client(home=str(self.home))


def write_workflow(directory: Path, name: str = "flow.py", text: str = WORKFLOW) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path
