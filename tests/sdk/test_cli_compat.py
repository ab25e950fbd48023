"""The command line redun users type: help, enums, results, tags, listings, setup hooks,
--rerun, --pdb, init, launch, and quiet script traces. Real subprocesses, real store."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import redun_cli

WORKFLOW = textwrap.dedent(
    '''
    import enum
    from typing import List

    from redun import script, task

    redun_namespace = "acme.flows"


    class Color(enum.Enum):
        red = 1
        green = 2
        blue = 3


    @task
    def paint(color: Color, times: int = 1) -> str:
        """Paint in one color."""
        return f"{color.name} x{times}"


    @task
    def palette(colors: List[Color]) -> list:
        return [color.name for color in colors]


    @task(tags=[("stage", "report")])
    def report(n: int) -> dict:
        return {"n": n, "b": [1, 2], "a": "text"}


    @task
    def nothing() -> None:
        return None


    @task
    def failing(x: int) -> int:
        local_value = x * 7
        raise ValueError(f"bad {local_value}")


    @task
    def traced() -> bytes:
        return script("echo out; echo err-line >&2")
    '''
)

SETUP = textwrap.dedent(
    """
    from redun import Scheduler


    def setup(config, workers: int = 1, label: str = "none"):
        config["executors.default"] = {"type": "local", "max_workers": str(workers)}
        config["scheduler"] = {**dict(config.get("scheduler") or {}),
                               "context": '{"label": "%s", "workers": %d}' % (label, workers)}
        return Scheduler(config=config)
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flow.py").write_text(WORKFLOW)
    return tmp_path


def redun(
    cwd: Path, env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_help_lists_tasks_and_a_tasks_arguments(project: Path, cli_env: dict[str, str]) -> None:
    listing = redun(project, cli_env, "run", "flow.py", "help")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[0] == "Tasks available:"
    assert re.search(r"^  acme\.flows\.paint +Paint in one color\.$", listing.stdout, re.M)
    assert "acme.flows.palette" in listing.stdout
    one = redun(project, cli_env, "run", "flow.py", "paint", "help")
    assert one.returncode == 0, one.stderr
    assert "--color COLOR" in one.stdout and "one of: red, green, blue" in one.stdout
    assert "--times TIMES" in one.stdout


def test_enum_arguments(project: Path, cli_env: dict[str, str]) -> None:
    for spelling in ("green", "Color.green"):
        proc = redun(project, cli_env, "run", "flow.py", "paint", "--color", spelling)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "'green x1'"
    proc = redun(project, cli_env, "run", "flow.py", "palette", "--colors", "Color.blue", "red")
    assert proc.stdout.strip() == "['blue', 'red']", proc.stderr
    bad = redun(project, cli_env, "run", "flow.py", "paint", "--color", "purple")
    assert bad.returncode == 2 and "choose from red, green, blue" in bad.stderr


def test_results_print_as_redun_prints_them(project: Path, cli_env: dict[str, str]) -> None:
    none = redun(project, cli_env, "run", "flow.py", "nothing")
    assert none.returncode == 0 and none.stdout == ""
    proc = redun(project, cli_env, "run", "flow.py", "report", "--n", "3")
    assert proc.stdout.strip() == "{'a': 'text', 'b': [1, 2], 'n': 3}"


def test_tags_are_recorded_and_queried(project: Path, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "REDUN_USER": "alice"}
    proc = redun(
        project, env, "run", "--tag", "env=prod", "-t", "run=2", "flow.py", "report", "--n", "1"
    )
    assert proc.returncode == 0, proc.stderr
    tagged = redun(project, env, "log", "--tag", "env=prod", "--format", "json")
    [execution] = json.loads(tagged.stdout)
    assert execution["tags"] == {
        "env": "prod",
        "run": 2,
        "user": "alice",
        "project": "acme.flows",
        "redun.version": execution["tags"]["redun.version"],
    }
    assert redun(project, env, "log", "--tag", "env=dev", "--format", "json").stdout.strip() == "[]"
    listing = redun(project, env, "tag", "list", "stage=report")
    kinds = sorted(line.split()[0] for line in listing.stdout.splitlines())
    assert kinds == ["job", "task"], listing.stdout
    # As redun lists them: keys with how many of each kind carry them, or key=value pairs.
    keys = redun(project, env, "tag", "list").stdout.splitlines()
    assert keys[0] == "Tags:" and re.search(r"^  env +\(1 Execution\)$", "\n".join(keys), re.M)
    assert re.search(r"^  stage +\(1 Job, 1 Task\)$", "\n".join(keys), re.M), keys
    pairs = redun(project, env, "tag", "list", "--values", "env", "stage").stdout.splitlines()
    assert [line.split()[0] for line in pairs] == ["Tags:", "env=prod", "stage=report"], pairs
    exec_id = execution["id"]
    assert redun(project, env, "tag", "add", exec_id[:10], "reviewed=true").returncode == 0
    assert (
        redun(project, env, "log", "--tag", "reviewed", "--format", "json").stdout.count(exec_id)
        == 1
    )
    assert redun(project, env, "tag", "rm", exec_id[:10], "reviewed").returncode == 0
    assert (
        json.loads(redun(project, env, "log", "--tag", "reviewed", "--format", "json").stdout) == []
    )
    bad = redun(project, env, "run", "--tag", "novalue", "flow.py", "nothing")
    assert bad.returncode == 2 and "key=value" in bad.stderr


def test_tags_of_several_ids_added_updated_and_removed(
    project: Path, cli_env: dict[str, str]
) -> None:
    # redun's forms: ids first, then tags; update replaces a key's values; rm ids -- keys.
    for n in ("1", "2"):
        assert redun(project, cli_env, "run", "flow.py", "report", "--n", n).returncode == 0
    executions = json.loads(redun(project, cli_env, "log", "--format", "json").stdout)
    ids = [e["id"][:10] for e in executions]
    assert len(ids) == 2

    def tagged(expr: str) -> set[str]:
        out = redun(project, cli_env, "log", "--tag", expr, "--format", "json").stdout
        return {e["id"][:10] for e in json.loads(out)}

    assert redun(project, cli_env, "tag", "add", *ids, "env=dev", "team=ml").returncode == 0
    assert tagged("env=dev") == set(ids) and tagged("team=ml") == set(ids)
    assert redun(project, cli_env, "tag", "add", ids[0], "env=qa").returncode == 0
    assert tagged("env=qa") == {ids[0]} and tagged("env=dev") == set(ids)  # add keeps both
    assert redun(project, cli_env, "tag", "update", ids[0], "env=prod").returncode == 0
    assert tagged("env=prod") == {ids[0]} and tagged("env=dev") == {ids[1]}
    assert tagged("env=qa") == set()  # update replaced every value of the key
    assert redun(project, cli_env, "tag", "rm", *ids, "--", "team").returncode == 0
    assert tagged("team") == set()
    assert tagged("env") == set(ids)  # other keys untouched
    missing = redun(project, cli_env, "tag", "add", "env=dev")
    assert missing.returncode == 2 and "id" in missing.stderr
    unknown = redun(project, cli_env, "tag", "update", "ffffffff", "env=x")
    assert unknown.returncode == 2 and "ffffffff" in unknown.stderr


def test_db_versions_and_downgrade(project: Path, cli_env: dict[str, str]) -> None:
    from redun.backends.revisions import HEAD_REVISION, REVISIONS

    assert redun(project, cli_env, "run", "flow.py", "report", "--n", "1").returncode == 0
    versions = redun(project, cli_env, "db", "versions").stdout.splitlines()
    assert [line.split()[0] for line in versions[1:]] == list(REVISIONS)
    assert versions[-1].endswith("(this database)")
    back = REVISIONS[-3]
    down = redun(project, cli_env, "db", "downgrade", back)
    assert down.returncode == 0 and f"to {back}" in down.stdout, down.stderr
    info = json.loads(redun(project, cli_env, "db", "info", "--format", "json").stdout)
    assert info["revision"] == back
    wrong_way = redun(project, cli_env, "db", "upgrade", REVISIONS[1])
    assert wrong_way.returncode != 0 and "db downgrade" in wrong_way.stderr
    too_far = redun(project, cli_env, "db", "downgrade", REVISIONS[0])
    assert too_far.returncode != 0 and "oldest" in too_far.stderr
    # The next run migrates forward again, and the store still answers from its cache.
    again = redun(project, cli_env, "run", "flow.py", "report", "--n", "1")
    assert again.returncode == 0, again.stderr
    assert "cached=" in again.stderr and "done=" not in again.stderr, again.stderr
    info = json.loads(redun(project, cli_env, "db", "info", "--format", "json").stdout)
    assert info["revision"] == HEAD_REVISION


def test_log_listing_flags(project: Path, cli_env: dict[str, str]) -> None:
    assert redun(project, cli_env, "run", "flow.py", "report", "--n", "5").returncode == 0
    jobs = redun(project, cli_env, "log", "--job")
    assert "acme.flows.report" in jobs.stdout and jobs.stdout.startswith("Job ")
    values = redun(project, cli_env, "log", "--value")
    assert "'text'" in values.stdout
    calls = redun(project, cli_env, "log", "--call-node")
    assert calls.stdout.startswith("CallNode ") and "acme.flows.report" in calls.stdout
    assert redun(project, cli_env, "log", "--exec").stdout.startswith("Exec ")
    assert redun(project, cli_env, "log", "--file").returncode == 0


def test_setup_scheduler_hook(project: Path, cli_env: dict[str, str]) -> None:
    (project / "hooks.py").write_text(SETUP)
    (project / ".redun").mkdir()
    (project / ".redun" / "redun.ini").write_text(
        "[backend]\ndb_uri = sqlite:///${config_dir}/redun.db\n\n"
        "[scheduler]\nsetup_scheduler = hooks.py::setup\n"
    )
    (project / "ctx.py").write_text(
        "from redun import get_context, task\n\n"
        "@task\ndef show(label: str = get_context('label'), workers: int = get_context('workers')):\n"
        "    return f'{label}/{workers}'\n"
    )
    proc = redun(
        project, cli_env, "-s", "label=fast", "--setup", "workers=3", "run", "ctx.py", "show"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "'fast/3'"
    bad = redun(project, cli_env, "-s", "speed=9", "run", "ctx.py", "show")
    assert bad.returncode == 2 and "no such option" in bad.stderr


def test_rerun_a_recorded_job_with_overrides(project: Path, cli_env: dict[str, str]) -> None:
    first = redun(project, cli_env, "run", "flow.py", "paint", "--color", "blue", "--times", "2")
    assert first.stdout.strip() == "'blue x2'"
    jobs = json.loads(redun(project, cli_env, "log", "--job", "--format", "json").stdout)
    job_id = next(job["id"] for job in jobs if job["task_name"] == "acme.flows.paint")
    again = redun(project, cli_env, "run", "--rerun", "flow.py", job_id[:10])
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "'blue x2'"
    changed = redun(project, cli_env, "run", "--rerun", "flow.py", job_id[:10], "--times", "5")
    assert changed.stdout.strip() == "'blue x5'", changed.stderr
    missing = redun(project, cli_env, "run", "--rerun", "flow.py", "ffffffffff")
    assert missing.returncode == 2 and "no job or execution" in missing.stderr


def test_pdb_opens_on_the_failing_frame(project: Path, cli_env: dict[str, str]) -> None:
    proc = redun(
        project,
        cli_env,
        "run",
        "--pdb",
        "--no-progress",
        "flow.py",
        "failing",
        "--x",
        "6",
        stdin="p local_value\nq\n",
    )
    assert proc.returncode == 1
    assert "starting the debugger" in proc.stderr
    assert "42" in proc.stdout  # the task's local variable, printed from its frame


def test_script_trace_is_quiet_unless_asked(project: Path, cli_env: dict[str, str]) -> None:
    quiet = redun(project, cli_env, "run", "--no-cache", "flow.py", "traced")
    assert quiet.returncode == 0, quiet.stderr
    assert "err-line" in quiet.stderr and "+ echo out" not in quiet.stderr
    loud = redun(project, cli_env, "run", "--no-cache", "--script-trace", "flow.py", "traced")
    assert "+ echo out" in loud.stderr


def test_init_creates_a_config_directory(tmp_path: Path, cli_env: dict[str, str]) -> None:
    proc = redun(tmp_path, cli_env, "init")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / ".redun" / "redun.ini").exists()
    assert (tmp_path / ".redun" / "redun.db").exists()
    assert "Initialized redun repository" in proc.stderr
    # As in redun: a positional BASEDIR gets a .redun of its own; -c names the directory.
    other = redun(tmp_path, cli_env, "init", "elsewhere")
    assert other.returncode == 0 and (tmp_path / "elsewhere" / ".redun" / "redun.ini").exists()
    named = redun(tmp_path, cli_env, "-c", "named", "init")
    assert named.returncode == 0 and (tmp_path / "named" / "redun.ini").exists()
    by_env = redun(tmp_path, {**cli_env, "REDUN_CONFIG": str(tmp_path / "from_env")}, "init")
    assert by_env.returncode == 0 and (tmp_path / "from_env" / "redun.db").exists()


def test_launch_goes_to_the_daemon(project: Path, cli_env: dict[str, str]) -> None:
    proc = redun(
        project,
        cli_env,
        "launch",
        "--home",
        str(project / "nohome"),
        "redun",
        "run",
        "flow.py",
        "nothing",
    )
    assert proc.returncode != 0
    assert "daemon" in proc.stderr.lower()
    usage = redun(project, cli_env, "launch", "flow.py", "nothing")
    assert usage.returncode == 2 and "takes a run command" in usage.stderr
