"""`redun export`, `import`, `repo`, `push` and `pull`: records moved between stores."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from redun.cli.main import main
from tests.conftest import redun_cli
from tests.sdk.test_postgres_store import pg_url  # noqa: F401  (a fixture)

WORKFLOW = textwrap.dedent(
    """
    from redun import File, task

    redun_namespace = "syncdemo"

    @task
    def double(x: int) -> int:
        print("doubling", x)
        return 2 * x

    @task
    def blob(n: int) -> bytes:
        return b"x" * n  # past inline_max_bytes: kept in the value store

    @task
    def write(values: list, path: str) -> File:
        out = File(path)
        out.write(",".join(map(str, values)))
        return out

    @task
    def main(n: int = 3) -> list:
        return [write([double(i) for i in range(n)], "out.csv"), blob(100000)]
    """
)


def run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*redun_cli(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def redun(capsys: pytest.CaptureFixture, *args: str, code: int = 0) -> tuple[str, str]:
    """``redun ARGS`` in this process: (stdout, stderr)."""
    capsys.readouterr()
    assert main(list(args)) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def project(workdir: Path, cli_env: dict[str, str]) -> Path:
    (workdir / "flow.py").write_text(WORKFLOW)
    run(workdir, cli_env, "run", "--no-progress", "flow.py", "main")
    return workdir


def test_export_import_round_trip(
    project: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture
) -> None:
    out, _ = redun(capsys, "export")
    exported = records(out)
    kinds = {r["_type"] for r in exported}
    assert {"Execution", "Job", "CallNode", "Task", "Value", "Evaluation", "Tag"} <= kinds
    assert all(r["_version"] == 1 for r in exported)
    stored = [r for r in exported if r["_type"] == "Value" and r["location"] == "store"]
    assert stored and all(r["data"] for r in stored)  # the value store's bytes, base64
    logged = [r for r in exported if r["_type"] == "Job" and r["log"]]
    assert any("doubling" in text for r in logged for _, _, text in r["log"])
    (project / "logs.json").write_text(out)

    redun(capsys, "--config", "redun2", "init")
    assert redun(capsys, "--config", "redun2", "export")[0] == ""
    _, err = redun(capsys, "--config", "redun2", "import", "logs.json")
    assert f"Imported {len(exported)} new record(s)" in err
    # Idempotent: a second import adds nothing.
    _, err = redun(capsys, "--config", "redun2", "import", "-f", "logs.json")
    assert "Imported 0 new record(s)" in err
    again = records(redun(capsys, "--config", "redun2", "export")[0])
    assert sorted(map(json.dumps, again)) == sorted(map(json.dumps, exported))
    # Large values landed in the second store's value store, not inline.
    assert any((project / "redun2" / "values").rglob("*"))

    # `redun log` reads the same in both stores: executions, a job, a file's lineage.
    for args in (["log"], ["log", "-"], ["log", "out.csv"]):
        here = run(project, cli_env, *args).stdout
        there = run(project, cli_env, "-c", "redun2", *args).stdout
        assert here == there and here
    job = next(r["id"] for r in exported if r["_type"] == "Job" and r["log"])
    assert (
        run(project, cli_env, "log", job).stdout
        == run(project, cli_env, "-c", "redun2", "log", job).stdout
    )

    # The cache came along: a re-run in the imported store is one cached job.
    run(project, cli_env, "-c", "redun2", "run", "--no-progress", "flow.py", "main")
    latest = json.loads(run(project, cli_env, "-c", "redun2", "log", "--format", "json").stdout)
    assert latest[0]["job_counts"] == {"cached": 1}


def test_export_of_one_execution(
    project: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture
) -> None:
    run(project, cli_env, "run", "--no-progress", "flow.py", "main", "--n", "5")
    executions = json.loads(run(project, cli_env, "log", "--format", "json").stdout)
    newest, oldest = executions[0]["id"], executions[1]["id"]
    everything = records(redun(capsys, "export")[0])
    only = records(redun(capsys, "export", oldest[:8])[0])
    assert [r["id"] for r in only if r["_type"] == "Execution"] == [oldest]
    assert {r["execution_id"] for r in only if r["_type"] == "Job"} == {oldest}
    assert len(only) < len(everything)
    # What the execution reaches came along: import it alone and its log reads the same.
    (project / "one.json").write_text("".join(json.dumps(r) + "\n" for r in only))
    redun(capsys, "-c", "solo", "import", "one.json")
    assert (
        run(project, cli_env, "-c", "solo", "log", oldest).stdout
        == run(project, cli_env, "log", oldest).stdout
    )
    _, err = redun(capsys, "export", "ffffffffff", code=2)
    assert "no execution or job with id 'ffffffffff'" in err
    assert newest != oldest


def test_import_bad_line_is_named_and_nothing_is_kept(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    lines = redun(capsys, "export")[0].splitlines()
    lines[4] = lines[4][:-10]  # a truncated line
    (project / "bad.json").write_text("\n".join(lines) + "\n")
    _, err = redun(capsys, "-c", "other", "import", "bad.json", code=1)
    assert "line 5: not JSON" in err
    assert redun(capsys, "-c", "other", "export")[0] == ""  # all or nothing

    (project / "notes.json").write_text('{"hello": "world"}\n')
    _, err = redun(capsys, "-c", "other", "import", "notes.json", code=1)
    assert "line 1: no _version and _type" in err and "redun export" in err
    bad_type = json.loads(lines[0]) | {"_type": "Gizmo"}
    (project / "gizmo.json").write_text(json.dumps(bad_type) + "\n")
    _, err = redun(capsys, "-c", "other", "import", "gizmo.json", code=1)
    assert "line 1: unknown _type 'Gizmo'" in err


def test_repo_add_list_remove(project: Path, capsys: pytest.CaptureFixture) -> None:
    redun(capsys, "-c", "redun2", "init")
    _, err = redun(capsys, "repo", "add", "other_repo", "redun2")
    assert "Added repository 'other_repo'" in err
    ini = (project / ".redun" / "redun.ini").read_text()
    assert f"[repos.other_repo]\nconfig_dir = {project / 'redun2'}\n" in ini
    out, _ = redun(capsys, "repo", "list")
    assert out == (
        f"Repositories:\n  default: {project / '.redun'}\n  other_repo: {project / 'redun2'}\n"
    )
    _, err = redun(capsys, "repo", "add", "other_repo", "redun2", code=2)
    assert "already configured" in err
    _, err = redun(capsys, "repo", "add", "default", "redun2", code=2)
    assert "'default' is the current repository" in err
    _, err = redun(capsys, "repo", "add", "ghost", "nowhere", code=2)
    assert "no redun.ini in" in err
    redun(capsys, "repo", "remove", "other_repo")
    assert "repos.other_repo" not in (project / ".redun" / "redun.ini").read_text()
    assert redun(capsys, "repo", "list")[0] == f"Repositories:\n  default: {project / '.redun'}\n"
    _, err = redun(capsys, "repo", "remove", "other_repo", code=2)
    assert "is not in" in err


def test_push_and_pull_move_only_new_records(
    project: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture
) -> None:
    redun(capsys, "-c", "redun2", "init")
    redun(capsys, "repo", "add", "other_repo", "redun2")
    total = len(records(redun(capsys, "export")[0]))
    out, _ = redun(capsys, "push", "other_repo")
    assert out.startswith(f"Pushed {total} new record(s)") and "to repo 'other_repo'" in out
    assert redun(capsys, "push", "other_repo")[0] == "Repo 'other_repo' is up to date.\n"

    # A new run shares most of its calls with the first: only what is new moves.
    run(project, cli_env, "run", "--no-progress", "flow.py", "main", "--n", "5")
    newest = json.loads(run(project, cli_env, "log", "--format", "json").stdout)[0]["id"]
    new_only = records(redun(capsys, "export", newest)[0])
    out, _ = redun(capsys, "push", "other_repo")
    pushed = int(out.split()[1])
    assert 0 < pushed < len(new_only)
    assert "1 Execution" in out and "4 CallNode" in out  # double(3), double(4), write, main
    assert (
        run(project, cli_env, "log").stdout
        == run(project, cli_env, "-r", "other_repo", "log").stdout
    )

    # Pull into a third store; --repo reads names from the local redun.ini.
    redun(capsys, "-c", "third", "init")
    (project / "third" / "redun.ini").write_text(
        (project / "third" / "redun.ini").read_text()
        + f"\n[repos.second]\nconfig_dir = {project / 'redun2'}\n"
    )
    out, _ = redun(capsys, "-c", "third", "pull", "second")
    assert out.startswith(f"Pulled {total + pushed} new record(s)")
    assert redun(capsys, "-c", "third", "pull", "second")[0].startswith("Pulled 0 new record(s)")
    out, _ = redun(capsys, "--repo", "other_repo", "push", "default")
    assert out == "Repo 'default' is up to date.\n"


def test_push_errors(project: Path, capsys: pytest.CaptureFixture) -> None:
    _, err = redun(capsys, "push", "nope", code=2)
    assert "unknown repository 'nope'" in err and "redun repo add nope" in err
    (project / "empty").mkdir()
    (project / "empty" / "redun.ini").write_text("[backend]\n")
    redun(capsys, "repo", "add", "empty", "empty")
    _, err = redun(capsys, "push", "empty", code=1)
    assert "has no database" in err and "init" in err
    _, err = redun(capsys, "push", "default", code=2)
    assert "to itself" in err


@pytest.mark.postgres
def test_push_to_postgres_and_back(
    project: Path,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture,
    pg_url: str,  # noqa: F811
) -> None:
    (project / "pg").mkdir()
    (project / "pg" / "redun.ini").write_text(f"[backend]\ndb_uri = {pg_url}\n")
    redun(capsys, "-c", "pg", "init")
    redun(capsys, "repo", "add", "pg", "pg")
    total = len(records(redun(capsys, "export")[0]))
    out, _ = redun(capsys, "push", "pg")
    assert out.startswith(f"Pushed {total} new record(s)")
    assert redun(capsys, "push", "pg")[0] == "Repo 'pg' is up to date.\n"
    # PostgreSQL keeps every value inline: the value store's bytes went into the rows.
    exported = records(redun(capsys, "-c", "pg", "export")[0])
    assert all(r["location"] != "store" for r in exported if r["_type"] == "Value")
    assert (
        run(project, cli_env, "log", "-").stdout
        == run(project, cli_env, "-r", "pg", "log", "-").stdout
    )
    run(project, cli_env, "-c", "pg", "run", "--no-progress", "flow.py", "main")
    latest = json.loads(run(project, cli_env, "-c", "pg", "log", "--format", "json").stdout)
    assert latest[0]["job_counts"] == {"cached": 1}
    # And back: a fresh SQLite store pulls everything, the PostgreSQL run included.
    redun(capsys, "-c", "back", "init")
    (project / "back" / "redun.ini").write_text(
        (project / "back" / "redun.ini").read_text()
        + f"\n[repos.pg]\nconfig_dir = {project / 'pg'}\n"
    )
    out, _ = redun(capsys, "-c", "back", "pull", "pg")
    assert "2 Execution" in out


def test_values_missing_from_the_value_store_are_exported_without_bytes(
    project: Path, cli_env: dict[str, str], capsys: pytest.CaptureFixture
) -> None:
    stored = [path for path in (project / ".redun" / "values").rglob("*") if path.is_file()]
    assert stored
    for path in stored:
        path.unlink()
    out, err = redun(capsys, "export")
    assert f"{len(stored)} value(s) kept in the value store" in err and "not found" in err
    missing = [r for r in records(out) if r.get("missing")]
    assert len(missing) == len(stored) and all(r["data"] is None for r in missing)
    (project / "logs.json").write_text(out)
    _, err = redun(capsys, "-c", "other", "import", "logs.json")
    assert f"{len(stored)} value(s) came without their bytes" in err
    # The imported store still reads, and recomputes what it cannot load.
    assert run(project, cli_env, "-c", "other", "log", "-").stdout
    run(project, cli_env, "-c", "other", "run", "--no-progress", "flow.py", "main")
