"""Browsing a real daemon's record: tasks, values, files, search, and their error statuses."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest

from redun.client import NotFound
from redun.v1 import daemon_pb2, daemon_pb2_grpc, provenance_pb2

from .helpers import Daemon

TASKS = {"e2e.count_words", "e2e.fanout", "e2e.greet", "e2e.inc", "e2e.total"}


@dataclass
class Runs:
    fanout: str
    greet: str
    words: str


@pytest.fixture(scope="module")
def runs(daemon: Daemon) -> Runs:
    """The record browsed: a fan-out, a greeting, and a run over a File, in that order."""
    (daemon.project / "words.txt").write_text("one two three\n")
    with daemon.client() as client:
        fanout = client.submit(
            "flow.py", "fanout", args={"n": "3"}, working_dir=str(daemon.project)
        )
        assert fanout.result(timeout=30) == 6
        greet = client.submit(
            "flow.py", "greet", args={"name": "browse"}, working_dir=str(daemon.project)
        )
        assert greet.result(timeout=30) == "Hello, browse!"
        words = client.submit(
            "flow.py", "count_words", args={"path": "words.txt"}, working_dir=str(daemon.project)
        )
        assert words.result(timeout=30) == 3
    return Runs(fanout.id, greet.id, words.id)


@pytest.fixture(scope="module")
def stub(daemon: Daemon) -> Iterator[daemon_pb2_grpc.RedunStub]:
    channel = grpc.insecure_channel("unix:" + str(daemon.home / "redund.sock"))
    yield daemon_pb2_grpc.RedunStub(channel)
    channel.close()


def _status(call, request) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=10)
    return caught.value.code(), caught.value.details()


def test_list_tasks_with_versions_and_call_counts(daemon: Daemon, runs: Runs) -> None:
    with daemon.client() as client:
        tasks = {task.full_name: task for task in client.tasks()}
        assert set(tasks) == TASKS
        inc = tasks["e2e.inc"]
        assert (inc.namespace, inc.name) == ("e2e", "inc")
        [version] = inc.versions
        assert version.call_count == 3  # inc(0), inc(1), inc(2)
        assert len(version.hash) == 40 and version.source == ""
        assert 0 < version.first_seen_unix_ns <= version.last_used_unix_ns
        assert [t.full_name for t in client.tasks("IN")] == ["e2e.inc"]  # any case
        with_source = client.tasks("greet", include_source=True)
        assert "def greet" in with_source[0].versions[0].source
        assert client.tasks(query="100%_sure") == []  # LIKE wildcards are literal


def test_list_tasks_pages_and_filters(stub: daemon_pb2_grpc.RedunStub, runs: Runs) -> None:
    names, token, pages = [], "", 0
    while True:
        page = stub.ListTasks(
            daemon_pb2.ListTasksRequest(page_size=2, page_token=token), timeout=10
        )
        names += [task.full_name for task in page.tasks]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert names == sorted(TASKS) and pages == 3
    other = stub.ListTasks(daemon_pb2.ListTasksRequest(namespace="other"), timeout=10)
    assert list(other.tasks) == []
    mine = stub.ListTasks(daemon_pb2.ListTasksRequest(namespace="e2e"), timeout=10)
    assert {task.full_name for task in mine.tasks} == TASKS


def test_get_task_by_name_or_hash(
    daemon: Daemon, stub: daemon_pb2_grpc.RedunStub, runs: Runs
) -> None:
    with daemon.client() as client:
        task = client.task("e2e.greet")
    assert task.full_name == "e2e.greet" and "def greet" in task.versions[0].source
    task_hash = task.versions[0].hash
    for given in (task_hash, task_hash[:8].upper()):
        by_hash = stub.GetTask(daemon_pb2.GetTaskRequest(hash=given), timeout=10)
        assert by_hash.full_name == "e2e.greet" and by_hash.versions[0].hash == task_hash
    with daemon.client() as client, pytest.raises(NotFound, match="did you mean 'e2e.greet'"):
        client.task("greet")


def test_values_newest_first_and_by_type(daemon: Daemon, runs: Runs) -> None:
    with daemon.client() as client:
        values = client.values()
        assert len({v.hash for v in values}) == len(values)
        # Newest first: by the last call that made or took each value.
        order = [v.file_path or v.repr for v in values]
        assert order.index("words.txt") < order.index("'Hello, browse!'") < order.index("[1, 2, 3]")
        strings = client.values(type_name="str")
        assert {v.type_name for v in strings} == {"str"}
        assert "'Hello, browse!'" in {v.repr for v in strings}
        assert client.values(type_name="no.such.Type") == []


def test_get_value_repr_pickle_and_file(
    daemon: Daemon, stub: daemon_pb2_grpc.RedunStub, runs: Runs
) -> None:
    with daemon.client() as client:
        value_hash = client.get_result(runs.greet).result.hash
        info = client.value(value_hash[:10])
        assert info.preview.hash == value_hash and info.preview.type_name == "str"
        assert info.repr == "'Hello, browse!'" and not info.repr_truncated
        assert not info.HasField("file")
        short = client.value(value_hash, max_repr_chars=5)
        assert short.repr == "'Hell" and short.repr_truncated
        fanned = client.value(client.job(client.execution(runs.fanout).root_job_id).result.hash)
        assert fanned.repr == "6"
    full = stub.GetValue(
        daemon_pb2.GetValueRequest(hash=value_hash, include_pickle=True), timeout=10
    )
    assert pickle.loads(full.pickled) == "Hello, browse!"
    with daemon.client() as client:
        file_value = client.files("words.txt")[-1].value_hash  # the first version
        info = client.value(file_value)
    assert info.preview.type_name == "redun.File" and info.preview.file_path == "words.txt"
    assert (info.file.path, info.file.size) == ("words.txt", len("one two three\n"))
    assert info.repr.startswith("File(path=words.txt")


def test_files_by_prefix_newest_version_first(daemon: Daemon, runs: Runs) -> None:
    with daemon.client() as client:
        [first] = client.files("wor")
        assert (first.path, first.size, first.is_dir, first.current) == (
            "words.txt",
            14,
            False,
            True,
        )
        assert client.files("zzz") == []
        assert client.files("WOR") == []  # prefixes are case-sensitive, as paths are
        (daemon.project / "words.txt").write_text("one two three four five\n")
        assert not client.files("words.txt")[0].current  # changed since it was recorded
        run = client.submit(
            "flow.py", "count_words", args={"path": "words.txt"}, working_dir=str(daemon.project)
        )
        assert run.result(timeout=30) == 5
        newest, oldest = client.files("words.txt")
    assert oldest.value_hash == first.value_hash and not oldest.current
    assert newest.current and newest.size == len("one two three four five\n")


def test_search_across_kinds(daemon: Daemon, runs: Runs) -> None:
    kind = provenance_pb2.SearchKind
    with daemon.client() as client:
        hits = client.search("greet")
        assert (hits[0].kind, hits[0].id) == (kind.Value("SEARCH_KIND_TASK"), "e2e.greet")
        assert (kind.Value("SEARCH_KIND_EXECUTION"), runs.greet) in {(h.kind, h.id) for h in hits}
        by_id = client.search(runs.fanout[:8])
        assert (by_id[0].kind, by_id[0].id) == (kind.Value("SEARCH_KIND_EXECUTION"), runs.fanout)
        root_job = client.execution(runs.fanout).root_job_id
        assert (kind.Value("SEARCH_KIND_JOB"), root_job) in {
            (h.kind, h.id) for h in client.search(root_job[:12])
        }
        words = client.search("words.txt")
        assert words[0].kind == kind.Value("SEARCH_KIND_FILE") and words[0].title == "words.txt"
        hello = client.search("hello BROWSE")  # every word, any case
        assert [(h.kind, h.title) for h in hello] == [
            (kind.Value("SEARCH_KIND_VALUE"), "'Hello, browse!'")
        ]
        assert hello[0].time_unix_ns > 0
        assert client.search("") == [] and client.search("no-such-thing-anywhere") == []


def test_search_kinds_and_paging(stub: daemon_pb2_grpc.RedunStub, runs: Runs) -> None:
    tasks_only = daemon_pb2.SearchRequest(query="e2e", kinds=[provenance_pb2.SEARCH_KIND_TASK])
    hits = stub.Search(tasks_only, timeout=10).hits
    assert {hit.id for hit in hits} == TASKS
    assert {hit.kind for hit in hits} == {provenance_pb2.SEARCH_KIND_TASK}
    first = stub.Search(daemon_pb2.SearchRequest(query="e2e", page_size=2), timeout=10)
    assert len(first.hits) == 2 and first.next_page_token
    second = stub.Search(
        daemon_pb2.SearchRequest(query="e2e", page_size=2, page_token=first.next_page_token),
        timeout=10,
    )
    assert {h.id for h in first.hits}.isdisjoint({h.id for h in second.hits})


def test_error_statuses(stub: daemon_pb2_grpc.RedunStub, runs: Runs) -> None:
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    not_found = grpc.StatusCode.NOT_FOUND
    cases = [
        (stub.ListTasks, daemon_pb2.ListTasksRequest(page_token="abc"), invalid, "page_token"),
        (stub.ListTasks, daemon_pb2.ListTasksRequest(namespace="a b"), invalid, "not a namespace"),
        (stub.ListTasks, daemon_pb2.ListTasksRequest(query="x" * 300), invalid, "at most 256"),
        (stub.GetTask, daemon_pb2.GetTaskRequest(), invalid, "full_name or a hash"),
        (stub.GetTask, daemon_pb2.GetTaskRequest(hash="not-hex"), invalid, "not a task hash"),
        (stub.GetTask, daemon_pb2.GetTaskRequest(hash="0" * 40), not_found, "no task"),
        (stub.GetTask, daemon_pb2.GetTaskRequest(full_name="e2e.nope"), not_found, "no task"),
        (stub.ListValues, daemon_pb2.ListValuesRequest(page_token="-1"), invalid, "page_token"),
        (stub.ListValues, daemon_pb2.ListValuesRequest(type_name="a b"), invalid, "spaces"),
        (stub.GetValue, daemon_pb2.GetValueRequest(), invalid, "hash is empty"),
        (stub.GetValue, daemon_pb2.GetValueRequest(hash="abc"), invalid, "too short"),
        (stub.GetValue, daemon_pb2.GetValueRequest(hash="0" * 40), not_found, "no value"),
        (stub.ListFiles, daemon_pb2.ListFilesRequest(page_token="x"), invalid, "page_token"),
        (stub.ListFiles, daemon_pb2.ListFilesRequest(path_prefix="a\x00"), invalid, "NUL"),
        (stub.Search, daemon_pb2.SearchRequest(query="x", kinds=[99]), invalid, "search kind"),
        (stub.Search, daemon_pb2.SearchRequest(query="x" * 300), invalid, "at most 256"),
        (stub.Search, daemon_pb2.SearchRequest(query="x", page_token="?"), invalid, "page_token"),
    ]
    for call, request, code, message in cases:
        got, details = _status(call, request)
        assert got == code, (request, details)
        assert message in details, (request, details)


def test_the_tui_needs_no_database_with_a_daemon(daemon: Daemon, runs: Runs) -> None:
    from redun_tui.data.grpc_source import GrpcSource

    source = GrpcSource(str(daemon.home))
    try:
        source.database = lambda: pytest.fail("the TUI fell back to the database")  # type: ignore[method-assign]
        assert {task.full_name for task in source.tasks()} == TASKS
        assert source.task("e2e.inc").versions[0].source
        assert source.values() and source.value(source.values()[0].hash).hash
        assert [f.path for f in source.files("words")] and source.search("greet")
    finally:
        source.close()
