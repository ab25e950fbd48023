"""The reactor's I/O shell: fingerprints, stale bytecode, and watchfiles on real files."""

from __future__ import annotations

import importlib.util
import os
import queue
import time
from pathlib import Path

import pytest

from redund.observer import FileWatcher, fingerprint, forget_bytecode


@pytest.fixture
def watcher() -> tuple[FileWatcher, queue.Queue]:
    batches: queue.Queue = queue.Queue()
    files = FileWatcher(batches.put)
    yield files, batches
    files.close()


def changed(batches: queue.Queue, want: set[str], timeout: float = 10.0) -> dict:
    """The fingerprints delivered until every path of ``want`` was reported."""
    seen: dict = {}
    deadline = time.monotonic() + timeout
    while not want <= set(seen):
        left = deadline - time.monotonic()
        assert left > 0, f"not reported: {sorted(want - set(seen))}; got {sorted(seen)}"
        try:
            seen.update(batches.get(timeout=left))
        except queue.Empty:
            continue
    return seen


def test_fingerprints(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("X = 1\n")
    first = fingerprint(str(source))
    os.utime(source, (1, 1))
    assert fingerprint(str(source)) == first  # sources count by content, not by mtime
    source.write_text("X = 2\n")
    assert fingerprint(str(source)) != first
    data = tmp_path / "data.txt"
    data.write_text("a")
    before = fingerprint(str(data))
    os.utime(data, ns=(1, 1))
    assert fingerprint(str(data)) != before  # data counts as redun hashes a File
    assert fingerprint(str(tmp_path / "gone")) is None
    assert fingerprint(str(tmp_path)) == ("dir",)


def test_forget_bytecode(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("X = 1\n")
    cached = Path(importlib.util.cache_from_source(str(source)))
    cached.parent.mkdir()
    cached.write_bytes(b"stale")
    forget_bytecode(str(source))
    assert not cached.exists()
    forget_bytecode(str(source))  # nothing to forget: no error


def test_an_editors_rename_and_a_directorys_new_file_are_seen(
    tmp_path: Path, watcher: tuple[FileWatcher, queue.Queue]
) -> None:
    files, batches = watcher
    flow, other, inputs = tmp_path / "flow.py", tmp_path / "other.py", tmp_path / "inputs"
    flow.write_text("A = 1\n")
    other.write_text("B = 1\n")
    (inputs / "deep").mkdir(parents=True)
    files.set_paths([str(flow), str(inputs)])
    temp = tmp_path / ".flow.py.swp"
    temp.write_text("A = 2\n")
    os.replace(temp, flow)
    other.write_text("B = 2\n")  # in the same directory, not watched
    (inputs / "deep" / "new.csv").write_text("x\n")
    (inputs / "deep" / "new.csv~").write_text("x\n")  # an editor's backup: ignored
    seen = changed(batches, {str(flow), str(inputs / "deep" / "new.csv")})
    assert set(seen) <= {str(flow), str(inputs / "deep" / "new.csv")}
    assert seen[str(flow)] == fingerprint(str(flow))


def test_a_directory_that_appears_later_is_watched(
    tmp_path: Path, watcher: tuple[FileWatcher, queue.Queue]
) -> None:
    files, batches = watcher
    target = tmp_path / "later" / "out.txt"
    files.set_paths([str(target)])
    target.parent.mkdir()
    target.write_text("made\n")
    seen = changed(batches, {str(target)})
    assert seen[str(target)] == fingerprint(str(target))
    target.write_text("made again\n")
    seen = changed(batches, {str(target)})
    assert seen[str(target)] == fingerprint(str(target))


def test_a_directory_removed_and_made_again_is_still_watched(
    tmp_path: Path, watcher: tuple[FileWatcher, queue.Queue]
) -> None:
    import shutil

    files, batches = watcher
    target = tmp_path / "out" / "result.txt"
    target.parent.mkdir()
    target.write_text("one\n")
    files.set_paths([str(target)])
    shutil.rmtree(target.parent)
    assert changed(batches, {str(target)})[str(target)] is None
    target.parent.mkdir()
    target.write_text("two\n")
    seen = changed(batches, {str(target)})
    assert seen[str(target)] == fingerprint(str(target))
    target.write_text("three!\n")
    assert changed(batches, {str(target)})[str(target)] == fingerprint(str(target))
