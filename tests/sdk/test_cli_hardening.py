"""`redun run` as users meet it: exit codes, one-line errors, shadowed modules, private store,
options after the task."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import redun_cli

FLOW = textwrap.dedent(
    """
    import os
    import sys
    import threading

    from redun import task

    redun_namespace = "hardening"


    @task
    def leave(code: int = 0) -> int:
        sys.exit(code)


    @task
    def crash() -> int:
        os._exit(3)


    @task
    def interrupted() -> int:
        raise KeyboardInterrupt


    class Stubborn:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")


    @task
    def stubborn() -> Stubborn:
        return Stubborn()


    @task
    def locked() -> object:
        return threading.Lock()


    @task
    def add(n: int, dryrun: bool = False) -> int:
        return n + (100 if dryrun else 1)
    """
)


def run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def flow_dir(tmp_path: Path) -> Path:
    (tmp_path / "flow.py").write_text(FLOW)
    return tmp_path


# -- exit codes (issue 18 item 2) -------------------------------------------------------------
@pytest.mark.parametrize("code", ["0", "3"])
def test_sys_exit_in_a_task_fails_the_run_with_exit_1(
    flow_dir: Path, cli_env: dict, code: str
) -> None:
    proc = run(flow_dir, cli_env, "run", "--no-progress", "flow.py", "leave", "--code", code)
    assert proc.returncode == 1, proc.stderr
    assert f"task hardening.leave called sys.exit({code})" in proc.stderr
    log = run(flow_dir, cli_env, "log", "--format", "json")
    assert json.loads(log.stdout)[0]["status"] == "failed"


def test_a_task_raising_keyboard_interrupt_fails_the_run(flow_dir: Path, cli_env: dict) -> None:
    proc = run(flow_dir, cli_env, "run", "--no-progress", "flow.py", "interrupted")
    assert proc.returncode == 1, proc.stderr
    assert "KeyboardInterrupt: raised by task hardening.interrupted" in proc.stderr
    log = run(flow_dir, cli_env, "log", "--format", "json")
    assert json.loads(log.stdout)[0]["status"] == "failed"


def test_a_process_killed_in_a_task_leaves_an_interrupted_execution(
    flow_dir: Path, cli_env: dict
) -> None:
    proc = run(flow_dir, cli_env, "run", "--no-progress", "flow.py", "crash")
    assert proc.returncode == 3
    log = run(flow_dir, cli_env, "log", "--format", "json")
    executions = json.loads(log.stdout)
    assert len(executions) == 1 and executions[0]["status"] == "interrupted"
    assert "crash" in " ".join(executions[0]["argv"])


# -- one-line errors (item 7) --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("[backend\ndb_uri = x\n", "line 1: expected a [section] header, got '[backend'"),
        (
            "[executors.default]\ntype = threads\nmax_workers = banana\n",
            "[executors.default] max_workers = 'banana': expected an integer >= 1",
        ),
        ("[executors.default]\ntype = nope\n", "[executors.default] type = 'nope': expected one"),
        ("[limits]\ngpu = lots\n", "[limits] gpu = 'lots': expected an integer >= 0"),
        ("[scheduler]\ncontext = {oops\n", "[scheduler] context = '{oops': expected a JSON"),
    ],
)
def test_a_bad_redun_ini_is_one_line_naming_the_file(
    flow_dir: Path, cli_env: dict, ini: str, message: str
) -> None:
    (flow_dir / ".redun").mkdir()
    (flow_dir / ".redun" / "redun.ini").write_text(ini)
    proc = run(flow_dir, cli_env, "run", "flow.py", "add", "--n", "1")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"redun: error: {flow_dir / '.redun' / 'redun.ini'}: ")
    assert message in lines[0]


def test_an_unhashable_result_shows_the_error_without_engine_frames(
    flow_dir: Path, cli_env: dict
) -> None:
    proc = run(flow_dir, cli_env, "run", "--no-progress", "flow.py", "locked")
    assert proc.returncode == 1
    assert "HashingError: cannot hash a _thread.lock" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 3
    full = run(flow_dir, cli_env, "run", "--no-progress", "--traceback", "flow.py", "locked")
    assert "Traceback" in full.stderr and "redun/hashing" in full.stderr


def test_a_result_whose_repr_raises_is_still_reported(flow_dir: Path, cli_env: dict) -> None:
    proc = run(flow_dir, cli_env, "run", "--no-progress", "flow.py", "stubborn")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "<Stubborn object; its __repr__ raised RuntimeError>"


# -- shadowed modules (item 8) -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["types", "json", "redun"])
def test_a_workflow_named_like_a_module_is_refused_with_the_reason(
    tmp_path: Path, cli_env: dict, name: str
) -> None:
    sub = tmp_path / "wf"
    sub.mkdir()
    (sub / f"{name}.py").write_text(
        "from redun import task\n\n@task\ndef main() -> int:\n  return 1\n"
    )
    proc = run(tmp_path, cli_env, "run", f"wf/{name}.py", "main")
    assert proc.returncode == 2
    assert "has the name of the" in proc.stderr and f"module {name!r}" in proc.stderr
    assert f"rename it (for example to {name}_flow.py)" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- a private store (item 11) -----------------------------------------------------------------
def test_a_new_home_and_database_are_the_owners_alone(flow_dir: Path, cli_env: dict) -> None:
    old = os.umask(0o022)
    try:
        proc = run(flow_dir, cli_env, "run", "--no-progress", "flow.py", "add", "--n", "1")
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((flow_dir / ".redun").stat().st_mode) == 0o700
    assert stat.S_IMODE((flow_dir / ".redun" / "redun.db").stat().st_mode) == 0o600


# -- options after the task (item 12) ------------------------------------------------------------
def test_run_options_may_follow_the_task_arguments(flow_dir: Path, cli_env: dict) -> None:
    assert (
        run(flow_dir, cli_env, "run", "flow.py", "add", "--n", "1", "--no-progress").stdout == "2\n"
    )
    dry = run(flow_dir, cli_env, "run", "flow.py", "leave", "--code", "0", "--dryrun")
    assert dry.returncode == 0, dry.stderr
    assert "1 job(s) would run" in dry.stderr
    again = run(
        flow_dir, cli_env, "run", "flow.py", "add", "--n", "1", "--no-cache", "--no-progress"
    )
    assert again.returncode == 0 and "done=1" in again.stderr and again.stdout == "2\n"
    # A task parameter of the same name wins; after '--' everything is the task's.
    assert (
        run(flow_dir, cli_env, "run", "flow.py", "add", "--n", "1", "--dryrun", "true").stdout
        == "101\n"
    )
    ctx = run(
        flow_dir,
        cli_env,
        "run",
        "flow.py",
        "add",
        "--n",
        "2",
        "--context",
        "a=1",
        "--",
    )
    assert ctx.returncode == 0 and ctx.stdout == "3\n", ctx.stderr
