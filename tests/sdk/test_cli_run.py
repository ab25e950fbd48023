"""`redun run`: arguments, output, exit codes, and the persistent cache."""

from __future__ import annotations

import pprint
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import redun_cli

WORKFLOW = textwrap.dedent(
    '''
    from redun import File, get_context, task

    redun_namespace = "cli"


    @task
    def add(a: int, b: int = 10) -> int:
        return a + b


    @task
    def main(n: int, scale: float = 1.0, names: list[str] = [], loud: bool = False) -> dict:
        """Combine the arguments."""
        return {"n": n, "scale": scale, "names": names, "loud": loud}


    @task
    def summed(xs: list[int]) -> int:
        return sum(xs)


    def check(x):
        if x < 0:
            raise ValueError(f"negative input: {x}")
        return x


    @task
    def failing(x: int) -> int:
        return check(x)


    @task
    def fails_below(x: int, label: str = "deep") -> int:
        return failing(x - 5)


    @task
    def read_size(path: File) -> int:
        return len(path.read())


    @task
    def greeting() -> str:
        return get_context("say.word", "none")
    '''
)


def run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def flow_dir(tmp_path: Path) -> Path:
    (tmp_path / "flow.py").write_text(WORKFLOW)
    return tmp_path


def test_arguments_are_parsed_from_the_signature(flow_dir: Path, cli_env: dict) -> None:
    proc = run(
        flow_dir,
        cli_env,
        "run",
        "flow.py",
        "main",
        "--n",
        "3",
        "--scale",
        "2.5",
        "--names",
        "x",
        "y",
        "--loud",
        "true",
    )
    assert proc.returncode == 0, proc.stderr
    # Printed as redun prints results: pprint (dict keys sorted).
    assert proc.stdout.strip().splitlines()[-1] == pprint.pformat(
        {"n": 3, "scale": 2.5, "names": ["x", "y"], "loud": True}
    )
    proc = run(flow_dir, cli_env, "run", "flow.py", "summed", "--xs", "1", "2", "3")
    assert proc.stdout.strip().splitlines()[-1] == "6"
    proc = run(flow_dir, cli_env, "run", "flow.py", "cli.add", "--a", "1")
    assert proc.stdout.strip().splitlines()[-1] == "11"


def test_file_arguments(flow_dir: Path, cli_env: dict) -> None:
    (flow_dir / "data.txt").write_text("hello")
    proc = run(flow_dir, cli_env, "run", "flow.py", "read_size", "--path", "data.txt")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "5"


def test_second_run_reuses_the_first_runs_results(flow_dir: Path, cli_env: dict) -> None:
    first = run(flow_dir, cli_env, "run", "flow.py", "add", "--a", "1", "--b", "2")
    assert first.returncode == 0, first.stderr
    assert "done=1" in first.stderr
    assert (flow_dir / ".redun" / "redun.ini").exists()
    assert (flow_dir / ".redun" / "redun.db").exists()
    second = run(flow_dir, cli_env, "run", "flow.py", "add", "--a", "1", "--b", "2")
    assert second.stdout.strip().splitlines()[-1] == "3"
    assert "cached=1" in second.stderr
    third = run(flow_dir, cli_env, "run", "--no-cache", "flow.py", "add", "--a", "1", "--b", "2")
    assert "done=1" in third.stderr


def test_dryrun_says_what_would_run(flow_dir: Path, cli_env: dict) -> None:
    proc = run(flow_dir, cli_env, "run", "--dryrun", "flow.py", "add", "--a", "5")
    assert proc.returncode == 0, proc.stderr
    assert "1 job(s) would run" in proc.stderr and "cli.add(a=5)" in proc.stderr
    run(flow_dir, cli_env, "run", "flow.py", "add", "--a", "5")
    proc = run(flow_dir, cli_env, "run", "--dryrun", "flow.py", "add", "--a", "5")
    assert "nothing would run" in proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "15"


def test_context_option_sets_nested_values(flow_dir: Path, cli_env: dict) -> None:
    proc = run(flow_dir, cli_env, "run", "--context", "say.word=hi", "flow.py", "greeting")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "'hi'"
    proc = run(flow_dir, cli_env, "run", "flow.py", "greeting")
    assert proc.stdout.strip().splitlines()[-1] == "'none'"
    proc = run(flow_dir, cli_env, "run", "--context", "nokey", "flow.py", "greeting")
    assert proc.returncode == 2 and "KEY=VALUE" in proc.stderr


def test_config_dir_option(flow_dir: Path, cli_env: dict) -> None:
    proc = run(flow_dir, cli_env, "-c", "elsewhere", "run", "flow.py", "add", "--a", "1")
    assert proc.returncode == 0, proc.stderr
    assert (flow_dir / "elsewhere" / "redun.db").exists()
    assert not (flow_dir / ".redun").exists()


def test_failing_task_exits_1_with_a_trimmed_traceback(flow_dir: Path, cli_env: dict) -> None:
    proc = run(flow_dir, cli_env, "run", "flow.py", "failing", "--x", "-1")
    assert proc.returncode == 1
    assert "ValueError: negative input: -1" in proc.stderr
    assert "in check" in proc.stderr and "flow.py" in proc.stderr
    assert "scheduler/core.py" not in proc.stderr
    assert "cli.failing failed" in proc.stderr


def test_a_failure_below_other_tasks_shows_the_task_stack(flow_dir: Path, cli_env: dict) -> None:
    proc = run(flow_dir, cli_env, "run", "flow.py", "fails_below", "--x", "3")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    start = lines.index("Task stack (outermost first):")
    outer, inner = lines[start + 1], lines[start + 2]
    # Each call with its arguments as the task received them, outermost first.
    assert outer.split()[0] == "cli.fails_below(x=3," and "label='deep')" in outer
    assert inner.split()[0] == "cli.failing(x=-2)"
    assert outer.rstrip().endswith("flow.py:35") and inner.rstrip().endswith("flow.py:30")
    assert lines[start + 3] == "Traceback (most recent call last):"
    assert "ValueError: negative input: -2" in proc.stderr


PROCESS_FLOW = textwrap.dedent(
    """
    from redun import task

    redun_namespace = "proc"


    @task(executor="proc")
    def leaf(path: str) -> str:
        raise FileNotFoundError(path)


    @task
    def main(n: int = 2) -> list:
        return [leaf(f"/data/{i}.csv") for i in range(n)]
    """
)


def test_a_failure_in_another_process_is_reported_like_a_local_one(
    tmp_path: Path, cli_env: dict
) -> None:
    (tmp_path / "flow.py").write_text(PROCESS_FLOW)
    (tmp_path / ".redun").mkdir()
    (tmp_path / ".redun" / "redun.ini").write_text("[executors.proc]\ntype = processes\n")
    proc = run(tmp_path, cli_env, "run", "flow.py", "main")
    assert proc.returncode == 1
    # The traceback was formatted in the worker process: still trimmed to the user's
    # code, under the failed task and the task stack.
    assert "Task proc.leaf failed (job " in proc.stderr
    assert "proc.main(n=2)" in proc.stderr and "proc.leaf(path='/data/" in proc.stderr
    assert 'flow.py", line 9, in leaf' in proc.stderr
    assert "redun/executors" not in proc.stderr
    assert "FileNotFoundError: /data/" in proc.stderr
    full = run(tmp_path, cli_env, "run", "--traceback", "flow.py", "main")
    assert "redun/executors/processes.py" in full.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "nope.py", "main"), "workflow file not found: nope.py"),
        (("run", "flow.py", "mian", "--n", "1"), "did you mean 'main'?"),
        (("run", "flow.py", "main", "--n", "three"), "argument --n: invalid int value: 'three'"),
        (("run", "flow.py", "main"), "needs --n"),
        (("run", "flow.py", "main", "--n", "1", "--bogus", "2"), "unrecognized arguments"),
        (("run", "flow.py", "main", "--n", "1", "--loud", "maybe"), "expected true or false"),
    ],
)
def test_bad_usage_exits_2_with_a_clear_message(
    flow_dir: Path, cli_env: dict, args: tuple, message: str
) -> None:
    proc = run(flow_dir, cli_env, *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_syntax_error_in_workflow_is_reported(flow_dir: Path, cli_env: dict) -> None:
    (flow_dir / "broken.py").write_text("from redun import task\n\n@task\ndef main(:\n    pass\n")
    proc = run(flow_dir, cli_env, "run", "broken.py", "main")
    assert proc.returncode == 2  # as 'redun submit' refuses it: nothing ran
    assert "SyntaxError" in proc.stderr and "broken.py" in proc.stderr


def test_help_lists_task_arguments(flow_dir: Path, cli_env: dict) -> None:
    proc = run(flow_dir, cli_env, "run", "flow.py", "main", "--help")
    assert proc.returncode == 0
    assert "--scale" in proc.stdout and "Combine the arguments." in proc.stdout
