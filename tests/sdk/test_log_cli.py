"""`redun log`: executions, job trees, jobs, values and files, as text and JSON."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import redun_cli

WORKFLOW = textwrap.dedent(
    """
    from redun import File, task

    redun_namespace = "logdemo"

    @task(tags=[("team", "ml")])
    def double(x: int) -> int:
        return 2 * x

    @task
    def write(values: list, path: str) -> File:
        out = File(path)
        out.write(",".join(map(str, values)))
        return out

    @task
    def fail(x: int) -> int:
        raise RuntimeError(f"no good: {x}")

    @task
    def main(n: int = 3) -> File:
        return write([double(i) for i in range(n)], "out.csv")
    """
)


def redun(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def project(workdir: Path, cli_env: dict[str, str]) -> Path:
    (workdir / "flow.py").write_text(WORKFLOW)
    first = redun(workdir, cli_env, "run", "--no-progress", "flow.py", "main")
    assert first.returncode == 0, first.stderr
    second = redun(workdir, cli_env, "run", "--no-progress", "flow.py", "main")
    assert second.returncode == 0, second.stderr
    return workdir


def test_log_lists_executions(project: Path, cli_env: dict[str, str]) -> None:
    result = redun(project, cli_env, "log")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("Exec ")]
    assert len(lines) == 2
    assert "redun run --no-progress flow.py main" in lines[0]
    assert "cached 1" in lines[0] and "done 5" in lines[1]
    data = json.loads(redun(project, cli_env, "log", "--format", "json").stdout)
    assert [e["status"] for e in data] == ["done", "done"]
    assert data[1]["job_counts"] == {"done": 5}
    assert data[0]["argv"][-2:] == ["flow.py", "main"]


def test_log_dash_and_execution_show_the_job_tree(project: Path, cli_env: dict[str, str]) -> None:
    executions = json.loads(redun(project, cli_env, "log", "--format", "json").stdout)
    first = executions[1]["id"]
    result = redun(project, cli_env, "log", first[:8])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Exec {first}" in out
    assert "Jobs: 5 (DONE: 5" in out
    tree = out.split("-" * 80)[1].strip().splitlines()
    assert tree[0].startswith("Job ") and "logdemo.main(n=3)" in tree[0]
    assert all(line.startswith("  Job ") for line in tree[1:])
    assert any("logdemo.double(x=2) -> 4" in line for line in tree)
    latest = redun(project, cli_env, "log", "-")
    assert "CACHED" in latest.stdout and "Jobs: 1" in latest.stdout
    data = json.loads(redun(project, cli_env, "log", first, "--format", "json").stdout)
    assert data["execution"]["id"] == first
    assert sorted(job["task_name"] for job in data["jobs"]) == [
        "logdemo.double",
        "logdemo.double",
        "logdemo.double",
        "logdemo.main",
        "logdemo.write",
    ]


def test_log_job_shows_arguments_result_source_and_timings(
    project: Path, cli_env: dict[str, str]
) -> None:
    executions = json.loads(redun(project, cli_env, "log", "--format", "json").stdout)
    jobs = json.loads(
        redun(project, cli_env, "log", executions[1]["id"], "--format", "json").stdout
    )["jobs"]
    double = next(job for job in jobs if job["task_name"] == "logdemo.double")
    result = redun(project, cli_env, "log", double["id"][:10])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Job {double['id']}" in out
    assert "Arguments:" in out and "    x = " in out
    assert "Result: " in out
    assert "def double(x: int) -> int:" in out
    assert "Duration:" in out and "Reason: no earlier call" in out
    assert "  Tags: team=ml" in out.splitlines()  # the job's tags, as redun shows them
    data = json.loads(redun(project, cli_env, "log", double["id"], "--format", "json").stdout)
    assert data["job"]["state"] == "done"
    assert data["job"]["tags"] == {"team": "ml"}
    x = int(data["arguments"]["x"]["preview"])
    assert data["result"]["preview"] == str(2 * x)
    assert "def double" in data["task"]["source"]


def test_log_failed_job_shows_the_traceback(workdir: Path, cli_env: dict[str, str]) -> None:
    (workdir / "flow.py").write_text(WORKFLOW)
    failed = redun(workdir, cli_env, "run", "--no-progress", "flow.py", "fail", "--x", "7")
    assert failed.returncode == 1
    latest = redun(workdir, cli_env, "log", "-")
    assert "FAILED" in latest.stdout and "RuntimeError: no good: 7" in latest.stdout
    job_id = json.loads(redun(workdir, cli_env, "log", "-", "--format", "json").stdout)["jobs"][0][
        "id"
    ]
    detail = redun(workdir, cli_env, "log", job_id)
    assert "Traceback:" in detail.stdout and 'raise RuntimeError(f"no good: {x}")' in detail.stdout


def test_log_unknown_id_and_missing_database(workdir: Path, cli_env: dict[str, str]) -> None:
    missing = redun(workdir, cli_env, "log")
    assert missing.returncode == 1
    assert "no redun database at" in missing.stderr and "Traceback" not in missing.stderr
    (workdir / "flow.py").write_text(WORKFLOW)
    redun(workdir, cli_env, "run", "--no-progress", "flow.py", "double", "--x", "1")
    unknown = redun(workdir, cli_env, "log", "no/such/file.txt")
    assert unknown.returncode == 2
    assert "no recorded file or value matches" in unknown.stderr
