"""Context values: get_context() in defaults and options, nesting, update semantics, config."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from redun import Scheduler, get_context, task
from redun.backends import MemoryBackend
from redun.cli.cmd_run import parse_context
from redun.config import Config
from redun.errors import UsageError
from redun.scheduler.context import get_context_value, merge_contexts
from tests.conftest import redun_cli

redun_namespace = "test_context"

CALLS: list[str] = []


@task
def add(
    a: int, b: int, offset: int = get_context("offset", 3), mult: int = get_context("mult", 1)
) -> int:
    CALLS.append("add")
    return a + b + offset * mult


@task
def outer() -> int:
    return add(3, 4)


@task
def nested(x: str = get_context("aa.bb.cc", "foo"), y: str = get_context("aa.dd", "none")) -> str:
    return f"{x}/{y}"


@task(executor=get_context("tool.executor", "default"), cache=get_context("tool.cache", True))
def configured(x: int) -> int:
    CALLS.append("configured")
    return x * 2


def test_defaults_read_the_calls_own_context() -> None:
    CALLS.clear()
    scheduler = Scheduler(backend=MemoryBackend())
    assert scheduler.run(add(1, 2)) == 6
    assert scheduler.run(add.update_context({"offset": 4})(1, 2)) == 7
    assert CALLS == ["add", "add"]  # a different context is a different call
    assert scheduler.run(add.update_context({"offset": 4})(1, 2)) == 7
    assert CALLS == ["add", "add"]  # ...and the same context is a cache hit
    assert scheduler.run(add.update_context(offset=5)(1, 2)) == 8


def test_children_inherit_the_parents_context() -> None:
    scheduler = Scheduler()
    assert scheduler.run(outer.update_context({"offset": 10})()) == 17
    assert scheduler.run(outer.update_context({"mult": 2})()) == 13
    assert scheduler.run(outer(), context={"offset": 10, "mult": 20}) == 207


def test_updates_merge_key_by_key_at_every_depth() -> None:
    scheduler = Scheduler()
    both = add.update_context({"offset": 4}).update_context({"mult": 2})
    assert scheduler.run(both(1, 2)) == 11
    context = {"aa": {"bb": {"cc": "bar"}, "dd": "kept"}}
    assert scheduler.run(nested.update_context(context)()) == "bar/kept"
    deeper = nested.update_context(context).update_context({"aa": {"bb": {"cc": "baz"}}})
    assert scheduler.run(deeper()) == "baz/kept"
    # The run's context and the task's update merge the same way.
    assert scheduler.run(nested.update_context({"aa": {"dd": "task"}})(), context=context) == (
        "bar/task"
    )


def test_merge_contexts_leaves_its_inputs_alone() -> None:
    base = {"a": {"b": 1, "c": {"d": 2}}}
    update = {"a": {"c": {"e": 3}}, "f": 4}
    assert merge_contexts(base, update) == {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": 4}
    assert base == {"a": {"b": 1, "c": {"d": 2}}}
    assert merge_contexts(base, None) is base
    assert merge_contexts({"a": {"b": 1}}, {"a": 5}) == {"a": 5}
    assert get_context_value({"list": [1, 2]}, "list.bad", "default") == "default"


def test_options_given_as_get_context_are_evaluated_per_call() -> None:
    CALLS.clear()
    config = Config({"executors.mine": {"type": "threads", "max_workers": "2"}})
    scheduler = Scheduler(config=config, backend=MemoryBackend())
    assert scheduler.run(configured(2), context={"tool": {"executor": "mine"}}) == 4
    (job,) = scheduler.jobs()
    assert job.executor_name == "mine"
    assert scheduler.run(configured(2), context={"tool": {"executor": "mine"}}) == 4
    assert CALLS == ["configured"]  # cache=True from the default
    context = {"tool": {"executor": "mine", "cache": False}}
    assert scheduler.run(configured(2), context=context) == 4
    assert scheduler.run(configured(2), context=context) == 4
    assert CALLS == ["configured"] * 3  # cache=False from the context
    assert scheduler.run(configured(3)) == 6
    assert scheduler.jobs()[0].executor_name == "default"


def test_context_from_config_text_or_file(tmp_path: Path) -> None:
    scheduler = Scheduler(config=Config({"scheduler": {"context": '{"offset": 10, "mult": 20}'}}))
    assert scheduler.run(add(1, 2)) == 203
    path = tmp_path / "context.json"
    path.write_text('{"offset": 1}')
    scheduler = Scheduler(config=Config({"scheduler": {"context_file": str(path)}}))
    assert scheduler.run(add(1, 2)) == 4
    with pytest.raises(UsageError, match="both context and context_file"):
        Scheduler(config=Config({"scheduler": {"context": "{}", "context_file": str(path)}}))
    with pytest.raises(UsageError, match="not valid JSON"):
        Scheduler(config=Config({"scheduler": {"context": "{oops"}}))


def test_cli_context_values_are_read_as_the_original_reads_them() -> None:
    assert parse_context(
        ["a.b=10", "a.c=x y", "a.d=1.5", "flag=true", "none=null", "empty=", 'j=[1, "2"]', 's="7"']
    ) == {
        "a": {"b": 10, "c": "x y", "d": 1.5},
        "flag": True,
        "none": None,
        "empty": None,
        "j": [1, "2"],
        "s": "7",
    }
    assert parse_context(["a.b=1", "a.c=2"]) == {"a": {"b": 1, "c": 2}}
    with pytest.raises(UsageError, match="not valid JSON"):
        parse_context(["a=[1,"])
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_context(["novalue"])


def test_cli_context_merges_over_the_config_context(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    (tmp_path / "flow.py").write_text(
        "from redun import get_context, task\n"
        "redun_namespace = 'ctx'\n"
        "@task\n"
        "def main(b: int = get_context('a.b', 0), c: int = get_context('a.c', 0)) -> int:\n"
        "    return b * 100 + c\n"
        "@task(executor=get_context('tool.executor', 'default'))\n"
        "def tool(x: int = get_context('a.b', 0)) -> int:\n"
        "    return x + 1\n"
    )
    conf = tmp_path / ".redun"
    conf.mkdir()
    (conf / "redun.ini").write_text('[scheduler]\ncontext = {"a": {"b": 1, "c": 2}}\n')
    proc = subprocess.run(
        [*redun_cli(), "run", "--no-progress", "--context", "a.b=10", "flow.py", "main"],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1002"
    # An option given as get_context() is evaluated, and the run is recorded.
    proc = subprocess.run(
        [
            *redun_cli(),
            "run",
            "--no-progress",
            "--context",
            "tool.executor=process",
            "flow.py",
            "tool",
        ],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "2"
