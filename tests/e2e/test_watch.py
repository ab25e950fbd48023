"""Reactive watches end to end: a real daemon, real files edited on disk, exact re-runs.

Each test works in its own directory with its own task namespace, so one
test's cache never answers another's. The daemon writes bytecode (no
PYTHONDONTWRITEBYTECODE), so a same-size edit within the second of the
previous import is the case Python's .pyc check cannot tell apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .helpers import Daemon, redun, write_workflow
from .watching import WatchEvents, edit, make_project, replay_run, save


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    project = tmp_path_factory.mktemp("watchproj")
    write_workflow(project)
    running = Daemon(project)
    running.env.pop("PYTHONDONTWRITEBYTECODE", None)
    running.start()
    yield running
    running.stop()


class Watched:
    """A project directory, a watch of one of its tasks, and the watch's events."""

    def __init__(self, daemon: Daemon, name: str, task: str = "main", **args: str) -> None:
        self.dir = make_project(daemon.project / name, namespace=f"w_{name}")
        self.client = daemon.client()
        info = self.client.watch("flow.py", task, args=args, working_dir=str(self.dir))
        self.id = info.id
        self.first = replay_run(self.client, info.last_execution_id)
        self.events = WatchEvents(daemon.client(), self.id)

    def path(self, name: str) -> Path:
        return self.dir / name

    def info(self):  # type: ignore[no-untyped-def]
        """The watch, once its last run's end is recorded (just after execution_finished)."""
        deadline = time.monotonic() + 10
        while True:
            [info] = [w for w in self.client.watches(include_paths=True) if w.id == self.id]
            if info.last_status != 1 or time.monotonic() > deadline:  # RUNNING
                return info
            time.sleep(0.01)

    def close(self) -> None:
        self.events.close()
        self.client.close()


@pytest.fixture
def watched(daemon: Daemon, request: pytest.FixtureRequest) -> Iterator[Watched]:
    watched = Watched(daemon, request.node.name.removeprefix("test_")[:40])
    yield watched
    watched.client.unwatch(watched.id)
    watched.close()


def test_source_edits_rerun_exactly_what_they_affect(watched: Watched) -> None:
    first = watched.first
    assert first.finished["status"] == "done" and first.finished["result"] == "22"
    assert first.ran == {"main", "scaled", "offset", "words", "combine"}

    # a comment and a reformatting: a run, in which everything is cached
    mark = watched.events.mark()
    edit(watched.path("flow.py"), "OFFSET = 10\n", "OFFSET = 10  # the offset\n")
    run = watched.events.next_run(mark)
    assert run.trigger is not None
    assert run.trigger["changed_paths"] == [str(watched.path("flow.py"))]
    assert run.ran == set() and run.cached == {"main"}

    # a constant of a helper module, same size, within the second of its import
    mark = watched.events.mark()
    edit(watched.path("helpers.py"), "FACTOR = 3", "FACTOR = 4", atomic=False)
    run = watched.events.next_run(mark)
    assert run.trigger is not None
    assert run.trigger["changed_paths"] == [str(watched.path("helpers.py"))]
    assert run.finished["result"] == "24"
    assert run.ran == {"scaled", "combine"}
    assert run.cached == {"offset", "words", "main"}

    # a helper function's body
    mark = watched.events.mark()
    edit(watched.path("helpers.py"), "return x * FACTOR", "return x * FACTOR + 1")
    run = watched.events.next_run(mark)
    assert run.finished["result"] == "25"
    assert run.ran == {"scaled", "combine"}

    # a module-level constant of the workflow
    mark = watched.events.mark()
    edit(watched.path("flow.py"), "OFFSET = 10", "OFFSET = 20")
    run = watched.events.next_run(mark)
    assert run.finished["result"] == "35"
    assert run.ran == {"offset", "combine"}
    assert run.cached == {"scaled", "words", "main"}


def test_a_data_edit_reruns_only_its_reader(watched: Watched) -> None:
    mark = watched.events.mark()
    save(watched.path("data.txt"), "a b c d e f\n", atomic=False)
    run = watched.events.next_run(mark)
    assert run.trigger is not None
    assert run.trigger["changed_paths"] == [str(watched.path("data.txt"))]
    assert run.finished["result"] == "24"
    assert run.ran == {"words", "combine", "main"}
    assert run.cached == {"scaled", "offset"}


def test_a_cached_first_run_still_watches_the_files_below_it(daemon: Daemon) -> None:
    project = make_project(daemon.project / "cachedfirst", namespace="w_cachedfirst")
    with daemon.client() as client:
        assert client.submit("flow.py", "by_name", working_dir=str(project)).result(30) == 4
        info = client.watch("flow.py", "by_name", working_dir=str(project))
        first = replay_run(client, info.last_execution_id)
        assert first.cached == {"by_name"} and not first.ran
        events = WatchEvents(daemon.client(), info.id)
        try:
            mark = events.mark()
            save(project / "data.txt", "a b c d e f\n", atomic=False)
            run = events.next_run(mark)
            assert run.finished["result"] == "6"
            assert run.ran == {"words", "by_name"}
        finally:
            client.unwatch(info.id)
            events.close()


def test_a_syntax_error_fails_the_run_and_the_watch_lives_on(watched: Watched) -> None:
    flow = watched.path("flow.py")
    good = flow.read_text()
    mark = watched.events.mark()
    save(flow, good.replace("OFFSET = 10", "OFFSET = = 10"))
    run = watched.events.next_run(mark)
    line = good.splitlines().index("OFFSET = 10") + 1
    assert run.finished["status"] == "failed"
    assert run.finished["error_type"] == "SyntaxError"
    assert f"line {line}" in run.finished["error"]
    assert run.states == {}
    assert watched.info().last_execution_id == run.execution_id

    # an import error, then the fix: the watch recovers
    mark = watched.events.mark()
    save(flow, good.replace("import helpers", "import helpers_gone"))
    run = watched.events.next_run(mark)
    assert run.finished["status"] == "failed"
    assert "helpers_gone" in run.finished["error"]

    mark = watched.events.mark()
    save(flow, good.replace("OFFSET = 10", "OFFSET = 11"))
    run = watched.events.next_run(mark)
    assert run.finished["status"] == "done" and run.finished["result"] == "23"
    assert run.ran == {"offset", "combine"}
    assert watched.info().last_status == 2  # DONE


def test_a_burst_of_saves_is_one_run(watched: Watched) -> None:
    flow = watched.path("flow.py")
    text = flow.read_text()
    mark = watched.events.mark()
    # an editor: a swap file, a backup, write-then-rename; then a formatter rewrites twice
    (watched.dir / ".flow.py.swp").write_text("swap")
    (watched.dir / "flow.py~").write_text(text)
    save(flow, text.replace("OFFSET = 10", "OFFSET = 30"))
    save(flow, text.replace("OFFSET = 10", "OFFSET  =  30"), atomic=False)
    save(flow, text.replace("OFFSET = 10", "OFFSET = 30"), atomic=False)
    (watched.dir / ".flow.py.swp").unlink()
    run = watched.events.next_run(mark)
    assert run.trigger is not None
    assert run.trigger["changed_paths"] == [str(flow)]
    assert run.ran == {"offset", "combine"}
    assert run.finished["result"] == "42"
    end = watched.events.mark()

    def edit_helpers(old: str, new: str) -> Callable[[], Path]:
        def change() -> Path:
            edit(watched.path("helpers.py"), old, new)
            return watched.path("helpers.py")

        return change

    # nothing else came of the burst: the next run is the next edit's alone
    after = watched.events.first_run_is(end, edit_helpers("FACTOR = 3", "FACTOR = 4"))
    assert after.finished["result"] == "44"
    assert watched.events.count("watch_triggered", mark) == 2
    assert watched.events.count("execution_started", mark) == 2

    # saving the same bytes again (a touch) is no change at all
    end = watched.events.mark()
    save(flow, flow.read_text())
    watched.events.first_run_is(end, edit_helpers("FACTOR = 4", "FACTOR = 5"))


def test_an_edit_during_a_run_supersedes_it(daemon: Daemon) -> None:
    watched = Watched(daemon, "supersede", task="slow_main")
    try:
        assert watched.first.finished["result"] == "0.0"
        mark = watched.events.mark()
        save(watched.path("delay.txt"), "60\n")
        watched.events.wait(
            lambda e: (
                e["type"] == "job_state" and e["task"].endswith("pause") and e["state"] == "running"
            ),
            start=mark,
        )
        slow = watched.events.wait(lambda e: e["type"] == "execution_started", start=mark)[1]
        mark = watched.events.mark()
        save(watched.path("delay.txt"), "0.5\n")
        run = watched.events.next_run(mark)
        assert run.trigger is not None
        assert run.trigger["superseded_execution_id"] == slow["execution_id"]
        assert run.trigger["changed_paths"] == [str(watched.path("delay.txt"))]
        assert run.finished["status"] == "done" and run.finished["result"] == "0.5"
        assert run.ran == {"pause", "slow_main"}
        _, cancelled = watched.events.wait(
            lambda e: (
                e["type"] == "execution_finished" and e["execution_id"] == slow["execution_id"]
            ),
            start=0,
        )
        assert cancelled["status"] == "cancelled"
    finally:
        watched.client.unwatch(watched.id)
        watched.close()


def test_files_the_run_writes_do_not_trigger_it(daemon: Daemon) -> None:
    watched = Watched(daemon, "outputs", task="publish")
    try:
        out = watched.path("out/loud.txt")
        assert out.read_text() == "A B C D\n"
        assert watched.first.finished["result"] == "4"
        assert str(out) in watched.info().watched_paths
        mark = watched.events.mark()

        def save_data() -> Path:
            save(watched.path("data.txt"), "x y\n", atomic=False)
            return watched.path("data.txt")

        # the first run wrote out/loud.txt: the first trigger is still the data edit
        run = watched.events.first_run_is(mark, save_data)
        assert run.ran == {"shout", "count_loud", "publish"}
        assert out.read_text() == "X Y\n"
        end = watched.events.mark()

        def edit_helpers() -> Path:
            edit(watched.path("helpers.py"), "FACTOR = 3", "FACTOR = 4")  # publish: all cached
            return watched.path("helpers.py")

        assert watched.events.first_run_is(end, edit_helpers).ran == set()
        end = watched.events.mark()

        # deleting the output makes the watch make it again
        out.unlink()
        run = watched.events.next_run(end)
        assert run.trigger is not None and run.trigger["changed_paths"] == [str(out)]
        assert "shout" in run.ran
        assert out.read_text() == "X Y\n"
    finally:
        watched.client.unwatch(watched.id)
        watched.close()


def test_the_cli(daemon: Daemon) -> None:
    project = make_project(daemon.project / "cli", namespace="w_cli")
    flow = str(project / "flow.py")
    result = redun("watch", "flow.py", "main", "--x", "3", cwd=project, env=daemon.env)
    assert result.returncode == 0, result.stderr
    watch_id = result.stdout.strip()
    assert len(watch_id) == 32
    again = redun("watch", "flow.py", "main", "--x", "3", cwd=project, env=daemon.env)
    assert again.stdout.strip() == watch_id  # the same watch twice is one watch
    listed = daemon.redun("watches")
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if line.startswith(watch_id[:8])]
    assert f"{flow} main --x 3" in line
    with daemon.client() as client:
        [info] = [w for w in client.watches() if w.id == watch_id]
        assert client.result(info.last_execution_id, timeout=30) == 9 + 13 + 4
    as_json = daemon.redun("watches", "--json")
    assert watch_id in as_json.stdout and "helpers.py" in as_json.stdout
    missing = daemon.redun("unwatch", "nope")
    assert missing.returncode == 2 and "no watch" in missing.stderr
    removed = daemon.redun("unwatch", watch_id[:10])
    assert removed.returncode == 0, removed.stderr
    assert watch_id not in daemon.redun("watches").stdout
    bad = daemon.redun("watch", flow, "mian")
    assert bad.returncode == 2 and "did you mean 'main'" in bad.stderr


def _runs(client, watch_id: str) -> list:  # type: ignore[no-untyped-def]
    return [e for e in client.executions(watch_id=watch_id) if e.status != 1]  # not RUNNING


def _saved(path: Path, text: str) -> Path:
    save(path, text)
    return path


def test_watches_survive_a_daemon_restart(fresh_daemon: Daemon) -> None:
    daemon = fresh_daemon
    project = make_project(daemon.project / "restart", namespace="w_restart")
    daemon.start()
    with daemon.client() as client:
        info = client.watch("flow.py", "main", working_dir=str(project))
        assert client.result(info.last_execution_id, timeout=30) == 22

    # a restart with nothing changed runs nothing
    daemon.stop()
    daemon.start()
    with daemon.client() as client:
        assert [w.id for w in client.watches()] == [info.id]
        events = WatchEvents(daemon.client(), info.id)
        try:
            # the first run since the start is the one this edit makes
            run = events.first_run_is(0, lambda: _saved(project / "data.txt", "a b c d e\n"))
        finally:
            events.close()
        assert run.ran == {"words", "combine", "main"} and run.finished["result"] == "23"
        assert [execution.id for execution in _runs(client, info.id)] == [run.execution_id]

    # an edit while no daemon watches is caught up at start
    daemon.stop()
    edit(project / "helpers.py", "FACTOR = 3", "FACTOR = 5")
    daemon.start()
    with daemon.client() as client:
        deadline = time.monotonic() + 30
        while not _runs(client, info.id):
            assert time.monotonic() < deadline, "no catch-up run"
            time.sleep(0.05)
        [caught_up] = _runs(client, info.id)
        assert client.result(caught_up.id, timeout=30) == 27
        jobs = client.execution(caught_up.id, include_jobs=True).jobs
        ran = {job.task.rsplit(".", 1)[-1] for job in jobs if not job.cached}
        assert ran == {"scaled", "combine"}

        # and the watch reacts to edits as before
        events = WatchEvents(daemon.client(), info.id)
        try:
            mark = events.mark()
            save(project / "data.txt", "one two three four five six\n")
            run = events.next_run(mark)
            assert run.ran == {"words", "combine", "main"}
            assert run.finished["result"] == "28"
        finally:
            events.close()
