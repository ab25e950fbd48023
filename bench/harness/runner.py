"""Run one ``redun run`` subprocess, time it, and classify what happened."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .venvs import Impl
from .workloads import Workload

OK = "ok"
TIMEOUT = "timeout"
RECURSION = "RecursionError"
FAILED = "failed"
WRONG = "wrong result"
SKIPPED = "skipped"
UNAVAILABLE = "unavailable"

TAIL_LINES = 12


@dataclass
class RunResult:
    impl: str
    workload: str
    n: int
    phase: str  # "first" (empty cache) or "cached" (re-run on the same cache)
    status: str
    seconds: float | None = None
    exit_code: int | None = None
    result: str | None = None  # last line of stdout
    detail: str = ""  # why it is not ok
    stderr_tail: list[str] = field(default_factory=list)
    command: str = ""
    logs: str = ""  # where stdout/stderr were written

    @property
    def ok(self) -> bool:
        return self.status == OK


def not_run(impl: str, workload: str, n: int, phase: str, status: str, detail: str) -> RunResult:
    return RunResult(impl, workload, n, phase, status, detail=detail)


def run_workload(
    impl: Impl, workload: Workload, n: int, workdir: Path, phase: str, timeout: float
) -> RunResult:
    """Run ``redun -c <workdir>/.redun run <workload>.py main --n N`` in ``workdir``.

    The workflow file must already have been copied into ``workdir``.  The
    wall-clock time covers the whole process: interpreter start-up, imports,
    scheduling, recording and exit.
    """
    script = workload.path.name
    cmd = [str(impl.redun), "-c", str(workdir / ".redun"), "run", script, "main", "--n", str(n)]
    stdout_path = workdir / f"{phase}.stdout"
    stderr_path = workdir / f"{phase}.stderr"
    result = RunResult(
        impl.name,
        workload.name,
        n,
        phase,
        FAILED,
        command=" ".join(cmd),
        logs=f"{stdout_path} {stderr_path}",
    )
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=_clean_env(impl),
                start_new_session=True,
            )
        except OSError as error:
            result.detail = f"cannot start {cmd[0]}: {error}"
            return result
        # A blocking wait, the timeout kept by a timer: Popen.wait(timeout=...) polls
        # with sleeps of up to 50 ms, which added that much to every time measured.
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            _kill_group(proc, reap=False)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            _kill_group(proc)  # it runs in its own session: Ctrl-C did not reach it
            raise
        finally:
            timer.cancel()
        result.seconds = time.perf_counter() - start
        if timed_out.is_set():
            result.status, result.seconds = TIMEOUT, timeout
            result.detail = f"still running after {timeout:g} s; killed"
            result.stderr_tail = _tail(stderr_path)
            return result
    result.exit_code = code
    stdout_lines = [line for line in _read(stdout_path).splitlines() if line.strip()]
    result.result = stdout_lines[-1].strip() if stdout_lines else None
    stderr_text = _read(stderr_path)
    if code != 0:
        result.stderr_tail = _tail(stderr_path)
        if "RecursionError" in stderr_text or "RecursionError" in _read(stdout_path):
            result.status, result.detail = RECURSION, f"exit {code}: RecursionError"
        else:
            result.status, result.detail = FAILED, f"exit {code}"
        return result
    expected = str(workload.expected(n))
    if result.result != expected:
        result.status = WRONG
        result.detail = f"last stdout line {result.result!r}, expected {expected!r}"
        result.stderr_tail = _tail(stderr_path)
        return result
    result.status = OK
    return result


def _clean_env(impl: Impl) -> dict[str, str]:
    """The caller's environment minus anything that could mix the two venvs or skew start-up."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
        # A user's machine caches bytecode: with this set, every run would compile
        # every module it imports, and the start-up measured would be no user's.
        and key != "PYTHONDONTWRITEBYTECODE"
    }
    env["VIRTUAL_ENV"] = str(impl.venv)
    env["PATH"] = f"{impl.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _kill_group(proc: subprocess.Popen, reap: bool = True) -> None:
    """Kill the process group this harness started for one run, and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if reap:
        proc.wait()


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    return _read(path).splitlines()[-lines:]
