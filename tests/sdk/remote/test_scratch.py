"""The scratch store: its layout, and whole-or-nothing writes through the file layer."""

from __future__ import annotations

import os

import pytest

from redun.errors import ExecutorError
from redun.executors.remote.scratch import Scratch


def test_layout(tmp_path) -> None:
    scratch = Scratch(f"file://{tmp_path}/s/")
    root = f"{tmp_path}/s"
    assert scratch.local and scratch.root == root
    assert scratch.code_url("abc") == f"{root}/code/abc.tar.gz"
    assert scratch.calls_url("c" * 40) == f"{root}/calls/{'c' * 40}/call"
    assert scratch.calls_url("a-0123") == f"{root}/arrays/a-0123/calls"
    assert scratch.result_url("c1") == f"{root}/calls/c1/result"
    assert scratch.error_url("c1") == f"{root}/calls/c1/error"
    assert scratch.status_url("c1") == f"{root}/calls/c1/status"
    assert Scratch("s3://bucket/prefix/").root == "s3://bucket/prefix"


def test_reads_and_writes_locally_and_through_another_scheme(tmp_path, counting_root) -> None:
    for scratch in (Scratch(str(tmp_path / "local")), Scratch(counting_root)):
        url = scratch.result_url("c1")
        assert scratch.read(url) is None and not scratch.exists(url)
        scratch.write(url, b"one")
        scratch.write(url, b"two")
        assert scratch.read(url) == b"two" and scratch.exists(url)
        scratch.remove(url)
        scratch.remove(url)  # a missing file is fine
        assert scratch.read(url) is None


def test_local_writes_leave_no_temporary_files(tmp_path) -> None:
    scratch = Scratch(str(tmp_path))
    scratch.write(scratch.status_url("c1"), b"{}")
    assert os.listdir(tmp_path / "calls" / "c1") == ["status"]


def test_a_scratch_is_required() -> None:
    with pytest.raises(ExecutorError, match="set scratch = PATH_OR_URL"):
        Scratch("")
