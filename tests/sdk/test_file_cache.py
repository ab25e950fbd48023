"""Files in workflows: tasks re-run when their input files change, and cached
file results are re-made when the files were changed or deleted since.

Every test works on real files in a temporary directory; mtimes are pinned
with ``os.utime`` where a test needs two writes inside one second.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from redun import Dir, File, Scheduler, task
from redun.config import Config, load_config
from redun.errors import FileError, UsageError
from redun.events import JobStateChanged
from redun.file import RedunFileNotFoundError, get_default_hash_mode, set_default_hash_mode

redun_namespace = "test_file_cache"

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


@pytest.fixture(autouse=True)
def _restore_hash_mode():
    mode = get_default_hash_mode()
    yield
    set_default_hash_mode(mode)


@task
def count_lines(file: File) -> int:
    return len(file.read().splitlines())


@task
def copy_upper(file: File, dest: str) -> File:
    out = File(dest)
    out.write(file.read().upper())
    return out


@task
def list_dir(directory: Dir) -> list:
    return [directory.rel_path(f.path) for f in directory.files()]


@task
def pipeline(file: File, dest: str) -> int:
    return count_lines(copy_upper(file, dest))


@task
def lines_per_file(directory: Dir) -> list:
    # The Dir argument makes this call re-run when any file below it changes;
    # its children are then cache hits for every file that did not.
    return [count_lines(file) for file in directory.glob("*.txt")]


@task
def read_missing(path: str) -> str:
    return File(path).read()


class Runs:
    """Records which tasks ran (not cached) in each execution of a scheduler."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.ran: list[str] = []
        self.cached: list[str] = []
        scheduler.events.subscribe(self)

    def __call__(self, event: object) -> None:
        if isinstance(event, JobStateChanged):
            if event.state == "done":
                self.ran.append(event.task.rsplit(".", 1)[-1])
            elif event.state == "cached":
                self.cached.append(event.task.rsplit(".", 1)[-1])

    def take(self) -> tuple[list[str], list[str]]:
        ran, cached = sorted(self.ran), sorted(self.cached)
        self.ran, self.cached = [], []
        return ran, cached


def write_at(path: Path, data: str, mtime_ns: int) -> None:
    path.write_text(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_task_reruns_when_its_input_file_changes(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a\nb\n")
    scheduler = Scheduler()
    runs = Runs(scheduler)
    assert scheduler.run(count_lines(File(str(path)))) == 2
    assert runs.take() == (["count_lines"], [])
    # Unchanged: a cache hit.
    assert scheduler.run(count_lines(File(str(path)))) == 2
    assert runs.take() == ([], ["count_lines"])
    # Edited: runs again.
    path.write_text("a\nb\nc\n")
    assert scheduler.run(count_lines(File(str(path)))) == 3
    assert runs.take() == (["count_lines"], [])


def test_same_second_rewrite_of_an_input_reruns_the_task(tmp_path):
    path = tmp_path / "in.txt"
    write_at(path, "a\n", T0 + 100)
    scheduler = Scheduler()
    runs = Runs(scheduler)
    assert scheduler.run(count_lines(File(str(path)))) == 1
    # Same size, same second: only the nanoseconds of the mtime differ.
    write_at(path, "\n\n", T0 + 200)
    assert scheduler.run(count_lines(File(str(path)))) == 2
    assert runs.take() == (["count_lines", "count_lines"], [])


def test_content_mode_sees_what_a_coarse_clock_hides(tmp_path):
    # A file system with a coarse clock can leave size and mtime identical
    # after a rewrite: stat hashing is blind to it, content hashing is not.
    path = tmp_path / "in.txt"
    scheduler = Scheduler()
    write_at(path, "a\n", T0)
    assert scheduler.run(count_lines(File(str(path)))) == 1
    write_at(path, "\n\n", T0)
    assert scheduler.run(count_lines(File(str(path)))) == 1  # stat: stale hit
    assert scheduler.run(count_lines(File(str(path), hash="content"))) == 2
    write_at(path, "a\n", T0)
    assert scheduler.run(count_lines(File(str(path), content_hash=True))) == 1


def test_config_selects_content_hashing_for_the_workflow(tmp_path):
    config_dir = tmp_path / ".redun"
    config_dir.mkdir()
    (config_dir / "redun.ini").write_text(
        "[backend]\ndb_uri = sqlite:///:memory:\n\n[file]\nhash = content\n"
    )
    load_config(str(config_dir))
    assert get_default_hash_mode() == "content"
    assert File(str(tmp_path / "x")).content_hash
    assert os.environ["REDUN_FILE_HASH"] == "content"  # inherited by worker processes
    (config_dir / "redun.ini").write_text("[file]\nhash = sometimes\n")
    with pytest.raises(UsageError, match=r"\[file\] hash = 'sometimes'.*stat, content"):
        load_config(str(config_dir))


def test_config_without_file_section_keeps_the_mode(tmp_path):
    set_default_hash_mode("content")
    load_config(str(tmp_path / ".redun"))
    assert get_default_hash_mode() == "content"


def test_cached_file_result_is_remade_when_deleted_or_changed(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a\nb\n")
    dest = str(tmp_path / "out" / "upper.txt")
    scheduler = Scheduler()
    runs = Runs(scheduler)
    assert scheduler.run(pipeline(File(str(src)), dest)) == 2
    assert runs.take()[0] == ["copy_upper", "count_lines", "pipeline"]

    # Untouched: everything is cached.
    assert scheduler.run(pipeline(File(str(src)), dest)) == 2
    assert runs.take() == ([], ["pipeline"])

    # The output was deleted: it is made again.
    os.remove(dest)
    assert scheduler.run(pipeline(File(str(src)), dest)) == 2
    ran, _ = runs.take()
    assert "copy_upper" in ran
    assert Path(dest).read_text() == "A\nB\n"

    # The output was changed by hand (same second, same size): made again.
    st = os.stat(dest)
    write_at(Path(dest), "X\nY\n", st.st_mtime_ns + 1)
    assert scheduler.run(pipeline(File(str(src)), dest)) == 2
    assert "copy_upper" in runs.take()[0]
    assert Path(dest).read_text() == "A\nB\n"


def test_only_the_changed_file_is_processed_again(tmp_path):
    files = []
    for name in ("a", "b", "c"):
        path = tmp_path / f"{name}.txt"
        path.write_text(name + "\n")
        files.append(path)

    scheduler = Scheduler()
    runs = Runs(scheduler)
    scheduler.run(lines_per_file(Dir(str(tmp_path))))
    assert runs.take()[0].count("count_lines") == 3
    files[1].write_text("b\nb\n")
    assert scheduler.run(lines_per_file(Dir(str(tmp_path)))) == [1, 2, 1]
    ran, cached = runs.take()
    assert ran.count("count_lines") == 1
    assert cached.count("count_lines") == 2


def test_dir_argument_reruns_on_added_and_removed_files(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("a")
    scheduler = Scheduler()
    assert scheduler.run(list_dir(Dir(str(data)))) == ["a.txt"]
    (data / "sub" / "b.txt").write_text("b")
    assert scheduler.run(list_dir(Dir(str(data)))) == ["a.txt", "sub/b.txt"]
    (data / "a.txt").unlink()
    assert scheduler.run(list_dir(Dir(str(data)))) == ["sub/b.txt"]


def test_missing_input_error_names_the_path_and_the_task(tmp_path):
    missing = str(tmp_path / "nope.txt")
    scheduler = Scheduler()
    with pytest.raises(RedunFileNotFoundError) as info:
        scheduler.run(read_missing(missing))
    message = str(info.value)
    assert missing in message
    assert "test_file_cache.read_missing" in message
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, FileError)
    # A missing File argument hashes fine; the task that reads it fails.
    with pytest.raises(FileError, match=r"nope\.txt.*in task test_file_cache\.count_lines"):
        scheduler.run(count_lines(File(missing)))


def test_results_survive_a_new_process_through_the_database(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a\n")
    dest = str(tmp_path / "out.txt")
    config = Config({"backend": {"db_uri": f"sqlite:///{tmp_path}/redun.db"}})

    def run() -> tuple[list[str], list[str]]:
        scheduler = Scheduler(config=config)
        runs = Runs(scheduler)
        try:
            assert scheduler.run(pipeline(File(str(src)), dest)) == len(
                src.read_text().splitlines()
            )
        finally:
            scheduler.stop()
            scheduler.backend.close()
        return runs.take()

    assert run()[0] == ["copy_upper", "count_lines", "pipeline"]
    assert run() == ([], ["pipeline"])
    os.remove(dest)
    assert "copy_upper" in run()[0]
    src.write_text("a\nb\n")
    assert run()[0] == ["copy_upper", "count_lines", "pipeline"]
