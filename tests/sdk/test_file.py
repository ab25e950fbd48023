"""Tests for redun.file: File, Dir, staging and the local file system, on real files."""

from __future__ import annotations

import os
import pickle
import re
import shlex
import subprocess
from pathlib import Path

import pytest

import redun.file
from redun.errors import FileError, UsageError
from redun.file import (
    Dir,
    File,
    FileSet,
    LocalFileSystem,
    RedunFileNotFoundError,
    StagingDir,
    StagingFile,
    get_default_hash_mode,
    get_filesystem,
    glob_file,
    set_default_hash_mode,
)
from redun.value import Value

SECOND = 1_000_000_000
# A fixed whole second, so tests can place mtimes inside one second.
T0 = 1_700_000_000 * SECOND


@pytest.fixture(autouse=True)
def _restore_hash_mode():
    mode = get_default_hash_mode()
    yield
    set_default_hash_mode(mode)


def write_at(path: Path, data: str, mtime_ns: int) -> None:
    """Write ``data`` and pin the file's mtime to ``mtime_ns``."""
    path.write_text(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def bash(command: str, cwd: Path) -> None:
    subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, check=True)


# -- File: construction and identity ---------------------------------------


def test_exported_members():
    for name in redun.file.__all__:
        assert hasattr(redun.file, name), name
    for name in ("File", "Dir", "StagingFile", "StagingDir", "glob_file", "set_default_hash_mode"):
        assert name in redun.file.__all__


def test_construction_does_no_io(tmp_path, monkeypatch):
    def no_io(*args, **kwargs):
        raise AssertionError("File() must not touch the file system")

    monkeypatch.setattr(os, "stat", no_io)
    monkeypatch.setattr(os.path, "exists", no_io)
    file = File(str(tmp_path / "a.txt"))
    directory = Dir(str(tmp_path))
    assert file._hash is None and directory._hash is None
    # Remote schemes resolve their file system lazily too.
    File("s3://bucket/key")


def test_value_protocol_and_attributes(tmp_path):
    file = File(tmp_path / "a.txt")  # os.PathLike is accepted
    assert isinstance(file, Value)
    assert file.path == str(tmp_path / "a.txt")
    assert isinstance(file.filesystem, LocalFileSystem)
    assert File.get_type_name() == "redun.File"
    assert Dir.get_type_name() == "redun.Dir"
    assert StagingFile.get_type_name() == "redun.StagingFile"
    assert file.classes.Dir is Dir and file.classes.StagingFile is StagingFile


def test_repr_equality_and_set_membership(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x")
    file = File(str(path))
    assert repr(file) == f"File(path={path}, hash=unhashed)"  # repr does no I/O
    assert file._hash is None
    recorded = file.hash
    assert repr(file) == f"File(path={path}, hash={recorded[:8]})"
    assert file == File(str(path))
    assert len({file, File(str(path))}) == 1
    assert file != File(str(path), hash="0" * 40)
    assert file != File(str(tmp_path / "b.txt"))
    assert file != Dir(str(path))


def test_path_helpers(tmp_path):
    file = File("/data/my dir/it's.txt")
    assert file.basename() == "it's.txt"
    assert file.dirname() == "/data/my dir"
    assert file.shell_quote() == "'/data/my dir/it'\"'\"'s.txt'"
    assert File("plain.txt").shell_quote() == "plain.txt"


# -- File: hashing -------------------------------------------------------


def test_hash_is_recorded_once_and_validity_compares_to_it(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one")
    file = File(str(path))
    recorded = file.hash
    path.write_text("three")
    assert file.hash == recorded == file.get_hash()
    assert not file.is_valid()
    file.update_hash()
    assert file.hash != recorded
    assert file.is_valid()


def test_is_valid_records_when_nothing_was_recorded(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one")
    file = File(str(path))
    assert file.is_valid()
    assert file._hash is not None


def test_given_hash_is_the_recorded_one(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one")
    assert File(str(path), hash="abc").hash == "abc"
    assert not File(str(path), hash="abc").is_valid()
    assert File(str(path), hash=File(str(path)).hash).is_valid()


def test_stat_hash_follows_size_and_mtime(tmp_path):
    path = tmp_path / "a.txt"
    write_at(path, "aaaa", T0)
    before = File(str(path)).hash
    write_at(path, "aaaaa", T0)  # size changes, mtime does not
    after_size = File(str(path)).hash
    write_at(path, "aaaaa", T0 + SECOND)  # mtime changes, size does not
    after_mtime = File(str(path)).hash
    assert len({before, after_size, after_mtime}) == 3
    assert len(before) == 40


def test_same_second_same_size_rewrite_is_detected(tmp_path):
    path = tmp_path / "a.txt"
    write_at(path, "aaaa", T0 + 100)
    file = File(str(path))
    file.hash
    # Same size, same second; only the nanoseconds differ.
    write_at(path, "bbbb", T0 + 200)
    assert os.stat(path).st_mtime == pytest.approx(T0 / SECOND)
    assert not file.is_valid()


def test_stat_blind_spot_is_covered_by_content_hashing(tmp_path):
    # Identical size and mtime_ns (a coarse-clock file system): only content hashing sees it.
    path = tmp_path / "a.txt"
    write_at(path, "aaaa", T0)
    by_stat = File(str(path))
    by_content = File(str(path), content_hash=True)
    by_stat.hash, by_content.hash
    write_at(path, "bbbb", T0)
    assert by_stat.is_valid()  # documented limitation of stat hashing
    assert not by_content.is_valid()


def test_content_hash_ignores_mtime_and_differs_from_stat_hash(tmp_path):
    path = tmp_path / "a.txt"
    write_at(path, "same", T0)
    content = File(str(path), content_hash=True).hash
    stat = File(str(path)).hash
    os.utime(path, ns=(T0 + 5 * SECOND, T0 + 5 * SECOND))
    assert File(str(path), content_hash=True).hash == content
    assert File(str(path)).hash != stat
    assert content != stat


def test_content_hash_streams_large_files(tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # spans several 1 MiB chunks
    path.write_bytes(data)
    first = File(str(path), content_hash=True).hash
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert File(str(path), content_hash=True).hash != first
    path.write_bytes(data)
    assert File(str(path), content_hash=True).hash == first


def test_default_hash_mode(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x")
    assert get_default_hash_mode() == "stat"
    assert File(str(path)).content_hash is False
    set_default_hash_mode("content")
    assert get_default_hash_mode() == "content"
    assert File(str(path)).content_hash is True
    assert File(str(path)).hash == File(str(path), content_hash=True).hash
    assert File(str(path), content_hash=False).content_hash is False
    with pytest.raises(UsageError, match="unknown file hash mode 'fast'"):
        set_default_hash_mode("fast")


def test_missing_file_has_a_stable_distinct_hash(tmp_path):
    path = tmp_path / "a.txt"
    missing = File(str(path)).hash
    assert missing == File(str(path)).hash
    assert missing != File(str(tmp_path / "b.txt")).hash
    assert File(str(path), content_hash=True).hash == File(str(path), content_hash=True).hash
    path.write_text("")
    assert File(str(path)).hash != missing


@pytest.mark.parametrize("content_hash", [False, True])
def test_deletion_makes_file_invalid(tmp_path, content_hash):
    path = tmp_path / "a.txt"
    path.write_text("x")
    file = File(str(path), content_hash=content_hash)
    assert file.is_valid()
    file.remove()
    assert not file.exists()
    assert not file.is_valid()
    file.remove()  # removing a missing file is fine


# -- File: I/O -----------------------------------------------------------


def test_write_creates_parents_and_records_hash(tmp_path):
    file = File(str(tmp_path / "deep" / "er" / "a.txt"))
    file.write("hello")
    assert file.read() == "hello"
    assert file.exists() and file.isfile() and not file.isdir()
    assert file.is_valid()
    assert file.hash == File(file.path).hash
    assert file.size() == 5
    stat = file.stat()
    assert stat.size == 5 and stat.mtime_ns == os.stat(file.path).st_mtime_ns
    assert stat.mtime == pytest.approx(os.stat(file.path).st_mtime)


def test_write_bytes_and_read_binary(tmp_path):
    file = File(str(tmp_path / "a.bin"))
    file.write(b"\x00\x01")
    assert file.read("rb") == b"\x00\x01"
    file.write(b"\x02", mode="ab")
    assert file.read(mode="rb") == b"\x00\x01\x02"
    assert file.is_valid()


def test_open_for_writing_records_hash_on_close(tmp_path):
    file = File(str(tmp_path / "a.txt"))
    before = file.hash
    with file.open("w", encoding="utf-8") as out:
        out.write("héllo\n")
        out.write("world\n")
    assert file.hash != before
    assert file.is_valid()
    assert file.readlines() == ["héllo\n", "world\n"]
    out.close()  # a second close is harmless


def test_open_for_reading_keeps_the_recorded_hash(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one")
    file = File(str(path))
    file.hash
    path.write_text("three")
    with file.open() as infile:
        assert infile.read() == "three"
    assert not file.is_valid()


def test_touch_creates_and_updates(tmp_path):
    file = File(str(tmp_path / "sub" / "a.txt"))
    file.touch()
    assert file.exists() and file.size() == 0
    first = file.hash
    file.touch((T0 / SECOND, T0 / SECOND))
    assert file.stat().mtime_ns == T0
    assert file.hash != first and file.is_valid()


def test_errors_name_the_path(tmp_path):
    missing = File(str(tmp_path / "nope.txt"))
    for action in (missing.read, missing.size, missing.stat, missing.open, missing.readlines):
        with pytest.raises(FileError, match="nope.txt") as info:
            action()
        assert isinstance(info.value, FileNotFoundError)
        assert isinstance(info.value, RedunFileNotFoundError)
        assert info.value.filename == missing.path
        assert info.value.__cause__ is None or isinstance(info.value.__cause__, OSError)
    # redun's shape ("[Errno 2] No such file or directory. PATH"), then what was done.
    with pytest.raises(FileError, match=r"\[Errno 2\] No such file or directory\. .*nope\.txt "):
        missing.read()
    with pytest.raises(FileError, match=r"nope\.txt \(cannot read it\)"):
        missing.read()
    # Writing where a directory stands.
    with pytest.raises(FileError, match=re.escape(f"{tmp_path} (cannot open it for writing)")):
        File(str(tmp_path)).write("x")


# -- File: copy and pickling -----------------------------------------------


def test_copy_to_path_and_file(tmp_path):
    src = File(str(tmp_path / "src.txt"))
    src.write("data")
    dest = src.copy_to(str(tmp_path / "out" / "dest.txt"))
    assert isinstance(dest, File)
    assert dest.read() == "data" and dest.is_valid()
    other = File(str(tmp_path / "other.txt"))
    assert src.copy_to(other) is other
    assert other.read() == "data"


def test_copy_to_skip_if_exists(tmp_path):
    src = File(str(tmp_path / "src.txt"))
    src.write("new")
    dest = File(str(tmp_path / "dest.txt"))
    dest.write("old")
    assert src.copy_to(dest, skip_if_exists=True).read() == "old"
    assert src.copy_to(dest).read() == "new"


def test_copy_missing_source_names_it(tmp_path):
    src = File(str(tmp_path / "gone.txt"))
    with pytest.raises(FileNotFoundError, match="gone.txt"):
        src.copy_to(str(tmp_path / "dest.txt"))


def test_pickle_keeps_path_and_recorded_hash(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one")
    file = File(str(path))
    state = file.__getstate__()
    assert state == {"path": str(path), "hash": file.hash}
    loaded = pickle.loads(pickle.dumps(file))
    assert loaded == file
    assert isinstance(loaded.filesystem, LocalFileSystem)
    path.write_text("three")
    assert pickle.loads(pickle.dumps(file)).hash == file.hash
    assert not pickle.loads(pickle.dumps(file)).is_valid()


def test_pickle_keeps_content_mode(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one")
    loaded = pickle.loads(pickle.dumps(File(str(path), content_hash=True)))
    assert loaded.content_hash is True
    os.utime(path, ns=(T0, T0))
    assert loaded.is_valid()


# -- File systems and URLs -------------------------------------------------


def test_get_filesystem_by_scheme(tmp_path):
    assert isinstance(get_filesystem(str(tmp_path)), LocalFileSystem)
    assert get_filesystem("file:///tmp/x") is get_filesystem("relative/path")
    assert get_filesystem("s3://bucket/key").name == "s3"  # loaded on first use
    assert get_filesystem("gs://bucket/key").name == "gs"
    with pytest.raises(FileError, match="no file system for scheme 'ftp'"):
        get_filesystem("ftp://host/x")


def test_file_url(tmp_path):
    file = File(f"file://{tmp_path}/a.txt")
    file.write("x")
    assert (tmp_path / "a.txt").read_text() == "x"
    assert list(file.iter_files()) == [str(tmp_path / "a.txt")]
    assert file.is_valid()


def test_glob_file_and_iter_files(tmp_path):
    for name in ("b.txt", "a.txt", "c.csv"):
        (tmp_path / name).write_text(name)
    assert glob_file(str(tmp_path / "*.txt")) == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    assert list(File(str(tmp_path / "a.txt")).iter_files()) == [str(tmp_path / "a.txt")]


# -- Dir and FileSet -------------------------------------------------------


def make_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "b.txt").write_text("b")
    (root / "a.txt").write_text("a")
    (root / "sub" / "c.txt").write_text("c")
    (root / "sub" / "deeper" / "d.csv").write_text("d")
    (root / ".hidden").write_text("h")


def test_dir_files_sorted_recursive(tmp_path):
    make_tree(tmp_path / "d")
    directory = Dir(str(tmp_path / "d") + "/")
    assert directory.path == str(tmp_path / "d")
    rel = [directory.rel_path(f.path) for f in directory.files()]
    assert rel == [".hidden", "a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.csv"]
    assert [f.path for f in directory] == [f.path for f in directory.files()]
    assert [directory.rel_path(f.path) for f in directory.glob("**/*.csv")] == ["sub/deeper/d.csv"]
    assert directory.file("sub/c.txt").read() == "c"
    assert directory.exists()
    paths = list(directory.iter_files())
    assert paths[-1] == directory.path and len(paths) == 6


def test_dir_hash_tracks_changes_additions_removals(tmp_path):
    root = tmp_path / "d"
    make_tree(root)
    directory = Dir(str(root))
    hashes = {directory.hash}
    assert directory.is_valid()

    def changed() -> None:
        assert not directory.is_valid()
        directory.update_hash()
        assert directory.is_valid()
        assert directory.hash not in hashes
        hashes.add(directory.hash)

    (root / "sub" / "c.txt").write_text("c changed")
    changed()
    (root / "new.txt").write_text("n")
    changed()
    (root / "a.txt").unlink()
    changed()
    (root / "b.txt").rename(root / "renamed.txt")
    changed()
    (root / "empty").mkdir()  # an empty subdirectory holds no files
    assert directory.is_valid()


def test_dir_hash_same_second_rewrite_and_content_mode(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    write_at(root / "a.txt", "aaaa", T0 + 1)
    by_stat, by_content = Dir(str(root)), Dir(str(root), content_hash=True)
    by_stat.hash, by_content.hash
    write_at(root / "a.txt", "bbbb", T0 + 2)
    assert not by_stat.is_valid()
    assert not by_content.is_valid()
    assert all(f.content_hash for f in by_content.files())


def test_missing_dir_hash_differs_from_empty(tmp_path):
    directory = Dir(str(tmp_path / "d"))
    missing = directory.hash
    assert not directory.exists()
    assert directory.files() == []
    directory.mkdir()
    assert directory.exists() and directory.hash != missing
    directory.rmdir()
    assert not directory.exists() and directory.hash == missing


def test_rmdir_non_empty_needs_recursive(tmp_path):
    root = tmp_path / "d"
    make_tree(root)
    directory = Dir(str(root))
    with pytest.raises(
        FileError, match=re.escape(f"{root} (cannot remove this directory;") + ".*recursive=True"
    ):
        directory.rmdir()
    directory.rmdir(recursive=True)
    assert not root.exists()


def test_dir_copy_to(tmp_path):
    make_tree(tmp_path / "src")
    src = Dir(str(tmp_path / "src"))
    dest = src.copy_to(str(tmp_path / "dest"))
    assert isinstance(dest, Dir) and dest.is_valid()
    assert [dest.rel_path(f.path) for f in dest.files()] == [
        src.rel_path(f.path) for f in src.files()
    ]
    assert dest.file("sub/deeper/d.csv").read() == "d"
    with pytest.raises(FileNotFoundError, match="nope"):
        Dir(str(tmp_path / "nope")).copy_to(str(tmp_path / "x"))


def test_dir_pickle_and_repr(tmp_path):
    make_tree(tmp_path / "d")
    directory = Dir(str(tmp_path / "d"))
    recorded = directory.hash
    assert repr(directory) == f"Dir(path={tmp_path / 'd'}, hash={recorded[:8]})"
    assert directory.__getstate__() == {"path": directory.path, "hash": directory.hash}
    loaded = pickle.loads(pickle.dumps(directory))
    assert loaded == directory and loaded.is_valid()
    (tmp_path / "d" / "a.txt").write_text("changed")
    assert not loaded.is_valid()


def test_fileset(tmp_path):
    make_tree(tmp_path)
    fileset = FileSet(str(tmp_path / "**" / "*.txt"))
    assert [os.path.basename(f.path) for f in fileset] == ["a.txt", "b.txt", "c.txt"]
    fileset.hash
    (tmp_path / "sub" / "e.txt").write_text("e")
    assert not fileset.is_valid()
    loaded = pickle.loads(pickle.dumps(fileset))
    assert loaded.pattern == fileset.pattern and loaded.hash == fileset.hash


# -- Staging ---------------------------------------------------------------


def test_staging_file_in_python(tmp_path):
    remote = File(str(tmp_path / "remote" / "in.txt"))
    remote.write("input")
    staging = remote.stage(str(tmp_path / "local") + "/")
    assert isinstance(staging, StagingFile)
    assert staging.local.path == str(tmp_path / "local" / "in.txt")
    assert staging.stage().read() == "input"
    staging.local.write("output")
    assert staging.unstage() is staging.remote
    assert remote.read() == "output"
    assert File("dir/x.txt").stage().local.path == "x.txt"
    assert StagingFile("a", "a").render_stage() == ""


def test_staging_commands_run_in_bash(tmp_path):
    remote = File(str(tmp_path / "remote dir" / "it's in.txt"))
    remote.write("payload")
    staging = StagingFile("work/local copy.txt", remote)
    # The rendered command is redun's plain `cp`: the parent must exist.
    (tmp_path / "work").mkdir()
    bash(staging.render_stage(), cwd=tmp_path)
    assert (tmp_path / "work" / "local copy.txt").read_text() == "payload"

    (tmp_path / "work" / "local copy.txt").write_text("result")
    bash(staging.render_unstage(), cwd=tmp_path)
    assert remote.read() == "result"
    assert not remote.is_valid()  # written behind this object's back


def test_staging_dir_commands_run_in_bash(tmp_path):
    make_tree(tmp_path / "remote data")
    remote = Dir(str(tmp_path / "remote data"))
    staging = remote.stage("local")
    assert isinstance(staging, StagingDir)
    assert staging.local.path == "local"
    command = staging.render_stage()
    assert command == f"cp -r {shlex.quote(remote.path)} local"
    bash(command, cwd=tmp_path)
    local = Dir(str(tmp_path / "local"))
    assert [local.rel_path(f.path) for f in local.files()] == [
        remote.rel_path(f.path) for f in remote.files()
    ]

    (tmp_path / "local" / "made.txt").write_text("m")
    # As in redun, `cp -r` copies into a destination that does not exist yet
    # (an existing one would get the copy nested inside it).
    out = Dir(str(tmp_path / "published")).stage("local")
    bash(out.render_unstage(), cwd=tmp_path)
    assert (tmp_path / "published" / "made.txt").read_text() == "m"


def test_staging_dir_in_python_and_pickle(tmp_path):
    make_tree(tmp_path / "remote")
    staging = StagingDir(str(tmp_path / "local"), str(tmp_path / "remote"))
    assert staging.stage().file("sub/c.txt").read() == "c"
    (tmp_path / "local" / "x.txt").write_text("x")
    assert staging.unstage().file("x.txt").read() == "x"
    loaded = pickle.loads(pickle.dumps(staging))
    assert loaded.local.path == staging.local.path
    assert loaded.remote.path == staging.remote.path
    assert loaded.get_hash() == staging.get_hash()
    assert staging.get_hash() != StagingDir(str(tmp_path / "other"), staging.remote).get_hash()


def test_dir_glob_with_special_characters_in_its_name(tmp_path):
    root = tmp_path / "run[1]"
    root.mkdir()
    (root / "x.txt").write_text("x")
    assert [f.basename() for f in Dir(str(root)).glob("*.txt")] == ["x.txt"]


# -- file families and the hash argument -----------------------------------


def test_hash_argument_selects_the_mode(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x")
    assert File(str(path), hash="content").content_hash
    assert File(str(path), hash="content")._hash is None
    assert not File(str(path), hash="stat", content_hash=None).content_hash
    assert Dir(str(tmp_path), hash="content").content_hash
    with pytest.raises(UsageError, match="contradicts"):
        File(str(path), hash="content", content_hash=False)


def test_content_family_hashes_by_content(tmp_path):
    from redun.file import ContentDir, ContentFile, ContentStagingFile

    write_at(tmp_path / "a.txt", "aaaa", T0)
    file = ContentFile(str(tmp_path / "a.txt"))
    assert file.content_hash and file.hash == File(str(tmp_path / "a.txt"), hash="content").hash
    write_at(tmp_path / "a.txt", "bbbb", T0)  # same size and mtime
    assert not file.is_valid()
    directory = ContentDir(str(tmp_path))
    assert all(type(f) is ContentFile for f in directory.files())
    assert type(file.stage("x.txt")) is ContentStagingFile
    assert pickle.loads(pickle.dumps(file)).content_hash


def test_immutable_family_never_touches_the_disk(tmp_path, monkeypatch):
    from redun.file import IDir, IFile

    file = IFile(str(tmp_path / "never-written.txt"))
    recorded = file.hash
    (tmp_path / "never-written.txt").write_text("now it exists")
    assert file.is_valid() and IFile(file.path).hash == recorded
    assert IDir(str(tmp_path)).is_valid()
    assert type(IDir(str(tmp_path)).file("x")) is IFile


def test_default_mode_is_resolved_when_the_hash_is_first_taken(tmp_path):
    # A File made at import time (e.g. a task's default argument) follows the
    # config loaded afterwards, then keeps the mode its hash was taken with.
    path = tmp_path / "a.txt"
    path.write_text("x")
    early, early_dir = File(str(path)), Dir(str(tmp_path))
    set_default_hash_mode("content")
    assert early.hash == File(str(path), content_hash=True).hash
    assert early_dir.hash == Dir(str(tmp_path), content_hash=True).hash
    set_default_hash_mode("stat")
    assert early.content_hash and early.is_valid()
    assert early_dir.content_hash and early_dir.is_valid()
