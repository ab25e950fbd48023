"""Submitting real workflows: results, events, logs, bad submissions, crashes, cancel."""

from __future__ import annotations

import json
import time

import grpc
import pytest

from redun.client import (
    ExecutionCancelled,
    ExecutionFailed,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from redun.v1 import daemon_pb2, runs_pb2

from .helpers import Daemon


@pytest.fixture(autouse=True)
def _in_project(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(daemon.project)


def test_submit_and_result(daemon: Daemon) -> None:
    with daemon.client() as client:
        began = time.monotonic()
        run = client.submit("flow.py", "chatty", args={"lines": "10"})
        first_running = None
        types = []
        for event in run.events(replay=True):
            types.append(event["type"])
            if first_running is None and event.get("state") == "running":
                first_running = time.monotonic() - began
        assert run.result(timeout=30) == 10
        assert (
            client.submit("flow.py", "greet", args={"name": "daemon"}).result() == "Hello, daemon!"
        )
    assert types[0] == "execution_started" and types[-1] == "execution_finished"
    assert first_running is not None and first_running < 5


def test_a_large_result_comes_back_whole_after_a_restart(fresh_daemon: Daemon) -> None:
    # Large values live in the value store, not in the database row; after a
    # restart the daemon reads results from the store.
    expected = list(range(100000))
    fresh_daemon.start()
    with fresh_daemon.client() as client:
        run_id = client.submit("flow.py", "big", args={"n": "100000"}).id
        assert client.result(run_id, timeout=30) == expected
    fresh_daemon.stop()
    fresh_daemon.start()
    with fresh_daemon.client() as client:
        assert client.result(run_id, timeout=30) == expected


def test_cli_submit_wait_prints_result_last(daemon: Daemon) -> None:
    result = daemon.redun("submit", "flow.py", "fanout", "--n", "20", "--wait")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(sum(range(1, 21)))


def test_cli_submit_dryrun_says_what_would_run_and_why(daemon: Daemon) -> None:
    done = daemon.redun("submit", "--wait", "flow.py", "sum_list", "--xs", "4", "5")
    assert done.returncode == 0, done.stderr
    dry = daemon.redun("submit", "--wait", "--dryrun", "flow.py", "sum_list", "--xs", "4", "6")
    assert dry.returncode == 0, dry.stderr
    out = dry.stdout
    assert "1 job(s) would run" in out and "would run" in out.split("\n", 1)[1]
    assert "argument xs changed: [4, 5] -> [4, 6]" in out


def test_cli_submit_list_argument(daemon: Daemon) -> None:
    result = daemon.redun("submit", "--wait", "flow.py", "sum_list", "--xs", "1", "2", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "6"


def test_cli_submit_prints_id_and_events_json(daemon: Daemon) -> None:
    submitted = daemon.redun("submit", "flow.py", "fanout", "--n", "5")
    assert submitted.returncode == 0, submitted.stderr
    execution_id = submitted.stdout.strip()
    assert len(execution_id) == 32
    streamed = daemon.redun("events", "--json", "--execution", execution_id)
    assert streamed.returncode == 0, streamed.stderr
    events = [json.loads(line) for line in streamed.stdout.splitlines()]
    assert all({"type", "time", "execution_id"} <= set(event) for event in events)
    assert {event["execution_id"] for event in events} == {execution_id}
    jobs = [event for event in events if event["type"] == "job_state"]
    assert {job["task"] for job in jobs} == {"e2e.fanout", "e2e.inc", "e2e.total"}
    assert all(job["state"] in ("pending", "running", "cached", "done") for job in jobs)
    assert all("job_id" in job for job in jobs)
    finished = events[-1]
    assert finished["type"] == "execution_finished" and finished["status"] == "done"
    # a late client sees every job's final state
    final = {job["job_id"]: job["state"] for job in jobs}
    assert len(final) == 7 and set(final.values()) <= {"done", "cached"}


def test_failing_task(daemon: Daemon) -> None:
    result = daemon.redun("submit", "flow.py", "boom", "--x", "7", "--wait")
    assert result.returncode == 1
    assert "ValueError: boom 7" in result.stderr
    assert 'raise ValueError(f"boom {x}")' in result.stderr
    assert "redund" not in result.stderr.split("Traceback")[-1]  # trimmed to user code
    with daemon.client() as client:
        run = client.submit("flow.py", "boom")
        with pytest.raises(ExecutionFailed, match="ValueError: boom 1") as caught:
            run.result(timeout=30)
        assert caught.value.error_type == "ValueError"
        events = list(run.events())
        finished = events[-1]
        assert finished["status"] == "failed" and finished["error"] == "ValueError: boom 1"
        failed = [e for e in events if e.get("state") == "failed"]
        assert failed and failed[0]["error_type"] == "ValueError"


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        (dict(workflow_path="missing.py", task="main"), "NOT_FOUND", "workflow file not found: "),
        (dict(workflow_path="flow.py", task="gret"), "NOT_FOUND", "did you mean 'greet'?"),
        (
            dict(workflow_path="flow.py", task="greet", argv=["--nme", "x"]),
            "INVALID_ARGUMENT",
            "unrecognized arguments: --nme x",
        ),
        (
            dict(workflow_path="flow.py", task="inc", args={"x": "one"}),
            "INVALID_ARGUMENT",
            "argument --x: invalid int value: 'one'",
        ),
        (dict(workflow_path="flow.py", task="inc"), "INVALID_ARGUMENT", "needs --x"),
        (dict(workflow_path="broken.py", task="main"), "INVALID_ARGUMENT", "SyntaxError"),
        (
            dict(workflow_path="flow.py", task="greet", options={"colour": "red"}),
            "INVALID_ARGUMENT",
            "unknown option(s) colour",
        ),
        (
            dict(workflow_path="flow.py", task="greet", kwargs_json="[1]"),
            "INVALID_ARGUMENT",
            "must be a JSON object",
        ),
        (dict(workflow_path="", task="greet"), "INVALID_ARGUMENT", "workflow_path is empty"),
        (dict(workflow_path="flow.py", task=""), "INVALID_ARGUMENT", "task is empty"),
    ],
)
def test_bad_submissions_get_precise_statuses(
    daemon: Daemon, spec: dict, code: str, message: str
) -> None:
    (daemon.project / "broken.py").write_text(
        "from redun import task\n\n@task\ndef main(:\n    pass\n"
    )
    spec.setdefault("working_dir", str(daemon.project))
    channel = grpc.insecure_channel("unix:" + str(daemon.home / "redund.sock"))
    from redun.v1 import daemon_pb2_grpc

    stub = daemon_pb2_grpc.RedunStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Submit(daemon_pb2.SubmitRequest(spec=runs_pb2.RunSpec(**spec)), timeout=30)
    assert caught.value.code().name == code
    assert message in caught.value.details()
    channel.close()


def test_syntax_error_names_file_and_line(daemon: Daemon) -> None:
    (daemon.project / "broken2.py").write_text(
        "from redun import task\n\n\n@task\ndef main(:\n    pass\n"
    )
    with daemon.client() as client, pytest.raises(InvalidArgument) as caught:
        client.submit("broken2.py", "main")
    assert "SyntaxError" in str(caught.value)
    assert "broken2.py, line 5" in str(caught.value)
    result = daemon.redun("submit", "broken2.py", "main")
    assert result.returncode == 2 and "line 5" in result.stderr


def test_cli_bad_submission_exit_codes(daemon: Daemon) -> None:
    result = daemon.redun("submit", "flow.py", "gret")
    assert result.returncode == 2
    assert "task 'gret' not found" in result.stderr and "did you mean 'greet'?" in result.stderr
    assert daemon.redun("submit", "nothere.py", "main").returncode == 2


def test_os_exit_in_a_task_fails_the_run_not_the_daemon(daemon: Daemon) -> None:
    pid = daemon.pid()
    with daemon.client() as client:
        run = client.submit("flow.py", "crash", args={"code": "3"})
        with pytest.raises(ExecutionFailed, match="exited with code 3") as caught:
            run.result(timeout=30)
        assert caught.value.error_type == "RunnerDied"
        assert client.health().pid == pid
        assert client.submit("flow.py", "greet").result(timeout=30) == "Hello, world!"


def test_cancel_a_hanging_run(daemon: Daemon) -> None:
    with daemon.client() as client:
        run = client.submit("flow.py", "hang")
        for event in run.events():
            if event["type"] == "log" and "hanging" in event["text"]:
                break
        began = time.monotonic()
        assert run.cancel() == 1
        assert time.monotonic() - began < 10
        with pytest.raises(ExecutionCancelled):
            run.result(timeout=10)
        assert run.status() == "cancelled"
        events = list(run.events())
        assert events[-1]["status"] == "cancelled"
        assert [e["state"] for e in events if e["type"] == "job_state"] == ["cancelled"]
        with pytest.raises(FailedPrecondition, match="already finished"):
            run.cancel()
        with pytest.raises(NotFound, match="no execution"):
            client.cancel("0" * 32)
    result = daemon.redun("cancel", "f" * 32)
    assert result.returncode == 2 and "no execution" in result.stderr


def test_logs_of_a_job(daemon: Daemon) -> None:
    with daemon.client() as client:
        run = client.submit("flow.py", "chatty", args={"lines": "4"})
        job_id = ""
        for event in run.events():
            if event["type"] == "job_state":
                job_id = event["job_id"]
                break
        followed = "".join(line.text for line in client.logs(job_id, follow=True))
        assert run.result(timeout=30) == 4
        assert followed == "".join(f"line {i}\n" for i in range(4))
        again = "".join(line.text for line in client.logs(job_id))
        assert again == followed


def test_runner_never_imports_grpc(daemon: Daemon) -> None:
    with daemon.client() as client:
        assert client.submit("flow.py", "grpc_loaded").result(timeout=30) is False


def test_list_and_get_executions(daemon: Daemon) -> None:
    with daemon.client() as client:
        run = client.submit("flow.py", "fanout", args={"n": "3"})
        run.result(timeout=30)
        listed = client.executions(limit=50)
        assert run.id in [execution.id for execution in listed]
        execution = client.execution(run.id, include_jobs=True)
        assert execution.spec.task == "fanout" and execution.spec.workflow_path.endswith("flow.py")
        assert execution.job_counts.total == 5 and len(execution.jobs) == 5
        root = [job for job in execution.jobs if not job.parent_id]
        assert len(root) == 1 and root[0].id == execution.root_job_id
        assert root[0].child_count == 4
        children = list(client.jobs(run.id, parent_id=execution.root_job_id))
        assert len(children) == 4
        job = client.job(children[0].id)
        assert job.task in ("e2e.inc", "e2e.total") and job.args_summary
        with pytest.raises(NotFound):
            client.execution("nope")


def test_result_timeout(daemon: Daemon) -> None:
    with daemon.client() as client:
        run = client.submit("flow.py", "hang", args={"seconds": "30"})
        with pytest.raises(TimeoutError):
            run.result(timeout=0.2)
        run.cancel()


def test_lineage_of_a_result(daemon: Daemon) -> None:
    with daemon.client() as client:
        run = client.submit("flow.py", "inc", args={"x": "41"}, no_cache=True)
        assert run.result(timeout=30) == 42
        job = client.job(client.execution(run.id).root_job_id)
        graph = client.lineage(
            job.result.hash or _result_hash(client, run.id), direction="upstream"
        )
        kinds = {node.kind for node in graph.nodes}
        assert {1, 3} <= kinds  # values and the call that made it
        tasks = {node.task for node in graph.nodes if node.task}
        assert "e2e.inc" in tasks
        with pytest.raises(NotFound):
            client.lineage("0" * 40)


def _result_hash(client, execution_id: str) -> str:  # type: ignore[no-untyped-def]
    return client.get_result(execution_id).result.hash


def test_a_run_reports_what_it_depends_on(daemon: Daemon) -> None:
    """The seam for watches: modules imported and local files touched, per run."""
    from redun.v1 import daemon_pb2_grpc

    (daemon.project / "helper_mod.py").write_text("FACTOR = 3\n")
    (daemon.project / "data.txt").write_text("a b c d\n")
    (daemon.project / "dep_flow.py").write_text(
        "from redun import File, task\n"
        "import helper_mod\n\n"
        "@task\n"
        "def main(path: File) -> int:\n"
        "    return len(path.read().split()) * helper_mod.FACTOR\n"
    )
    channel = grpc.insecure_channel("unix:" + str(daemon.home / "redund.sock"))
    stub = daemon_pb2_grpc.RedunStub(channel)
    spec = runs_pb2.RunSpec(
        workflow_path="dep_flow.py",
        task="main",
        args={"path": "data.txt"},
        working_dir=str(daemon.project),
    )
    watch = stub.Watch(daemon_pb2.WatchRequest(spec=spec), timeout=30)
    assert watch.id and watch.last_execution_id
    with daemon.client() as client:
        assert client.result(watch.last_execution_id, timeout=30) == 12
        assert client.execution(watch.last_execution_id).watch_id == watch.id
    listed = stub.ListWatches(daemon_pb2.ListWatchesRequest(include_paths=True), timeout=10)
    [info] = [w for w in listed.watches if w.id == watch.id]
    assert set(info.watched_paths) == {
        str(daemon.project / "dep_flow.py"),
        str(daemon.project / "helper_mod.py"),
        str(daemon.project / "data.txt"),
    }
    assert info.last_status == 2  # DONE
    stub.Unwatch(daemon_pb2.UnwatchRequest(watch_id=watch.id), timeout=10)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Unwatch(daemon_pb2.UnwatchRequest(watch_id=watch.id), timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    channel.close()


def test_lineage_of_a_file(daemon: Daemon) -> None:
    (daemon.project / "words.txt").write_text("one two three\n")
    with daemon.client() as client:
        run = client.submit("flow.py", "count_words", args={"path": "words.txt"})
        assert run.result(timeout=30) == 3
        graph = client.lineage(file_path="words.txt", direction="downstream")
        assert any(node.kind == 2 for node in graph.nodes)  # the file
        assert "e2e.count_words" in {node.task for node in graph.nodes}
        with pytest.raises(NotFound, match="no recorded file"):
            client.lineage(file_path="never-seen.txt")


def test_malformed_requests_never_hurt_the_daemon(daemon: Daemon) -> None:
    from redun.v1 import daemon_pb2_grpc

    channel = grpc.insecure_channel("unix:" + str(daemon.home / "redund.sock"))
    stub = daemon_pb2_grpc.RedunStub(channel)
    cases = [
        (stub.ListExecutions, daemon_pb2.ListExecutionsRequest(page_token="abc"), "page_token"),
        (stub.GetExecution, daemon_pb2.GetExecutionRequest(), "execution_id is empty"),
        (stub.Cancel, daemon_pb2.CancelRequest(), "needs an execution_id or a job_id"),
        (
            stub.ListJobs,
            daemon_pb2.ListJobsRequest(execution_id="x", states=[99]),
            "unknown job state",
        ),
        (stub.Submit, daemon_pb2.SubmitRequest(), "spec is missing"),
        (stub.GetLineage, daemon_pb2.GetLineageRequest(), "value_hash or a file_path"),
    ]
    for method, request, message in cases:
        with pytest.raises(grpc.RpcError) as caught:
            method(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, message
        assert message in caught.value.details()
    garbage = channel.unary_unary("/redun.v1.Redun/Submit")
    with pytest.raises(grpc.RpcError):
        garbage(b"\xff\xff\xff\xff not a protobuf", timeout=10)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetJob(daemon_pb2.GetJobRequest(job_id="nope"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert stub.Health(daemon_pb2.HealthRequest(), timeout=10).pid == daemon.pid()
    channel.close()


def test_explain_a_job(daemon: Daemon) -> None:
    pytest.importorskip("redun.explain")
    with daemon.client() as client:
        first = client.submit("flow.py", "inc", args={"x": "100"})
        assert first.result(timeout=30) == 101
        again = client.submit("flow.py", "inc", args={"x": "100"})
        assert again.result(timeout=30) == 101
        job_id = client.execution(again.id).root_job_id
        explanation = client.explain(job_id)
        assert explanation.job_id == job_id and explanation.cached
        assert explanation.summary
        with pytest.raises(NotFound):
            client.explain("0" * 32)
