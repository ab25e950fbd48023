"""Lineage of files and values: producer, inputs back to raw inputs, consumers."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from redun import File, Scheduler, task
from redun.backends.db import DbBackend
from redun.config import Config
from redun.errors import UsageError
from redun.hashing import hash_value
from redun.lineage import lineage
from tests.conftest import redun_cli

redun_namespace = "test_lineage"


@task
def count(path: File) -> int:
    return len(path.read().split())


@task
def report(counts: dict, out: str) -> File:
    result = File(out)
    result.write("\n".join(f"{name} {n}" for name, n in sorted(counts.items())))
    return result


@task
def archive(source: File, out: str) -> File:
    copy = File(out)
    copy.write(source.read().upper())
    return copy


@task
def pipeline(names: list, out: str) -> File:
    counts = {name: count(File(name)) for name in names}
    return report(counts, out)


@task
def publish(names: list, out: str) -> File:
    return archive(pipeline(names, out), out + ".bak")


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def chain(n: int) -> int:
    total = add(n, 1)
    return add(total, 10)


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DbBackend:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("one two three")
    (tmp_path / "b.txt").write_text("four five")
    url = f"sqlite:///{tmp_path}/.redun/redun.db"
    scheduler = Scheduler(config=Config({"backend": {"db_uri": url}}))
    scheduler.run(publish(["a.txt", "b.txt"], "report.txt"))
    return DbBackend(url)


def test_file_lineage_names_producer_inputs_and_consumers(backend: DbBackend) -> None:
    info = lineage(backend, "report.txt")
    node = info.node
    assert node.value.file is not None and node.value.file.path == "report.txt"
    assert node.producer is not None and node.producer.task_name == "test_lineage.report"
    inputs = {child.name: child for child in node.inputs}
    assert set(inputs) == {"counts", "out"}
    # The dict of counts was assembled by the parent from two count jobs.
    counts = inputs["counts"]
    assert counts.producer is None and "assembled" in counts.origin
    assert sorted(part.producer.task_name for part in counts.inputs) == [
        "test_lineage.count",
        "test_lineage.count",
    ]
    # ...each counting a file the parent made from its own argument: raw inputs.
    raw = node.raw_inputs()
    raw_files = sorted(r.value.file.path for r in raw if r.value.file is not None)
    assert raw_files == ["a.txt", "b.txt"]
    assert inputs["out"].is_raw and "root task test_lineage.publish" in inputs["out"].origin
    # The report was consumed by the archive job.
    assert [c.task_name for c in node.consumers] == ["test_lineage.archive"]
    assert node.consumers[0].arguments["source"] == node.value.hash


def test_input_file_lineage_is_raw_with_consumers(backend: DbBackend) -> None:
    info = lineage(backend, "a.txt")
    assert info.node.producer is None
    assert [c.task_name for c in info.node.consumers] == ["test_lineage.count"]


def test_lineage_by_value_hash_prefix_and_by_file_object(backend: DbBackend) -> None:
    by_path = lineage(backend, "report.txt.bak")
    value_hash = by_path.node.value.hash
    by_hash = lineage(backend, value_hash[:12])
    assert by_hash.node.producer.id == by_path.node.producer.id
    by_object = lineage(backend, File("report.txt.bak"))
    assert by_object.node.producer.task_name == "test_lineage.archive"
    # archive's input is report's output: traced through the sibling job.
    (source,) = [c for c in by_object.node.inputs if c.name == "source"]
    assert source.producer is not None and source.producer.task_name == "test_lineage.pipeline"


def test_equal_values_are_not_mistaken_for_each_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/.redun/redun.db"
    Scheduler(config=Config({"backend": {"db_uri": url}})).run(chain(5))
    backend = DbBackend(url)
    info = lineage(backend, hash_value(16))
    assert info.node.producer.task_name == "test_lineage.add"
    a, b = (child for child in info.node.inputs)
    assert a.name == "a" and a.producer is not None  # total = add(5, 1) = 6
    assert a.producer.task_name == "test_lineage.add"
    first_inputs = {c.name: c for c in a.inputs}
    assert first_inputs["a"].is_raw and "root task test_lineage.chain" in first_inputs["a"].origin
    assert b.name == "b" and b.is_raw  # the literal 10


def test_unknown_target_is_a_usage_error(backend: DbBackend) -> None:
    with pytest.raises(UsageError, match="no recorded file or value"):
        lineage(backend, "nope.txt")


def test_log_file_path_cli(workdir: Path, cli_env: dict[str, str]) -> None:
    (workdir / "flow.py").write_text(
        textwrap.dedent(
            """
            from redun import File, task

            @task
            def shout(path: File, out: str) -> File:
                result = File(out)
                result.write(path.read().upper())
                return result

            @task
            def main(src: str = "in.txt") -> File:
                return shout(File(src), "out.txt")
            """
        )
    )
    (workdir / "in.txt").write_text("hello")
    run = subprocess.run(
        [*redun_cli(), "run", "--no-progress", "flow.py", "main"],
        cwd=workdir,
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    text = subprocess.run(
        [*redun_cli(), "log", "out.txt"], cwd=workdir, env=cli_env, capture_output=True, text=True
    )
    assert text.returncode == 0, text.stderr
    assert "File out.txt" in text.stdout
    assert "<- Job" in text.stdout and "shout" in text.stdout
    assert "raw input" in text.stdout
    data = json.loads(
        subprocess.run(
            [*redun_cli(), "log", str(workdir / "out.txt"), "--format", "json"],
            cwd=workdir,
            env=cli_env,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert data["node"]["producer"]["task_name"] == "shout"
    assert {i["name"] for i in data["node"]["inputs"]} == {"path", "out"}
    consumed = subprocess.run(
        [*redun_cli(), "log", "in.txt"], cwd=workdir, env=cli_env, capture_output=True, text=True
    )
    assert "Consumed by:" in consumed.stdout and "shout (argument path)" in consumed.stdout
