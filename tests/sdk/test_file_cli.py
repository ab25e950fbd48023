"""`redun run` with files and scripts, end to end: the examples, edits between
runs (each run a new process), deletes, content hashing from redun.ini, live
output and script failures."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, redun_cli

EXAMPLES = ROOT / "examples"


def run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), "run", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def summary(proc: subprocess.CompletedProcess) -> str:
    """The '[redun] ... jobs: ...' line."""
    assert proc.returncode == 0, proc.stderr
    return next(line for line in proc.stderr.splitlines() if line.startswith("[redun]"))


@pytest.fixture
def examples(workdir: Path) -> Path:
    shutil.copytree(EXAMPLES / "data", workdir / "data")
    for name in ("files.py", "script_pipeline.py"):
        shutil.copy(EXAMPLES / name, workdir / name)
    return workdir


def test_files_example_reruns_only_what_changed(examples, cli_env):
    first = run(examples, cli_env, "files.py", "main")
    assert "done=4" in summary(first)
    assert "fox.txt: dog=2" in (examples / "report.txt").read_text()
    assert "cached=1" in summary(run(examples, cli_env, "files.py", "main"))

    with open(examples / "data" / "fox.txt", "a") as out:
        out.write("zebra zebra zebra\n")
    # main, the changed file's count and the report run; the other count is cached.
    assert "cached=1 done=3" in summary(run(examples, cli_env, "files.py", "main"))
    assert "fox.txt: zebra=3" in (examples / "report.txt").read_text()

    (examples / "report.txt").unlink()
    # Only the report is written again: main and both counts come from the cache.
    assert "cached=3 done=1" in summary(run(examples, cli_env, "files.py", "main"))
    assert (examples / "report.txt").exists()


def test_content_hashing_from_the_config(examples, cli_env):
    (examples / ".redun").mkdir()
    (examples / ".redun" / "redun.ini").write_text(
        "[backend]\ndb_uri = sqlite:///${config_dir}/redun.db\n\n[file]\nhash = content\n"
    )
    fox = examples / "data" / "fox.txt"
    stat = os.stat(fox)
    assert "done=4" in summary(run(examples, cli_env, "files.py", "main"))
    # A same-size rewrite that keeps the mtime: invisible to stat hashing.
    fox.write_text(fox.read_text().replace("dog", "cat"))
    os.utime(fox, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "cached=1 done=3" in summary(run(examples, cli_env, "files.py", "main"))
    assert "cat=2" in (examples / "report.txt").read_text()


def test_script_example_stages_and_caches(examples, cli_env):
    first = run(examples, cli_env, "script_pipeline.py", "main")
    summary(first)
    top = (examples / "results" / "top.txt").read_text()
    assert "the" in top and sorted(os.listdir(examples / "results")) == [
        "fox.freq",
        "hamlet.freq",
        "top.txt",
    ]
    assert "distinct words" in first.stderr  # the scripts' stderr, shown live
    assert "cached=1" in summary(run(examples, cli_env, "script_pipeline.py", "main"))
    (examples / "results" / "fox.freq").unlink()
    again = run(examples, cli_env, "script_pipeline.py", "main")
    summary(again)
    assert (examples / "results" / "fox.freq").exists()
    # Only fox's table was made again (one "distinct words" line, then the merge).
    made = [line for line in again.stderr.splitlines() if line.endswith(" distinct words")]
    assert len(made) == 1


FLOW = textwrap.dedent(
    """
    import sys
    from redun import script, task

    redun_namespace = "clilogs"


    @task
    def speak(n: int) -> int:
        print(f"speaking {n}")
        print(f"warning {n}", file=sys.stderr)
        return n


    @task
    def main() -> list:
        return [speak(1), speak(2)]


    @task
    def broken() -> bytes:
        return script("echo 'cannot open reference genome' >&2; exit 4")
    """
)


def test_printed_output_is_shown_by_redun_run(workdir, cli_env):
    (workdir / "flow.py").write_text(FLOW)
    proc = run(workdir, cli_env, "--no-progress", "flow.py", "main")
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()[:-1]) == ["speaking 1", "speaking 2"]
    assert proc.stdout.splitlines()[-1] == "[1, 2]"
    assert "warning 1\n" in proc.stderr and "warning 2\n" in proc.stderr


def test_failing_script_exits_1_with_its_stderr(workdir, cli_env):
    (workdir / "flow.py").write_text(FLOW)
    proc = run(workdir, cli_env, "--no-progress", "flow.py", "broken")
    assert proc.returncode == 1
    assert "ScriptError: script exited with status 4" in proc.stderr
    assert "called by clilogs.broken" in proc.stderr
    assert "  cannot open reference genome" in proc.stderr
