"""The options of redun 0.44.1's command line that scripts pass: global ones
(--log-level, --check-version, -r/--repo, --setup-help), `redun help`, and
`redun run`'s -o, --no-prov, -p/-u, --doc, --exclude-user, -i, --execution-id
and --context-file. Real subprocesses, a real store in a temporary directory."""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from redun.cli.global_options import version_matches
from redun.client.cli_support import run_options
from redun.errors import UsageError
from tests.conftest import redun_cli

WORKFLOW = textwrap.dedent(
    """
    import time

    from redun import get_context, task

    redun_namespace = "opts"


    @task
    def echo(x: int, y: str = "d") -> str:
        return f"{x} {y}"


    @task
    def clock() -> float:
        return time.time()


    @task
    def ctx(a: str = get_context("a", "none"), b: int = get_context("nested.b", 0)) -> str:
        return f"{a}/{b}"
    """
)

SETUP = textwrap.dedent(
    '''
    from redun import Scheduler


    def setup(config, workers: int = 1, label: str = "none"):
        """Pick a profile."""
        return Scheduler(config=config)
    '''
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flow.py").write_text(WORKFLOW)
    return tmp_path


def redun(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return str(proc.stdout).strip()


def executions(cwd: Path, env: dict[str, str], *global_args: str) -> list[dict]:
    proc = redun(cwd, env, *global_args, "log", "--exec", "--format", "json")
    return json.loads(ok(proc)) if proc.stdout.strip() else []


# -- global options ---------------------------------------------------------------------------
def test_log_level_before_run_still_splits_task_args(project: Path, cli_env: dict) -> None:
    debug = redun(project, cli_env, "--log-level", "DEBUG", "run", "flow.py", "echo", "--x", "5")
    assert ok(debug) == "'5 d'"
    assert "[redun] Start Execution" in debug.stderr
    assert "[redun] config dir:" in debug.stderr
    quiet = redun(project, cli_env, "--log-level=ERROR", "run", "flow.py", "echo", "--x", "6")
    assert ok(quiet) == "'6 d'"
    assert "Start Execution" not in quiet.stderr
    bad = redun(project, cli_env, "--log-level", "LOUD", "run", "flow.py", "echo", "--x", "6")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_check_version(project: Path, cli_env: dict) -> None:
    met = redun(
        project, cli_env, "--check-version", ">=0.8,<1.0", "run", "flow.py", "echo", "--x", "1"
    )
    assert ok(met) == "'1 d'"
    unmet = redun(
        project, cli_env, "--check-version", ">=2.0", "run", "flow.py", "echo", "--x", "1"
    )
    assert unmet.returncode == 2
    assert "redun 0.44.1 does not meet requirement >=2.0" in unmet.stderr
    assert unmet.stdout == ""
    malformed = redun(project, cli_env, "--check-version", "latest", "run", "flow.py", "echo")
    assert malformed.returncode == 2 and "not a version clause" in malformed.stderr


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (">=0.8,<1.0", True),
        ("0.44.1", True),
        ("==0.44", False),
        ("==0.44.1.0", True),
        ("!=0.44.1", False),
        (">0.44", True),
        ("<=0.44.0", False),
        ("~=0.40", True),
        ("~=0.44.2", False),
        ("< 1 , >= 0.44.1", True),
    ],
)
def test_version_specs(spec: str, expected: bool) -> None:
    assert version_matches("0.44.1", spec) is expected


def test_version_spec_errors() -> None:
    for spec in ("", ">=x", "=>1.0", ">=1.0;<2"):
        with pytest.raises(UsageError):
            version_matches("0.44.1", spec)


def test_repo_selects_another_config_directory(project: Path, cli_env: dict) -> None:
    other = project / "elsewhere" / ".redun"
    ok(redun(project, cli_env, "-c", str(other), "init"))
    (project / ".redun").mkdir()
    (project / ".redun" / "redun.ini").write_text(
        f"[repos.other]\nconfig_dir = {other}\n\n[repos.broken]\nconfig_dir = {project}/nowhere\n"
    )
    assert ok(redun(project, cli_env, "-r", "other", "run", "flow.py", "echo", "--x", "2")) == (
        "'2 d'"
    )
    ran_there = executions(project, cli_env, "--repo", "other")
    assert [run["expr"] for run in ran_there] == ["opts.echo(x=2)"]
    assert executions(project, cli_env, "-c", str(project / ".redun")) == []
    assert executions(project, cli_env, "-r", "default") == []
    unknown = redun(project, cli_env, "-r", "nope", "run", "flow.py", "echo", "--x", "2")
    assert unknown.returncode == 2
    assert "--repo nope: unknown repository" in unknown.stderr and "other" in unknown.stderr
    broken = redun(project, cli_env, "-r", "broken", "run", "flow.py", "echo", "--x", "2")
    assert broken.returncode == 2 and "no redun.ini in" in broken.stderr


def test_setup_help_lists_the_hooks_options(project: Path, cli_env: dict) -> None:
    none = redun(project, cli_env, "--setup-help")
    assert "No [scheduler] setup_scheduler hook" in ok(none)
    (project / "hooks.py").write_text(SETUP)
    (project / ".redun").mkdir()
    (project / ".redun" / "redun.ini").write_text(
        "[scheduler]\nsetup_scheduler = hooks.py::setup\n"
    )
    text = ok(redun(project, cli_env, "--setup-help"))
    assert "setup_scheduler = hooks.py::setup" in text
    assert "Pick a profile." in text
    assert "-s workers=INT  (default: 1)" in text
    assert "-s label=STR  (default: 'none')" in text


def test_help_command(project: Path, cli_env: dict) -> None:
    top = ok(redun(project, cli_env, "help"))
    assert top.startswith("usage: redun")
    for word in ("run", "log", "--check-version", "--log-level", "--repo", "--setup-help"):
        assert word in top
    assert "--execution-id" in ok(redun(project, cli_env, "help", "run"))
    unknown = redun(project, cli_env, "help", "nope")
    assert unknown.returncode == 2 and "no command 'nope'" in unknown.stderr


# -- redun run --------------------------------------------------------------------------------
def test_option_overrides_the_tasks_options(project: Path, cli_env: dict) -> None:
    first = ok(redun(project, cli_env, "run", "flow.py", "clock"))
    assert ok(redun(project, cli_env, "run", "flow.py", "clock")) == first  # cached
    again = ok(redun(project, cli_env, "run", "-o", "cache=false", "flow.py", "clock"))
    assert again != first
    later = ok(redun(project, cli_env, "run", "flow.py", "clock", "--option", "cache=false"))
    assert later not in (first, again)
    bad = redun(project, cli_env, "run", "-o", "cache", "flow.py", "clock")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr


def test_no_prov_neither_records_nor_reuses(project: Path, cli_env: dict) -> None:
    one = ok(redun(project, cli_env, "run", "--no-prov", "flow.py", "clock"))
    two = ok(redun(project, cli_env, "run", "--no-prov", "flow.py", "clock"))
    assert one != two
    jobs = json.loads(ok(redun(project, cli_env, "log", "--job", "--format", "json")) or "[]")
    assert [job for job in jobs if job["task_name"] == "opts.clock"] == []
    assert len(executions(project, cli_env)) == 2  # the executions themselves are recorded


def test_tag_options(project: Path, cli_env: dict) -> None:
    ok(
        redun(
            project,
            cli_env,
            "run",
            "-p",
            "acme",
            "-u",
            "ada",
            "--doc",
            "nightly build",
            "--exclude-user",
            "aws",
            "flow.py",
            "echo",
            "--x",
            "3",
        )
    )
    [run] = executions(project, cli_env)
    assert run["tags"]["project"] == "acme"
    assert run["tags"]["user"] == "ada"
    assert run["tags"]["doc"] == "nightly build"


def test_input_pickle_supplies_arguments(project: Path, cli_env: dict) -> None:
    (project / "both.pkl").write_bytes(pickle.dumps(((7,), {"y": "pk"})))
    assert ok(redun(project, cli_env, "run", "-i", "both.pkl", "flow.py", "echo")) == "'7 pk'"
    assert ok(
        redun(project, cli_env, "run", "--input", "both.pkl", "flow.py", "echo", "--y", "cli")
    ) == ("'7 cli'")
    assert ok(redun(project, cli_env, "run", "-i", "both.pkl", "flow.py", "echo", "--x", "9")) == (
        "'9 pk'"
    )
    (project / "partial.pkl").write_bytes(pickle.dumps(((), {"y": "only"})))
    missing = redun(project, cli_env, "run", "-i", "partial.pkl", "flow.py", "echo")
    assert missing.returncode == 2 and "needs --x" in missing.stderr
    (project / "bad.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    bad = redun(project, cli_env, "run", "-i", "bad.pkl", "flow.py", "echo")
    assert bad.returncode == 2 and "(args, kwargs)" in bad.stderr
    (project / "extra.pkl").write_bytes(pickle.dumps(((), {"zzz": 1})))
    extra = redun(project, cli_env, "run", "-i", "extra.pkl", "flow.py", "echo", "--x", "1")
    assert extra.returncode == 2 and "does not fit task opts.echo" in extra.stderr


def test_execution_id(project: Path, cli_env: dict) -> None:
    given = uuid.uuid4()
    assert ok(
        redun(project, cli_env, "run", "--execution-id", str(given), "flow.py", "echo", "--x", "1")
    ) == ("'1 d'")
    [run] = executions(project, cli_env)
    assert run["id"] == given.hex
    again = redun(
        project, cli_env, "run", "--execution-id", given.hex, "flow.py", "echo", "--x", "2"
    )
    assert again.returncode == 2 and "already exists" in again.stderr
    assert again.stdout == ""
    assert len(executions(project, cli_env)) == 1
    bad = redun(project, cli_env, "run", "--execution-id", "run-42", "flow.py", "echo", "--x", "2")
    assert bad.returncode == 2 and "is not a UUID" in bad.stderr


def test_context_file(project: Path, cli_env: dict) -> None:
    (project / "ctx.json").write_text(json.dumps({"a": "file", "nested": {"b": 1}}))
    assert ok(redun(project, cli_env, "run", "flow.py", "ctx")) == "'none/0'"
    assert ok(redun(project, cli_env, "run", "--context-file", "ctx.json", "flow.py", "ctx")) == (
        "'file/1'"
    )
    merged = redun(
        project,
        cli_env,
        "run",
        "--context-file",
        "ctx.json",
        "--context",
        "nested.b=5",
        "flow.py",
        "ctx",
    )
    assert ok(merged) == "'file/5'"
    (project / "list.json").write_text("[1, 2]")
    bad = redun(project, cli_env, "run", "--context-file", "list.json", "flow.py", "ctx")
    assert bad.returncode == 2 and "expected a JSON object" in bad.stderr
    missing = redun(project, cli_env, "run", "--context-file", "nope.json", "flow.py", "ctx")
    assert missing.returncode == 2 and "cannot read it" in missing.stderr


# -- submit / watch ---------------------------------------------------------------------------
def test_submit_options_take_a_context_file(tmp_path: Path) -> None:
    (tmp_path / "ctx.json").write_text(json.dumps({"a": 1, "b": {"c": 2, "d": 3}}))
    args = argparse.Namespace(
        option=["executor=processes", 'context={"b": {"c": 20}, "e": 4}'],
        context=["b.d=30"],
        context_file=str(tmp_path / "ctx.json"),
    )
    options = run_options(args)
    assert options["executor"] == "processes"
    assert json.loads(options["context"]) == {"a": 1, "b": {"c": 20, "d": 30}, "e": 4}
    only_file = run_options(
        argparse.Namespace(option=[], context=[], context_file=str(tmp_path / "ctx.json"))
    )
    assert json.loads(only_file["context"]) == {"a": 1, "b": {"c": 2, "d": 3}}
