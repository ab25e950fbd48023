"""The redun.v1 gRPC contract: generated code is current, works over a real
socket, and stays out of ``import redun``."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from redun.v1 import common_pb2, daemon_pb2, daemon_pb2_grpc, events_pb2, runs_pb2

ROOT = Path(__file__).resolve().parents[2]

# The longest path a Unix socket address may have (sun_path, minus the NUL).
MAX_SOCKET_PATH = 100


def test_generated_code_matches_protos() -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpc_tools is not importable: install grpcio-tools (the dev extra)")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_import_redun_loads_neither_grpc_nor_protobuf() -> None:
    code = (
        "import sys, redun, redun.v1\n"
        "loaded = sorted(m for m in sys.modules\n"
        "    if m == 'grpc' or m.startswith(('grpc.', 'google.protobuf')))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_event_types_are_the_json_type_names() -> None:
    # `redun events --json` prints WhichOneof("payload") as `type`.
    oneof = events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"]
    assert {f.name for f in oneof.fields} == {
        "execution_started",
        "execution_finished",
        "job_state",
        "log",
        "watch_triggered",
    }


def test_state_names_strip_to_the_json_spelling() -> None:
    def spellings(enum: object, prefix: str) -> set[str]:
        names = enum.keys()  # type: ignore[attr-defined]
        assert all(name.startswith(prefix) for name in names)
        return {name.removeprefix(prefix).lower() for name in names} - {"unspecified"}

    assert spellings(common_pb2.JobState, "JOB_STATE_") == {
        "pending",
        "queued",
        "running",
        "cached",
        "done",
        "failed",
        "cancelled",
    }
    assert spellings(common_pb2.ExecutionStatus, "EXECUTION_STATUS_") == {
        "running",
        "done",
        "failed",
        "cancelled",
        "interrupted",
    }


def sample_batches() -> list[events_pb2.EventBatch]:
    """One batch of each kind of event, then a live batch."""
    spec = runs_pb2.RunSpec(workflow_path="wf.py", task="main", args={"n": "3"})
    history = events_pb2.EventBatch(
        events=[
            events_pb2.Event(
                time_unix_ns=1,
                execution_id="e1",
                seq=1,
                execution_started=events_pb2.ExecutionStarted(spec=spec),
            ),
            events_pb2.Event(
                time_unix_ns=2,
                execution_id="e1",
                seq=2,
                job_state=events_pb2.JobStateChanged(
                    job_id="j1",
                    task="main",
                    state=common_pb2.JOB_STATE_RUNNING,
                    executor="default",
                    args_summary="n=3",
                ),
            ),
            events_pb2.Event(
                time_unix_ns=3,
                execution_id="e1",
                seq=3,
                log=events_pb2.LogLine(
                    job_id="j1", stream=common_pb2.LOG_STREAM_STDERR, text="héllo\n"
                ),
            ),
        ],
        caught_up=True,
    )
    live = events_pb2.EventBatch(
        events=[
            events_pb2.Event(
                time_unix_ns=4,
                execution_id="e2",
                seq=1,
                watch_triggered=events_pb2.WatchTriggered(
                    watch_id="w1", changed_paths=["wf.py"], superseded_execution_id="e1"
                ),
            ),
            events_pb2.Event(
                time_unix_ns=5,
                execution_id="e1",
                seq=9,
                execution_finished=events_pb2.ExecutionFinished(
                    status=common_pb2.EXECUTION_STATUS_FAILED,
                    error=common_pb2.Error(type="SyntaxError", message="wf.py, line 3"),
                    job_counts=common_pb2.JobCounts(total=1, failed=1),
                ),
            ),
        ],
        coalesced=4,
    )
    return [history, live]


class FakeRedun(daemon_pb2_grpc.RedunServicer):
    """Answers Health and StreamEvents; every other RPC is UNIMPLEMENTED."""

    def __init__(self) -> None:
        self.stream_requests: list[daemon_pb2.StreamEventsRequest] = []

    def Health(self, request, context):
        return daemon_pb2.HealthResponse(
            status=daemon_pb2.SERVING_STATUS_SERVING,
            pid=os.getpid(),
            addresses=["unix:test"],
            running_executions=1,
        )

    def StreamEvents(self, request, context):
        self.stream_requests.append(request)
        yield from sample_batches()


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "redund.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        yield path
        return
    # pytest's tmp_path can exceed the sun_path limit; fall back to a short one.
    with tempfile.TemporaryDirectory(prefix="redun-", dir="/tmp") as short:
        yield Path(short) / "redund.sock"


@pytest.fixture
def servicer_and_channel(socket_path: Path) -> Iterator[tuple[FakeRedun, grpc.Channel]]:
    servicer = FakeRedun()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    daemon_pb2_grpc.add_RedunServicer_to_server(servicer, server)
    address = f"unix:{socket_path}"
    assert server.add_insecure_port(address) != 0, f"could not bind {address}"
    server.start()
    channel = grpc.insecure_channel(address)
    try:
        yield servicer, channel
    finally:
        channel.close()
        server.stop(grace=None)


def test_health_round_trip(servicer_and_channel) -> None:
    _, channel = servicer_and_channel
    stub = daemon_pb2_grpc.RedunStub(channel)
    response = stub.Health(daemon_pb2.HealthRequest(), timeout=10)
    assert response.status == daemon_pb2.SERVING_STATUS_SERVING
    assert response.pid == os.getpid()
    assert list(response.addresses) == ["unix:test"]


def test_stream_events_round_trip(servicer_and_channel) -> None:
    servicer, channel = servicer_and_channel
    stub = daemon_pb2_grpc.RedunStub(channel)
    request = daemon_pb2.StreamEventsRequest(execution_id="e1", replay=True, max_batch=100)
    batches = list(stub.StreamEvents(request, timeout=10))

    assert batches == sample_batches()
    assert servicer.stream_requests == [request]
    types = [event.WhichOneof("payload") for batch in batches for event in batch.events]
    assert types == [
        "execution_started",
        "job_state",
        "log",
        "watch_triggered",
        "execution_finished",
    ]
    assert batches[0].events[2].log.text == "héllo\n"


def test_unimplemented_rpc_is_a_status(servicer_and_channel) -> None:
    _, channel = servicer_and_channel
    stub = daemon_pb2_grpc.RedunStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Version(daemon_pb2.VersionRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
