"""The watch reactor as a pure state machine: events in, actions out, a fake clock."""

from __future__ import annotations

import pytest

from redund.reactor import (
    FilesChanged,
    Measure,
    Measured,
    Observe,
    Phase,
    Reactor,
    Stale,
    StartFailed,
    StartRun,
    TransitionError,
    WatchRemoved,
    WatchUpdated,
)

FLOW = "/p/flow.py"
HELPER = "/p/helper.py"
DATA = "/p/data.txt"
OUT = "/p/out/result.txt"
DIR = "/p/inputs"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reactor(clock: Clock) -> Reactor:
    return Reactor(clock=clock, quiet=0.05, max_wait=0.5, ignore=["/p/.redun"])


def updated(execution_id: str, *, running: bool, watch_id: str = "w1") -> WatchUpdated:
    return WatchUpdated(
        watch_id,
        FLOW,
        frozenset({FLOW, HELPER, DATA, OUT, DIR}),
        frozenset({OUT}),
        execution_id,
        running,
    )


def of(actions: list, kind: type) -> list:
    return [action for action in actions if type(action) is kind]


def settle(reactor: Reactor, actions: list) -> None:
    """Answer Measure actions with a fingerprint per path, as the shell does."""
    for measure in of(actions, Measure):
        reactor.handle(Measured({path: ("v", 0) for path in measure.paths}, measure.watch_id))


def idle_watch(reactor: Reactor) -> None:
    """A watch whose first run (e1) started and ended, its files measured."""
    first = reactor.handle(WatchUpdated("w1", FLOW, execution_id="e1", running=True))
    assert of(first, Observe) == [Observe(frozenset({FLOW}))]
    actions = reactor.handle(updated("e1", running=False))
    assert of(actions, Observe) == [Observe(frozenset({FLOW, HELPER, DATA, OUT, DIR}))]
    [measure] = of(actions, Measure)
    assert measure.paths == frozenset({FLOW, HELPER, DATA, OUT, DIR})
    assert (measure.watch_id, measure.execution_id) == ("w1", "e1")
    assert measure.fresh == frozenset({FLOW, HELPER, DATA, DIR})  # unmeasured, not outputs
    settle(reactor, actions)
    assert reactor.watches["w1"].phase is Phase.IDLE


def test_a_change_fires_once_quiet(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    assert reactor.handle(FilesChanged({HELPER: ("v", 1)})) == []
    assert reactor.deadline() == pytest.approx(clock.now + 0.05)
    clock.advance(0.049)
    assert reactor.poll() == []
    clock.advance(0.001)
    assert reactor.poll() == [StartRun("w1", (HELPER,), "")]
    assert reactor.watches["w1"].phase is Phase.STARTING
    assert reactor.deadline() is None


def test_a_burst_of_saves_is_one_run(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    # an editor's write-then-rename, then a formatter rewriting the file
    for version in range(1, 6):
        assert reactor.handle(FilesChanged({FLOW: ("v", version)})) == []
        clock.advance(0.03)
    reactor.handle(FilesChanged({HELPER: ("v", 9)}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (FLOW, HELPER), "")]
    clock.advance(1)
    assert reactor.poll() == []


def test_a_never_ending_burst_fires_after_max_wait(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    fired = []
    for version in range(1, 40):
        fired += reactor.handle(FilesChanged({DATA: ("v", version)}))
        clock.advance(0.02)
        fired += reactor.poll()
        if fired:
            break
    assert fired == [StartRun("w1", (DATA,), "")]
    assert clock.now - 100.0 == pytest.approx(0.5, abs=0.021)


def test_unchanged_fingerprints_are_no_change(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    assert reactor.handle(FilesChanged({HELPER: ("v", 0), DATA: ("v", 0)})) == []
    assert reactor.deadline() is None


def test_paths_outside_the_watch_and_the_home_do_not_count(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    reactor.handle(FilesChanged({"/p/unrelated.py": ("v", 1), "/p/.redun/redun.db": ("v", 1)}))
    assert reactor.deadline() is None


def test_a_file_below_a_watched_directory_counts(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    reactor.handle(FilesChanged({DIR + "/new.csv": ("v", 1), "/p/inputs2/x": ("v", 1)}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (DIR + "/new.csv",), "")]


def test_a_change_during_a_run_supersedes_it(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    reactor.handle(FilesChanged({HELPER: ("v", 1)}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (HELPER,), "")]
    reactor.handle(updated("e2", running=True))
    assert reactor.watches["w1"].phase is Phase.RUNNING
    reactor.handle(FilesChanged({DATA: ("v", 2)}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (DATA,), "e2")]
    # the superseded run ends (cancelled) before the new one is known: still starting
    assert reactor.handle(updated("e2", running=False)) == []
    assert reactor.watches["w1"].phase is Phase.STARTING
    reactor.handle(updated("e3", running=True))
    assert reactor.watches["w1"].execution_id == "e3"
    actions = reactor.handle(updated("e3", running=False))
    assert of(actions, Measure) == [Measure(frozenset({OUT}), "w1", "e3")]


def test_changes_while_starting_wait_for_the_new_run(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    reactor.handle(FilesChanged({HELPER: ("v", 1)}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (HELPER,), "")]
    reactor.handle(FilesChanged({HELPER: ("v", 2)}))
    clock.advance(1)
    assert reactor.poll() == []  # the run being started has not got an id yet
    assert reactor.deadline() is None
    actions = reactor.handle(updated("e2", running=True))
    assert actions == [StartRun("w1", (HELPER,), "e2")]


def test_the_runs_own_writes_are_ignored(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    reactor.handle(FilesChanged({DATA: ("v", 1)}))
    clock.advance(0.05)
    reactor.poll()
    reactor.handle(updated("e2", running=True))
    reactor.handle(FilesChanged({OUT: ("v", 1)}))  # written while the run is in flight
    clock.advance(1)
    assert reactor.poll() == []
    actions = reactor.handle(updated("e2", running=False))
    assert of(actions, Measure) == [Measure(frozenset({OUT}), "w1", "e2")]
    reactor.handle(Measured({OUT: ("v", 2)}, "w1"))
    reactor.handle(FilesChanged({OUT: ("v", 2)}))  # the late echo of the last write
    clock.advance(1)
    assert reactor.poll() == []
    reactor.handle(FilesChanged({OUT: None}))  # a user deletes the output: make it again
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (OUT,), "")]


def test_files_learnt_at_a_runs_end_and_modified_during_it_count(
    reactor: Reactor, clock: Clock
) -> None:
    reactor.handle(WatchUpdated("w1", FLOW, execution_id="e1", running=True))
    [measure] = of(reactor.handle(updated("e1", running=False)), Measure)
    # the shell found data.txt modified after e1 began: e1 may have read the old bytes
    fingerprints = {path: ("v", 0) for path in measure.paths}
    reactor.handle(Measured(fingerprints, "w1", (DATA,)))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (DATA,), "")]


def test_the_first_run_can_be_superseded(reactor: Reactor, clock: Clock) -> None:
    reactor.handle(WatchUpdated("w1", FLOW, execution_id="e1", running=True))
    reactor.handle(FilesChanged({FLOW: ("v", 1)}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (FLOW,), "e1")]


def test_stale_watches_run_again(reactor: Reactor, clock: Clock) -> None:
    actions = reactor.handle(updated("e1", running=False))
    assert of(actions, Measure)
    reactor.handle(Stale("w1", (HELPER,)))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (HELPER,), "")]


def test_start_failed_goes_back_to_idle(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    with pytest.raises(TransitionError, match="only a starting watch"):
        reactor.handle(StartFailed("w1"))
    reactor.handle(FilesChanged({HELPER: ("v", 1)}))
    clock.advance(0.05)
    assert reactor.poll()
    reactor.handle(StartFailed("w1"))
    assert reactor.watches["w1"].phase is Phase.IDLE
    reactor.handle(FilesChanged({HELPER: ("v", 2)}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (HELPER,), "")]


def test_removed_watches_stop_observing(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    reactor.handle(WatchUpdated("w2", "/q/other.py", execution_id="x1", running=True))
    assert reactor.observed == frozenset({FLOW, HELPER, DATA, OUT, DIR, "/q/other.py"})
    reactor.handle(FilesChanged({HELPER: ("v", 1)}))
    actions = reactor.handle(WatchRemoved("w1"))
    assert actions == [Observe(frozenset({"/q/other.py"}))]
    clock.advance(1)
    assert reactor.poll() == []
    assert reactor.handle(StartFailed("w1")) == []  # a start that raced the removal


def test_two_watches_share_a_helper(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    settle(reactor, reactor.handle(updated("x1", running=False, watch_id="w2")))
    reactor.handle(FilesChanged({HELPER: ("v", 1)}))
    clock.advance(0.05)
    assert sorted(reactor.poll(), key=lambda a: a.watch_id) == [
        StartRun("w1", (HELPER,), ""),
        StartRun("w2", (HELPER,), ""),
    ]


def test_one_watchs_output_is_anothers_input(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    reader = WatchUpdated("w2", "/q/reader.py", frozenset({"/q/reader.py", OUT}), frozenset())
    settle(reactor, reactor.handle(reader))
    reactor.handle(FilesChanged({DATA: ("v", 1)}))
    clock.advance(0.05)
    reactor.poll()
    reactor.handle(updated("e2", running=True))
    reactor.handle(FilesChanged({OUT: ("v", 1)}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w2", (OUT,), "")]


def test_bad_settings_and_events_are_refused(clock: Clock) -> None:
    with pytest.raises(ValueError, match="quiet <= max_wait"):
        Reactor(clock=clock, quiet=1.0, max_wait=0.5)
    with pytest.raises(TypeError, match="not a reactor event"):
        Reactor(clock=clock).handle("flow.py changed")  # type: ignore[arg-type]


def test_a_removed_watch_forgets_its_fingerprints(reactor: Reactor, clock: Clock) -> None:
    idle_watch(reactor)
    assert HELPER in reactor.known
    reactor.handle(WatchRemoved("w1"))
    assert reactor.known == {}
    # watched again later: a path not measured since counts as changed
    reactor.handle(WatchUpdated("w3", FLOW, frozenset({FLOW, HELPER}), execution_id="e9"))
    reactor.handle(FilesChanged({FLOW: ("v", 0)}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w3", (FLOW,), "")]


# -- objects in buckets: measured in parts ---------------------------------------------------
BUCKET_IN = "s3://bucket/in/data.csv"
BUCKET_DIR = "gs://bucket/inputs/"
BUCKET_OUT = "gs://bucket/out/report.txt"


def remote_updated(execution_id: str, *, running: bool) -> WatchUpdated:
    return WatchUpdated(
        "w1",
        FLOW,
        frozenset({FLOW, DATA, BUCKET_IN, BUCKET_DIR, BUCKET_OUT}),
        frozenset({BUCKET_OUT}),
        execution_id,
        running,
    )


def test_object_urls_are_observed_and_their_changes_rerun(reactor: Reactor, clock: Clock) -> None:
    reactor.handle(WatchUpdated("w1", FLOW, execution_id="e1", running=True))
    actions = reactor.handle(remote_updated("e1", running=False))
    assert BUCKET_IN in of(actions, Observe)[0].paths
    settle(reactor, actions)
    reactor.handle(FilesChanged({BUCKET_DIR + "x.csv": ("object", "etag-1")}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (BUCKET_DIR + "x.csv",), "")]


def test_a_runs_object_outputs_are_its_own_until_measured(reactor: Reactor, clock: Clock) -> None:
    reactor.handle(WatchUpdated("w1", FLOW, execution_id="e1", running=True))
    settle(reactor, reactor.handle(remote_updated("e1", running=False)))
    reactor.handle(FilesChanged({BUCKET_IN: ("object", "2")}))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (BUCKET_IN,), "")]
    reactor.handle(remote_updated("e2", running=True))
    [measure] = of(reactor.handle(remote_updated("e2", running=False)), Measure)
    assert measure.paths == frozenset({BUCKET_OUT})
    # the shell answers local paths at once, objects once their requests come back; a poll
    # that saw the run's own write of its output arrives in between: still the run's doing
    reactor.handle(Measured({}, "w1", more=True))
    reactor.handle(FilesChanged({BUCKET_OUT: ("object", "new")}))
    clock.advance(1)
    assert reactor.poll() == []
    reactor.handle(Measured({BUCKET_OUT: ("object", "new")}, "w1"))
    reactor.handle(FilesChanged({BUCKET_OUT: ("object", "new")}))  # a poll repeats it: no change
    clock.advance(1)
    assert reactor.poll() == []
    reactor.handle(FilesChanged({BUCKET_OUT: None}))  # deleted by someone: made again
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (BUCKET_OUT,), "")]


def test_objects_modified_during_the_first_run_count(reactor: Reactor, clock: Clock) -> None:
    reactor.handle(WatchUpdated("w1", FLOW, execution_id="e1", running=True))
    [measure] = of(reactor.handle(remote_updated("e1", running=False)), Measure)
    assert BUCKET_IN in measure.fresh and BUCKET_OUT not in measure.fresh
    reactor.handle(Measured({FLOW: ("v", 0), DATA: ("v", 0)}, "w1", more=True))
    reactor.handle(Measured({BUCKET_IN: ("object", "1")}, "w1", (BUCKET_IN,)))
    clock.advance(0.05)
    assert reactor.poll() == [StartRun("w1", (BUCKET_IN,), "")]
