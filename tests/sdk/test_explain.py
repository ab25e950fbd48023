"""`redun explain` and `redun run --explain`: which argument, file or code part changed."""

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

    redun_namespace = "ex"

    SCALE = 2

    def helper(x):
        return x * SCALE

    @task
    def step(x: int) -> int:
        return helper(x)

    @task
    def measure(path: File) -> int:
        return len(path.read())

    @task
    def child(x: int) -> int:
        return x + 1

    @task
    def parent(x: int) -> int:
        return child(x)

    @task(cache=False)
    def uncached(x: int) -> int:
        return x

    @task
    def main(n: int = 2) -> list:
        return [step(i) for i in range(n)]
    """
)


def redun(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def project(workdir: Path) -> Path:
    (workdir / "flow.py").write_text(WORKFLOW)
    return workdir


def run_ok(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = redun(cwd, env, "run", "--no-progress", *args)
    assert result.returncode == 0, result.stderr
    return result


def last_job(cwd: Path, env: dict[str, str], task: str) -> str:
    data = json.loads(redun(cwd, env, "log", "-", "--format", "json").stdout)
    jobs = [job for job in data["jobs"] if job["task_name"] == task]
    return jobs[-1]["id"]


def explain_json(cwd: Path, env: dict[str, str], job_id: str) -> dict:
    result = redun(cwd, env, "explain", job_id, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_first_run_and_cache_hit(project: Path, cli_env: dict[str, str]) -> None:
    run_ok(project, cli_env, "flow.py", "step", "--x", "3")
    first = explain_json(project, cli_env, last_job(project, cli_env, "ex.step"))
    assert first["outcome"] == "ran" and "first run" in first["summary"]
    run_ok(project, cli_env, "flow.py", "step", "--x", "3")
    hit = explain_json(project, cli_env, last_job(project, cli_env, "ex.step"))
    assert hit["outcome"] == "cached"
    assert hit["previous"]["job_id"] and "still valid" in hit["summary"]


def test_argument_change_names_the_argument(project: Path, cli_env: dict[str, str]) -> None:
    run_ok(project, cli_env, "flow.py", "step", "--x", "3")
    run_ok(project, cli_env, "flow.py", "step", "--x", "4")
    data = explain_json(project, cli_env, last_job(project, cli_env, "ex.step"))
    (change,) = data["changes"]
    assert change["kind"] == "argument" and change["name"] == "x"
    assert (change["before"], change["after"]) == ("3", "4")
    text = redun(project, cli_env, "explain", last_job(project, cli_env, "ex.step")).stdout
    assert "argument x changed: 3 -> 4" in text


def test_helper_and_constant_changes_are_named(project: Path, cli_env: dict[str, str]) -> None:
    run_ok(project, cli_env, "flow.py", "step", "--x", "3")
    flow = project / "flow.py"
    flow.write_text(WORKFLOW.replace("return x * SCALE", "return x * SCALE + 1"))
    run_ok(project, cli_env, "flow.py", "step", "--x", "3")
    data = explain_json(project, cli_env, last_job(project, cli_env, "ex.step"))
    assert [(c["kind"], c["name"]) for c in data["changes"]] == [("code", "helper:flow.helper")]
    assert "helper function flow.helper changed" in data["changes"][0]["message"]
    flow.write_text(
        WORKFLOW.replace("return x * SCALE", "return x * SCALE + 1").replace(
            "SCALE = 2", "SCALE = 5"
        )
    )
    run_ok(project, cli_env, "flow.py", "step", "--x", "3")
    data = explain_json(project, cli_env, last_job(project, cli_env, "ex.step"))
    assert [c["name"] for c in data["changes"]] == ["const:flow.SCALE"]
    assert "module constant flow.SCALE changed" in data["changes"][0]["message"]


def test_file_change_names_the_file(project: Path, cli_env: dict[str, str]) -> None:
    (project / "data.txt").write_text("abc")
    run_ok(project, cli_env, "flow.py", "measure", "--path", "data.txt")
    (project / "data.txt").write_text("abcdef")
    run_ok(project, cli_env, "flow.py", "measure", "--path", "data.txt")
    data = explain_json(project, cli_env, last_job(project, cli_env, "ex.measure"))
    (change,) = data["changes"]
    assert change["kind"] == "file" and change["name"] == "data.txt"
    assert "size 3 -> 6 bytes" in change["message"]


def test_child_code_change_explains_the_parent(project: Path, cli_env: dict[str, str]) -> None:
    run_ok(project, cli_env, "flow.py", "parent", "--x", "1")
    (project / "flow.py").write_text(WORKFLOW.replace("return x + 1", "return x + 2"))
    run_ok(project, cli_env, "flow.py", "parent", "--x", "1")
    data = explain_json(project, cli_env, last_job(project, cli_env, "ex.parent"))
    assert data["outcome"] == "cached"
    assert "same task code and arguments" in data["summary"]
    assert "evaluated again" in data["summary"]
    (change,) = data["changes"]
    assert change["kind"] == "validity"
    assert "the code of task ex.child changed" in change["message"]


def test_cleared_cache_and_cache_false(project: Path, cli_env: dict[str, str]) -> None:
    run_ok(project, cli_env, "flow.py", "step", "--x", "3")
    cleared = redun(project, cli_env, "cache", "clear", "step")
    assert cleared.returncode == 0, cleared.stderr
    assert "cleared 1 cached call(s) of ex.step" in cleared.stdout
    run_ok(project, cli_env, "flow.py", "step", "--x", "3")
    data = explain_json(project, cli_env, last_job(project, cli_env, "ex.step"))
    assert "cache had no entry" in data["changes"][0]["message"]
    run_ok(project, cli_env, "flow.py", "uncached", "--x", "1")
    run_ok(project, cli_env, "flow.py", "uncached", "--x", "1")
    data = explain_json(project, cli_env, last_job(project, cli_env, "ex.uncached"))
    assert "cache=False" in data["summary"]
    bad = redun(project, cli_env, "cache", "clear", "stpe")
    assert bad.returncode == 2 and "did you mean 'ex.step'" in bad.stderr


def test_run_explain_reports_every_task(project: Path, cli_env: dict[str, str]) -> None:
    run_ok(project, cli_env, "flow.py", "main", "--n", "2")
    (project / "flow.py").write_text(WORKFLOW.replace("SCALE = 2", "SCALE = 3"))
    result = run_ok(project, cli_env, "--explain", "flow.py", "main", "--n", "2")
    err = result.stderr
    assert "[redun] explain: 2 job(s) ran, 1 hit the cache (1 of them re-evaluated" in err
    assert "ex.step(0): ran" in err and "module constant flow.SCALE changed" in err
    # main did not run: its recorded expression was evaluated again, and this is why.
    assert "ex.main(n=2): cached" in err
    assert "the code of task ex.step changed" in err
    dry = run_ok(project, cli_env, "--dryrun", "--explain", "flow.py", "main", "--n", "3")
    assert "would run" in dry.stderr and "argument n changed: 2 -> 3" in dry.stderr
    assert dry.stderr.count("argument n changed") == 1  # said once, --explain or not


def test_dryrun_says_what_changed_without_explain(project: Path, cli_env: dict[str, str]) -> None:
    run_ok(project, cli_env, "flow.py", "main", "--n", "2")
    (project / "flow.py").write_text(WORKFLOW.replace("SCALE = 2", "SCALE = 3"))
    dry = run_ok(project, cli_env, "--dryrun", "flow.py", "main", "--n", "2")
    lines = dry.stderr.splitlines()
    assert "[redun] dryrun: 2 job(s) would run:" in lines
    assert "  ex.step(0): would run" in lines and "  ex.step(1): would run" in lines
    assert dry.stderr.count("module constant flow.SCALE changed") == 2
    assert "no earlier call with this code" not in dry.stderr


def test_a_dry_run_from_python_logs_why_its_jobs_would_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from redun import Scheduler, task
    from redun.config import Config
    from redun.scheduler import DryRunResult

    @task(namespace="ex_api", version="1")
    def double(x: int) -> int:
        return 2 * x

    scheduler = Scheduler(
        config=Config({"backend": {"db_uri": f"sqlite:///{tmp_path / 'redun.db'}"}})
    )
    assert scheduler.run(double(10)) == 20
    with caplog.at_level(logging.INFO, logger="redun"), pytest.raises(DryRunResult) as dry:
        scheduler.run(double(11), dryrun=True)
    assert "argument x changed: 10 -> 11" in dry.value.report
    assert "  ex_api.double(11): would run" in caplog.messages
    assert any("argument x changed: 10 -> 11" in message for message in caplog.messages)
    # The headline in insitro/redun's words, which its users look for in their logs.
    assert any(
        "Existing task 'ex_api.double()' is called with new arguments" in message
        for message in caplog.messages
    )

    @task(namespace="ex_api", version="2")  # type: ignore[no-redef]
    def double(x: int) -> int:
        return 2 * x

    for expr, headline in [
        (double(10), "New task 'ex_api.double()' with previous arguments"),
        (double(11), "New task 'ex_api.double()' is called with new arguments"),
    ]:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="redun"), pytest.raises(DryRunResult):
            scheduler.run(expr, dryrun=True)
        assert any(headline in message for message in caplog.messages), caplog.messages


def test_explain_an_execution(project: Path, cli_env: dict[str, str]) -> None:
    run_ok(project, cli_env, "flow.py", "main", "--n", "2")
    result = redun(project, cli_env, "explain", "-")
    assert result.returncode == 0, result.stderr
    assert "3 job(s) ran, 0 hit the cache" in result.stdout
    assert result.stdout.count("first run") == 3  # main and both steps (made at once)
