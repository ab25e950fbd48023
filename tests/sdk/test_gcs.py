"""gs:// files, directories, staging and scripts: the real google-cloud-storage client
against gcp-storage-emulator on loopback (and a refusing endpoint for 403/429)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

storage = pytest.importorskip("google.cloud.storage")
pytest.importorskip("gcp_storage_emulator")

from redun import Dir, File, Scheduler, script, task  # noqa: E402
from redun.errors import FileError  # noqa: E402
from redun.events import JobStateChanged  # noqa: E402
from redun.file import (  # noqa: E402
    RedunFileNotFoundError,
    RedunPermissionError,
    RedunThrottledError,
    get_filesystem,
    glob_file,
)
from redun.file.gcs import GCSFileSystem, split_url  # noqa: E402
from tests.cloud import RefusingEndpoint, apply_env, aws_env, gcs_env  # noqa: E402

redun_namespace = "test_gcs"

BUCKET = "redun-test"


def url(key: str) -> str:
    return f"gs://{BUCKET}/{key}"


@pytest.fixture
def gcs_fs():
    fs = get_filesystem(proto="gs")
    assert isinstance(fs, GCSFileSystem)
    fs.reset_client()
    yield fs
    fs.reset_client()


@pytest.fixture
def gcs(gcs_emulator, gcs_fs, monkeypatch):
    """The emulator, wiped, with one empty bucket; yields a plain storage client."""
    gcs_emulator.wipe()
    apply_env(monkeypatch, gcs_env(gcs_emulator.url))
    client = storage.Client()
    client.create_bucket(BUCKET)
    yield client


def blob(client, key: str):
    return client.bucket(BUCKET).get_blob(key)


# -- import hygiene -------------------------------------------------------------------


def test_import_redun_does_not_import_google():
    code = (
        "import sys, redun, redun.file, redun.file.gcs, redun.scripting\n"
        "from redun import File, Dir, script\n"
        "File('gs://bucket/key'); Dir('gs://bucket/dir')\n"
        "assert not [m for m in sys.modules if m.startswith('google')], 'google loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- files ------------------------------------------------------------------------------


def test_split_url():
    assert split_url("gs://b/a/b.txt") == ("b", "a/b.txt")
    assert split_url("gs://b") == ("b", "")
    with pytest.raises(FileError, match="invalid GCS URL"):
        split_url("gs:///key")


def test_write_read_exists_size_remove(gcs):
    file = File(url("dir/a.txt"))
    assert not file.exists()
    file.write("hello\nworld\n")
    assert file.exists() and file.isfile() and not file.isdir()
    assert File(url("dir")).isdir()
    assert file.read() == "hello\nworld\n"
    assert file.readlines() == ["hello\n", "world\n"]
    assert file.size() == 12
    assert file.basename() == "a.txt" and file.dirname() == url("dir")
    with file.open("rb") as handle:
        assert handle.read(5) == b"hello"
    file.write(b"\x00\x01", mode="wb")
    assert file.read("rb") == b"\x00\x01"
    with File(url("log.txt")).open("a") as out:
        out.write("one\n")
    with File(url("log.txt")).open("a") as out:
        out.write("two\n")
    assert File(url("log.txt")).read() == "one\ntwo\n"
    with pytest.raises(FileError, match="object exists"):
        File(url("log.txt")).open("x")
    file.remove()
    assert not file.exists()
    file.remove()  # a missing object is fine


def test_hash_comes_from_md5_without_downloading(gcs, gcs_emulator):
    file = File(url("a.txt"))
    missing_hash = file.hash
    assert File(url("a.txt")).hash == missing_hash  # missing: stable
    file.write("one")
    assert file.hash != missing_hash and file.is_valid()
    with gcs_emulator.recording() as requests:
        fresh = File(url("a.txt"))
        assert fresh.hash == file.hash
        assert Dir(url("")).hash  # a listing too
    assert requests, "the emulator's request log is empty: nothing to check against"
    assert not [line for line in requests if "alt=media" in line or "/download/" in line]
    generation = blob(gcs, "a.txt").generation
    gcs.bucket(BUCKET).blob("a.txt").upload_from_string(b"two")
    assert blob(gcs, "a.txt").generation != generation
    assert not file.is_valid()
    # Content mode changes nothing: the MD5 already is a content digest.
    assert File(url("a.txt"), content_hash=True).hash == File(url("a.txt")).hash
    # The same bytes written again (a new generation) keep the hash.
    current = File(url("a.txt")).hash
    gcs.bucket(BUCKET).blob("a.txt").upload_from_string(b"two")
    assert File(url("a.txt")).hash == current


def test_composite_objects_hash_by_crc32c_and_generation(gcs):
    from redun.file.gcs import object_token

    gcs.bucket(BUCKET).blob("part1").upload_from_string(b"ab")
    gcs.bucket(BUCKET).blob("part2").upload_from_string(b"cd")
    whole = gcs.bucket(BUCKET).blob("whole")
    whole.compose([gcs.bucket(BUCKET).blob("part1"), gcs.bucket(BUCKET).blob("part2")])
    composed = blob(gcs, "whole")
    assert File(url("whole")).read() == "abcd"
    if composed.md5_hash:  # the emulator gives composites an MD5; GCS does not
        composed.md5_hash = None  # what the real service's metadata looks like
    token = object_token(composed)
    assert token == f"crc32c:{composed.crc32c}:{composed.generation}"


def test_touch_creates_and_keeps_content(gcs):
    file = File(url("t.txt"))
    file.touch()
    assert file.exists() and file.size() == 0
    file.write("data")
    before = File(url("t.txt")).stat()
    file.touch()
    assert file.read() == "data"
    assert File(url("t.txt")).stat().mtime_ns >= before.mtime_ns
    with pytest.raises(FileError, match="GCS sets them itself"):
        file.touch((1, 2))


def test_copy_between_local_and_gcs(gcs, tmp_path):
    local = tmp_path / "in.txt"
    local.write_text("payload")
    uploaded = File(str(local)).copy_to(url("up/in.txt"))
    assert uploaded.path == url("up/in.txt") and uploaded.read() == "payload"
    assert uploaded.is_valid()
    copied = uploaded.copy_to(File(url("copy/in.txt")))  # server side
    assert copied.read() == "payload"
    assert blob(gcs, "copy/in.txt").md5_hash == blob(gcs, "up/in.txt").md5_hash
    downloaded = copied.copy_to(str(tmp_path / "deep" / "down.txt"))
    assert (tmp_path / "deep" / "down.txt").read_text() == "payload"
    assert downloaded.is_valid()
    assert uploaded.copy_to(url("copy/in.txt"), skip_if_exists=True).path == url("copy/in.txt")
    with pytest.raises(RedunFileNotFoundError, match=r"gs://redun-test/nope"):
        File(url("nope")).copy_to(str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()
    assert not [p for p in (tmp_path).iterdir() if p.name.startswith(".redun-download")]
    with pytest.raises(RedunFileNotFoundError, match=r"missing\.txt"):
        File(str(tmp_path / "missing.txt")).copy_to(url("x"))


def test_dirs_glob_and_listing(gcs):
    for key in ("d/a.csv", "d/b.txt", "d/sub/c.csv", "d/sub/deeper/e.csv", "other/x.csv"):
        File(url(key)).write(key)
    directory = Dir(url("d"))
    assert directory.exists()
    assert [directory.rel_path(f.path) for f in directory.files()] == [
        "a.csv",
        "b.txt",
        "sub/c.csv",
        "sub/deeper/e.csv",
    ]
    assert [f.path for f in directory.glob("*.csv")] == [url("d/a.csv")]
    assert [f.path for f in directory.glob("**/*.csv")] == [
        url("d/a.csv"),
        url("d/sub/c.csv"),
        url("d/sub/deeper/e.csv"),
    ]
    assert glob_file(url("d/s?b/[bc].csv")) == [url("d/sub/c.csv")]
    assert glob_file(url("d/a.csv")) == [url("d/a.csv")]
    assert glob_file(url("d/zzz")) == []
    fs = get_filesystem(proto="gs")
    objects, prefixes = fs.list_objects(url("d/"), delimiter=True)
    assert [o.url for o in objects] == [url("d/a.csv"), url("d/b.txt")]
    assert prefixes == [url("d/sub/")]


def test_dir_hash_tracks_changes_additions_and_removals(gcs):
    File(url("d/a.txt")).write("a")
    first = Dir(url("d")).hash
    assert Dir(url("d")).hash == first
    File(url("d/a.txt")).write("A")
    changed = Dir(url("d")).hash
    File(url("d/new/b.txt")).write("b")
    added = Dir(url("d")).hash
    File(url("d/new/b.txt")).remove()
    assert len({first, changed, added}) == 3
    assert Dir(url("d")).hash == changed
    assert Dir(url("missing")).hash != Dir(url("d")).hash


def test_mkdir_and_rmdir(gcs):
    directory = Dir(url("made"))
    directory.mkdir()
    assert directory.exists() and directory.files() == []
    directory.file("x.txt").write("x")
    directory.file("y/z.txt").write("z")
    with pytest.raises(FileError, match="not empty"):
        directory.rmdir()
    directory.rmdir(recursive=True)  # a batch of deletes
    assert not directory.exists()
    assert [b.name for b in gcs.list_blobs(BUCKET)] == []


def test_dir_copy_both_ways(gcs, tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.txt").write_text("a")
    (tmp_path / "src" / "sub" / "b.txt").write_text("b")
    remote = Dir(str(tmp_path / "src")).copy_to(url("tree"))
    assert [remote.rel_path(f.path) for f in remote.files()] == ["a.txt", "sub/b.txt"]
    back = remote.copy_to(str(tmp_path / "back"))
    assert (tmp_path / "back" / "sub" / "b.txt").read_text() == "b"
    assert back.is_valid()


def test_staging_files_and_dirs(gcs, tmp_path):
    File(url("in/data.txt")).write("data")
    staged = File(url("in/data.txt")).stage(str(tmp_path / "local.txt"))
    assert staged.stage().read() == "data"
    (tmp_path / "local.txt").write_text("changed")
    assert staged.unstage().read() == "changed"
    assert staged.render_stage().startswith("gsutil cp gs://redun-test/in/data.txt ")
    dir_stage = Dir(url("in")).stage(str(tmp_path / "indir"))
    assert [f.basename() for f in dir_stage.stage().files()] == ["data.txt"]
    assert dir_stage.render_stage().startswith("gsutil cp -r gs://redun-test/in ")
    s3_to_gs = File("s3://b/k.txt").shell_copy_to(url("k.txt"))
    assert (
        s3_to_gs == "(aws s3 cp --no-progress s3://b/k.txt -) | (gsutil cp - gs://redun-test/k.txt)"
    )


def test_copy_between_gcs_and_s3(gcs, tmp_path, monkeypatch):
    pytest.importorskip("moto")
    import boto3
    from moto import mock_aws

    apply_env(monkeypatch, aws_env(tmp_path))
    s3 = get_filesystem(proto="s3")
    s3.reset_client()  # type: ignore[attr-defined]
    try:
        with mock_aws():
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="other")
            File(url("cross/a.txt")).write("across")
            on_s3 = File(url("cross/a.txt")).copy_to("s3://other/a.txt")
            assert on_s3.read() == "across"
            back = on_s3.copy_to(url("cross/back.txt"))
            assert back.read() == "across"
            tree = Dir(url("cross")).copy_to("s3://other/tree")
            assert [tree.rel_path(f.path) for f in tree.files()] == ["a.txt", "back.txt"]
    finally:
        s3.reset_client()  # type: ignore[attr-defined]


# -- errors --------------------------------------------------------------------------------


def test_missing_bucket_and_object_name_the_url(gcs):
    with pytest.raises(RedunFileNotFoundError, match=r"'gs://no-such-bucket/k'.*bucket"):
        File("gs://no-such-bucket/k").read()
    with pytest.raises(RedunFileNotFoundError, match=r"'gs://no-such-bucket/k'.*bucket"):
        File("gs://no-such-bucket/k").write("x")
    with pytest.raises(RedunFileNotFoundError, match=r"gs://redun-test/nope.*no such object"):
        File(url("nope")).read()
    with pytest.raises(FileNotFoundError):  # still the builtin type
        File(url("nope")).size()
    assert not File("gs://no-such-bucket/k").exists()
    assert Dir("gs://no-such-bucket/d").files() == []


def test_refused_access_names_the_url(gcs_fs, monkeypatch):
    apply_env(monkeypatch, gcs_env(""))
    message = "anonymous caller does not have storage.objects.get access"
    with RefusingEndpoint(403, message) as endpoint:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint.url)
        gcs_fs.reset_client()
        with pytest.raises(RedunPermissionError, match=r"cannot read 'gs://b/k'.*denied \(403\)"):
            File("gs://b/k").read()
        with pytest.raises(RedunPermissionError, match=r"gs://b/k"):
            File("gs://b/k").write("x")
        with pytest.raises(RedunPermissionError, match=r"gs://b/k"):
            File("gs://b/k").hash  # noqa: B018
        with pytest.raises(PermissionError, match=r"gs://b/d"):
            Dir("gs://b/d").files()
        assert endpoint.hits >= 4


def test_throttling_is_its_own_error(gcs_fs, monkeypatch):
    apply_env(monkeypatch, gcs_env(""))
    # A quick file system (as the daemon's poller uses) does not retry for two minutes.
    with RefusingEndpoint(429, "rate limit exceeded") as endpoint:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint.url)
        quick = GCSFileSystem(quick=True)
        with pytest.raises(RedunThrottledError, match=r"gs://b/k.*slow down.*429"):
            quick.head("gs://b/k")
        with pytest.raises(RedunThrottledError, match=r"gs://b/d/"):
            quick.list_objects("gs://b/d/")


def test_no_credentials_says_what_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "CLOUDSDK_"))}
    env.pop("STORAGE_EMULATOR_HOST", None)
    env.update(HOME=str(tmp_path), CLOUDSDK_CONFIG=str(tmp_path / "gcloud"), NO_GCE_CHECK="true")
    code = (
        "from redun import File\n"
        "from redun.file import RedunPermissionError\n"
        "try:\n"
        "    File('gs://bucket/key').read()\n"
        "except RedunPermissionError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "cannot read 'gs://bucket/key': no Google Cloud credentials found" in out.stdout
    assert "GOOGLE_APPLICATION_CREDENTIALS" in out.stdout


# -- workflows ------------------------------------------------------------------------------


@task
def word_count(file: File) -> int:
    return len(file.read().split())


@task
def summarize(file: File, dest: str) -> File:
    out = File(dest)
    out.write(f"{word_count.func(file)} words\n")
    return out


@task
def upper_on_gcs(src: File, dest: str) -> File:
    return script(
        "tr a-z A-Z < in.txt > out.txt",
        inputs=[src.stage("in.txt")],
        outputs=File(dest).stage("out.txt"),
        tempdir=True,
    )


@task
def count_dir(data: Dir) -> int:
    return sum(len(f.read().split()) for f in data.files())


def ran_tasks(scheduler: Scheduler) -> list[str]:
    ran: list[str] = []
    scheduler.events.subscribe(
        lambda e: (
            ran.append(e.task) if isinstance(e, JobStateChanged) and e.state == "done" else None
        )
    )
    return ran


def test_tasks_rerun_when_a_gcs_input_changes(gcs):
    File(url("words.txt")).write("a b c")
    File(url("dir/one.txt")).write("a b")
    scheduler = Scheduler()
    ran = ran_tasks(scheduler)
    assert scheduler.run(word_count(File(url("words.txt")))) == 3
    assert scheduler.run(word_count(File(url("words.txt")))) == 3
    assert scheduler.run(count_dir(Dir(url("dir")))) == 2
    assert scheduler.run(count_dir(Dir(url("dir")))) == 2
    assert ran == ["test_gcs.word_count", "test_gcs.count_dir"]
    gcs.bucket(BUCKET).blob("words.txt").upload_from_string(b"a b c d")
    gcs.bucket(BUCKET).blob("dir/two.txt").upload_from_string(b"c")
    assert scheduler.run(word_count(File(url("words.txt")))) == 4
    assert scheduler.run(count_dir(Dir(url("dir")))) == 3
    assert len(ran) == 4


def test_cached_gcs_results_are_remade_when_deleted_or_changed(gcs):
    File(url("words.txt")).write("a b")
    scheduler = Scheduler()
    ran = ran_tasks(scheduler)
    expr = lambda: summarize(File(url("words.txt")), url("out/summary.txt"))  # noqa: E731
    assert scheduler.run(expr()).read() == "2 words\n"
    scheduler.run(expr())
    assert ran.count("test_gcs.summarize") == 1
    gcs.bucket(BUCKET).delete_blob("out/summary.txt")
    scheduler.run(expr())
    assert ran.count("test_gcs.summarize") == 2
    gcs.bucket(BUCKET).blob("out/summary.txt").upload_from_string(b"tampered")
    assert scheduler.run(expr()).read() == "2 words\n"
    assert ran.count("test_gcs.summarize") == 3


def test_script_stages_gcs_inputs_and_outputs(gcs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    File(url("in/text.txt")).write("shout\n")
    scheduler = Scheduler()
    ran = ran_tasks(scheduler)
    result = scheduler.run(upper_on_gcs(File(url("in/text.txt")), url("out/text.txt")))
    assert result.path == url("out/text.txt")
    assert result.read() == "SHOUT\n"
    assert sorted(os.listdir(tmp_path)) == []  # staged in a temporary directory
    scheduler.run(upper_on_gcs(File(url("in/text.txt")), url("out/text.txt")))
    assert ran.count("redun.script") == 1  # cached: same input, output intact
    gcs.bucket(BUCKET).blob("in/text.txt").upload_from_string(b"again\n")
    scheduler.run(upper_on_gcs(File(url("in/text.txt")), url("out/text.txt")))
    assert ran.count("redun.script") == 2
    assert File(url("out/text.txt")).read() == "AGAIN\n"


def test_script_with_a_missing_gcs_input_names_it(gcs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RedunFileNotFoundError) as info:
        Scheduler().run(upper_on_gcs(File(url("in/absent.txt")), url("out/x.txt")))
    message = str(info.value)
    assert url("in/absent.txt") in message and "test_gcs.upper_on_gcs" in message
    assert not Path(tmp_path / "in.txt").exists()
