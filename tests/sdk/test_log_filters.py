"""`redun log` listings with redun's filters: kinds, statuses, tasks, values, files,
executions, results, arguments, tags, --count and --detail, in text and JSON.

One store for the module: four real runs (done, all cached, failed, tagged with
new work), read back through the CLI in this process.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from redun.cli.main import main
from tests.conftest import redun_cli

WORKFLOW = textwrap.dedent(
    """
    from redun import File, task

    redun_namespace = "lg"

    @task
    def add(a: int, b: int) -> int:
        return a + b

    @task
    def boom(x: int) -> int:
        raise ValueError(f"bad {x}")

    @task
    def write(values: list, path: str) -> File:
        out = File(path)
        out.write(",".join(map(str, values)))
        return out

    @task
    def main(n: int = 3) -> File:
        return write([add(i, 1) for i in range(n)], "out.csv")

    @task
    def failing(n: int = 2) -> int:
        return boom(add(n, 1))
    """
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    root = tmp_path_factory.mktemp("logfilters")
    (root / "flow.py").write_text(WORKFLOW)
    env = {k: v for k, v in os.environ.items() if k not in ("REDUN_CONFIG", "REDUN_DB_URI")}
    runs = [
        (["flow.py", "main"], 0),
        (["flow.py", "main"], 0),  # all from the cache
        (["flow.py", "failing"], 1),
        (["-t", "env=prod", "flow.py", "main", "--n", "4"], 0),
    ]
    for argv, code in runs:
        done = subprocess.run(
            [*redun_cli(), "run", "--no-progress", *argv],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code, done.stderr
    return root


@pytest.fixture
def log(store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Any:
    monkeypatch.chdir(store)
    monkeypatch.delenv("REDUN_CONFIG", raising=False)
    monkeypatch.delenv("REDUN_DB_URI", raising=False)

    def run(*args: str, code: int = 0) -> str:
        capsys.readouterr()
        assert main(["log", *args]) == code
        captured = capsys.readouterr()
        return captured.out if code == 0 else captured.err

    return run


def db(store: Path, sql: str, *params: Any) -> list[tuple]:
    with sqlite3.connect(store / ".redun" / "redun.db") as conn:
        return conn.execute(sql, params).fetchall()


def ids(log: Any, *args: str) -> list[str]:
    """Full ids (or hashes) the JSON listing returns."""
    rows = json.loads(log(*args, "--format", "json"))
    return [row.get("id") or row.get("call_hash") or row.get("hash") for row in rows]


def short_ids(text: str, kind: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.startswith(kind + " ")]


def execution_id(store: Path, word: str) -> str:
    [(found,)] = db(store, "SELECT id FROM redun_execution WHERE argv LIKE ?", f"%{word}%")
    return found


def test_no_pager_is_accepted_and_count_counts_each_kind(log: Any, store: Path) -> None:
    assert log("--no-pager", "--count").split() == ["4", "Execution"]
    jobs = db(store, "SELECT COUNT(*) FROM redun_job")[0][0]
    calls = db(store, "SELECT COUNT(*) FROM redun_call_node")[0][0]
    values = db(store, "SELECT COUNT(*) FROM redun_value")[0][0]
    counts = json.loads(log("--all", "--count", "--format", "json"))
    assert counts == {"Execution": 4, "Job": jobs, "CallNode": calls, "Task": 5, "Value": values}
    text = log("--all", "--count").splitlines()
    assert [line.split()[1] for line in text] == ["Execution", "Job", "CallNode", "Task", "Value"]
    assert log("--job", "--count").split() == [str(jobs), "Job"]


def test_exec_status_selects_executions(log: Any, store: Path) -> None:
    failed = execution_id(store, "failing")
    assert ids(log, "--exec", "--exec-status", "FAILED") == [failed]
    assert short_ids(log("--exec-status", "failed"), "Exec") == [failed[:8]]
    done = ids(log, "--exec", "--exec-status", "DONE")
    assert len(done) == 3 and failed not in done
    assert sorted(ids(log, "--exec-status", "DONE,FAILED")) == sorted([*done, failed])
    assert ids(log, "--exec-status", "RUNNING") == []
    assert "unknown status" in log("--exec-status", "BOGUS", code=2)


def test_job_status_maps_onto_state_and_cached(log: Any, store: Path) -> None:
    cached = {r[0] for r in db(store, "SELECT id FROM redun_job WHERE cached")}
    done = {r[0] for r in db(store, "SELECT id FROM redun_job WHERE state = 'done' AND NOT cached")}
    failed = {r[0] for r in db(store, "SELECT id FROM redun_job WHERE state = 'failed'")}
    assert cached and done and len(failed) == 2
    assert set(ids(log, "--job", "--job-status", "CACHED")) == cached
    assert set(ids(log, "--job", "--job-status", "DONE")) == done
    assert set(ids(log, "--job-status", "FAILED")) == failed  # jobs: the status's own kind
    assert set(ids(log, "--job", "--job-status", "CACHED,FAILED")) == cached | failed
    assert ids(log, "--job", "--job-status", "RUNNING") == []
    text = log("--job", "--job-status", "FAILED")
    assert sorted(short_ids(text, "Job")) == sorted(i[:8] for i in failed)
    assert log("--job", "--job-status", "CACHED,FAILED", "--count").split() == [
        str(len(cached | failed)),
        "Job",
    ]


def test_task_name_and_hash_narrow_jobs_and_tasks(log: Any, store: Path) -> None:
    adds = {r[0] for r in db(store, "SELECT id FROM redun_job WHERE task_name = 'lg.add'")}
    cached_adds = {
        r[0] for r in db(store, "SELECT id FROM redun_job WHERE task_name = 'lg.add' AND cached")
    }
    assert cached_adds and cached_adds != adds
    assert set(ids(log, "--job", "--task-name", "add", "--job-status", "CACHED")) == cached_adds
    assert set(ids(log, "--job", "--task-name", "lg.add")) == adds
    assert set(ids(log, "--task-name", "add")) == adds
    assert ids(log, "--job", "--task-name", "other.add") == []
    [(add_hash,)] = db(store, "SELECT hash FROM redun_task WHERE fullname = 'lg.add'")
    assert ids(log, "--task", "--task-name", "add") == [add_hash]
    assert set(ids(log, "--job", "--task-hash", add_hash)) == adds
    assert set(ids(log, "--task-hash", add_hash[:8])) == adds
    counts = json.loads(log("--all", "--task-name", "add", "--count", "--format", "json"))
    assert counts == {"Job": len(adds), "Task": 1}
    assert ids(log, "--exec", "--task-name", "add") == []  # executions have no task
    tasks = short_ids(log("--task"), "Task")
    assert len(tasks) == 5


def test_value_type_file_path_and_files(log: Any, store: Path) -> None:
    ints = {r[0] for r in db(store, "SELECT hash FROM redun_value WHERE type_name = 'int'")}
    assert len(ints) == 5  # 0..4
    assert set(ids(log, "--value-type", "builtins.int")) == ints
    assert set(ids(log, "--value", "--value-type", "int")) == ints
    assert log("--value", "--value-type", "int", "--count").split() == ["5", "Value"]
    files = {r[0] for r in db(store, "SELECT value_hash FROM redun_file WHERE path = 'out.csv'")}
    assert len(files) == 2  # two contents of out.csv
    assert set(ids(log, "--file-path", "out.csv")) == files
    assert set(ids(log, "--file-path", "*.csv")) == files
    assert ids(log, "--file-path", "*.txt") == []
    assert log("--file").splitlines() == ["File out.csv"]
    assert json.loads(log("--file", "--file-path", "out*", "--format", "json")) == [
        {"_type": "File", "path": "out.csv"}
    ]


def test_exec_id_scopes_every_kind(log: Any, store: Path) -> None:
    failed = execution_id(store, "failing")
    jobs = {r[0] for r in db(store, "SELECT id FROM redun_job WHERE execution_id = ?", failed)}
    assert len(jobs) == 3
    assert ids(log, "--exec-id", failed[:8]) == [failed]
    assert set(ids(log, "--exec-id", failed[:8], "--job")) == jobs
    rows = json.loads(log("--all", "--exec-id", failed, "--format", "json"))
    by_kind: dict[str, list] = {}
    for row in rows:
        by_kind.setdefault(row["_type"], []).append(row)
    assert len(by_kind["Execution"]) == 1 and len(by_kind["Job"]) == 3
    assert sorted(t["fullname"] for t in by_kind["Task"]) == ["lg.add", "lg.boom", "lg.failing"]
    # 2 and 1 (add's arguments, and failing's n), 3 (add's result, boom's argument), and
    # the error both failed calls have as their result.
    assert sorted(v["preview"] for v in by_kind["Value"]) == [
        "1",
        "2",
        "3",
        "ErrorValue(ValueError('bad 3'))",
    ]
    assert sorted(c["task_name"] for c in by_kind["CallNode"]) == [
        "lg.add",
        "lg.boom",
        "lg.failing",
    ]
    latest = execution_id(store, "env=prod")
    assert sorted(t for t in ids(log, "--exec-id", "-", "--task")) == sorted(
        r[0]
        for r in db(
            store, "SELECT hash FROM redun_task WHERE fullname IN ('lg.main', 'lg.add', 'lg.write')"
        )
    )
    assert ids(log, "--exec-id", "~1") == [latest]
    assert sorted(ids(log, "--exec-id", f"{failed[:8]},{latest[:8]}")) == sorted([failed, latest])
    assert "no execution" in log("--exec-id", "ffffffff", code=2)


def test_result_and_arg_select_jobs(log: Any, store: Path) -> None:
    [(three,)] = db(store, "SELECT hash FROM redun_value WHERE preview = '3'")
    made_three = {
        r[0]
        for r in db(
            store,
            "SELECT j.id FROM redun_job j JOIN redun_call_node c ON c.call_hash = j.call_hash "
            "WHERE c.result_hash = ?",
            three,
        )
    }
    assert made_three and set(ids(log, "--job", "--result", three)) == made_three
    assert set(ids(log, "--result", three[:8])) == made_three
    took_three = ids(log, "--job", "--arg", three)
    names = sorted(job["task_name"] for job in json.loads(log("--arg", three, "--format", "json")))
    # add(3, 1) of n=4, main(n=3) twice (ran, then cached), and the failed boom(3),
    # which has no call node: its arguments are found on the job.
    assert names == ["lg.add", "lg.boom", "lg.main", "lg.main"] and len(took_three) == 4
    [(csv,)] = db(store, "SELECT value_hash FROM redun_file ORDER BY value_hash LIMIT 1")
    assert ids(log, "--job", "--result", csv)  # main and write returned it
    assert ids(log, "--task", "--result", three) == []  # --result narrows to jobs


def test_tags_and_exec_tags(log: Any, store: Path) -> None:
    tagged = execution_id(store, "env=prod")
    assert ids(log, "-t", "env=prod") == [tagged]
    assert ids(log, "--tag", "env") == [tagged]
    assert ids(log, "-t", "env=dev") == []
    counts = json.loads(log("--all", "-t", "env=prod", "--count", "--format", "json"))
    assert counts == {"Execution": 1, "Job": 0, "CallNode": 0, "Task": 0, "Value": 0}
    jobs = {r[0] for r in db(store, "SELECT id FROM redun_job WHERE execution_id = ?", tagged)}
    assert set(ids(log, "--exec-tag", "env=prod", "--job")) == jobs
    assert ids(log, "--exec-tag", "env=prod") == [tagged]
    values = json.loads(log("--exec-tag", "env=prod", "--value", "--format", "json"))
    assert "[1, 2, 3, 4]" in [v["preview"] for v in values]
    assert "[1, 2, 3]" not in [v["preview"] for v in values]  # the earlier runs' list


def test_detail_shows_each_record_in_full(log: Any, store: Path) -> None:
    failed = execution_id(store, "failing")
    text = log("--exec", "--exec-status", "FAILED", "--detail")
    assert f"Exec {failed}" in text and "Jobs: 3" in text and "lg.boom(x=3)" in text
    jobs = json.loads(log("--job", "--job-status", "FAILED", "--detail", "--format", "json"))
    assert sorted(j["job"]["task_name"] for j in jobs) == ["lg.boom", "lg.failing"]
    assert all(j["_type"] == "Job" and "task" in j for j in jobs)
    text = log("--job", "--job-status", "FAILED", "--detail")
    assert text.count("Traceback:") == 2 or text.count("Error: ValueError: bad 3") == 2
    task = log("--task", "--task-name", "boom", "--detail")
    assert "def boom(x: int)" in task


def test_limit_truncates_with_a_note(log: Any, store: Path) -> None:
    jobs = db(store, "SELECT COUNT(*) FROM redun_job")[0][0]
    text = log("--job", "--limit", "2")
    assert len(short_ids(text, "Job")) == 2
    assert f"... {jobs - 2} more Job records" in text
    assert len(ids(log, "--job", "--limit", "0")) == jobs


def test_id_prefix_with_listing_options(log: Any, store: Path) -> None:
    failed = execution_id(store, "failing")
    counts = json.loads(log(failed[:10], "--count", "--format", "json"))
    assert counts["Execution"] == 1
    assert ids(log, failed[:10], "--exec") == [failed]
