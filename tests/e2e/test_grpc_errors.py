"""The gRPC error path: precise statuses whatever a client sends."""

from __future__ import annotations

import grpc
import pytest

from redun.v1 import daemon_pb2, daemon_pb2_grpc

from .helpers import Daemon


@pytest.fixture
def stub(daemon: Daemon):  # type: ignore[no-untyped-def]
    channel = grpc.insecure_channel(
        "unix:" + str(daemon.home / "redund.sock"),
        options=[("grpc.max_send_message_length", 64 << 20)],
    )
    yield channel, daemon_pb2_grpc.RedunStub(channel)
    channel.close()


def _code_and_details(call, request) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as caught:
        result = call(request, timeout=20)
        if hasattr(result, "__iter__"):
            list(result)
    return caught.value.code(), caught.value.details() or ""


def test_huge_ids_and_paths_get_their_status_not_a_transport_error(stub) -> None:  # type: ignore[no-untyped-def]
    _, redun = stub
    huge = "x" * (5 << 20)
    code, details = _code_and_details(
        redun.GetExecution, daemon_pb2.GetExecutionRequest(execution_id=huge)
    )
    assert code == grpc.StatusCode.NOT_FOUND and len(details) < 2000
    assert "more characters" in details
    code, details = _code_and_details(
        redun.Submit,
        daemon_pb2.SubmitRequest(spec={"workflow_path": "/nope/" + huge, "task": "main"}),
    )
    assert code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
    assert len(details) < 2000


def test_undecodable_requests_are_invalid_arguments(stub, daemon: Daemon) -> None:  # type: ignore[no-untyped-def]
    channel, redun = stub
    garbage = channel.unary_unary("/redun.v1.Redun/Submit")
    code, details = _code_and_details(garbage, b"\xff\xff\xff\xff not a protobuf")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == "the request is not a valid redun.v1.SubmitRequest message"
    stream = channel.unary_stream("/redun.v1.Redun/StreamEvents")
    code, details = _code_and_details(stream, b"\xff\xff\xff\xff")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "StreamEventsRequest" in details
    assert redun.Health(daemon_pb2.HealthRequest(), timeout=10).pid == daemon.pid()


def test_streaming_an_unknown_watch_is_not_found(stub) -> None:  # type: ignore[no-untyped-def]
    _, redun = stub
    code, details = _code_and_details(
        redun.StreamEvents, daemon_pb2.StreamEventsRequest(watch_id="no-such-watch")
    )
    assert code == grpc.StatusCode.NOT_FOUND and "no-such-watch" in details
