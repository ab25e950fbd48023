"""S3 files, directories, staging and scripts, against moto's in-process S3 (no network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

from moto import mock_aws  # noqa: E402
from moto.core import set_initial_no_auth_action_count  # noqa: E402

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
from redun.file.s3 import S3FileSystem, s3_error, split_url  # noqa: E402

redun_namespace = "test_s3"

BUCKET = "redun-test"


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Fake credentials and no AWS config from the machine: nothing can reach AWS."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    fs = get_filesystem(proto="s3")
    assert isinstance(fs, S3FileSystem)
    fs.reset_client()
    yield fs
    fs.reset_client()


@pytest.fixture
def s3(aws_env):
    """A mocked S3 with one empty bucket; yields a plain boto3 client."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def url(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


# -- import hygiene ------------------------------------------------------------


def test_import_redun_does_not_import_boto3():
    code = (
        "import sys, redun, redun.file, redun.file.s3, redun.scripting\n"
        "from redun import File, Dir, script\n"
        "File('s3://bucket/key'); Dir('s3://bucket/dir')\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- files ------------------------------------------------------------------------


def test_split_url():
    assert split_url("s3://b/a/b.txt") == ("b", "a/b.txt")
    assert split_url("s3://b") == ("b", "")
    with pytest.raises(FileError, match="invalid S3 URL"):
        split_url("s3:///key")


def test_write_read_exists_size_remove(s3):
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
    file.remove()
    assert not file.exists()
    file.remove()  # a missing object is fine


def test_hash_comes_from_the_etag(s3):
    file = File(url("a.txt"))
    missing_hash = file.hash
    assert File(url("a.txt")).hash == missing_hash  # missing: stable
    file.write("one")
    assert file.hash != missing_hash and file.is_valid()
    etag = s3.head_object(Bucket=BUCKET, Key="a.txt")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="a.txt", Body=b"two")
    assert s3.head_object(Bucket=BUCKET, Key="a.txt")["ETag"] != etag
    assert not file.is_valid()
    # Content mode changes nothing for S3: the ETag already is a content digest.
    assert File(url("a.txt"), content_hash=True).hash == File(url("a.txt")).hash
    # The same bytes written again keep the hash.
    current = File(url("a.txt")).hash
    s3.put_object(Bucket=BUCKET, Key="a.txt", Body=b"two")
    assert File(url("a.txt")).hash == current


def test_touch_creates_and_keeps_content(s3):
    file = File(url("t.txt"))
    file.touch()
    assert file.exists() and file.size() == 0
    file.write("data")
    file.touch()
    assert file.read() == "data"
    with pytest.raises(FileError, match="S3 sets them itself"):
        file.touch((1, 2))


def test_copy_between_local_and_s3(s3, tmp_path):
    local = tmp_path / "in.txt"
    local.write_text("payload")
    uploaded = File(str(local)).copy_to(url("up/in.txt"))
    assert uploaded.path == url("up/in.txt") and uploaded.read() == "payload"
    assert uploaded.is_valid()
    copied = uploaded.copy_to(File(url("copy/in.txt")))
    assert copied.read() == "payload"
    downloaded = copied.copy_to(str(tmp_path / "deep" / "down.txt"))
    assert (tmp_path / "deep" / "down.txt").read_text() == "payload"
    assert downloaded.is_valid()
    assert uploaded.copy_to(url("copy/in.txt"), skip_if_exists=True).path == url("copy/in.txt")
    with pytest.raises(RedunFileNotFoundError, match=r"s3://redun-test/nope"):
        File(url("nope")).copy_to(str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()
    with pytest.raises(RedunFileNotFoundError, match=r"missing\.txt"):
        File(str(tmp_path / "missing.txt")).copy_to(url("x"))


def test_dirs_glob_and_listing(s3):
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


def test_dir_hash_tracks_changes_additions_and_removals(s3):
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


def test_mkdir_and_rmdir(s3):
    directory = Dir(url("made"))
    directory.mkdir()
    assert directory.exists() and directory.files() == []
    directory.file("x.txt").write("x")
    with pytest.raises(FileError, match="not empty"):
        directory.rmdir()
    directory.rmdir(recursive=True)
    assert not directory.exists()


def test_dir_copy_both_ways(s3, tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.txt").write_text("a")
    (tmp_path / "src" / "sub" / "b.txt").write_text("b")
    remote = Dir(str(tmp_path / "src")).copy_to(url("tree"))
    assert [remote.rel_path(f.path) for f in remote.files()] == ["a.txt", "sub/b.txt"]
    back = remote.copy_to(str(tmp_path / "back"))
    assert (tmp_path / "back" / "sub" / "b.txt").read_text() == "b"
    assert back.is_valid()


def test_staging_files_and_dirs(s3, tmp_path):
    File(url("in/data.txt")).write("data")
    staged = File(url("in/data.txt")).stage(str(tmp_path / "local.txt"))
    assert staged.stage().read() == "data"
    (tmp_path / "local.txt").write_text("changed")
    assert staged.unstage().read() == "changed"
    assert "aws s3 cp --no-progress" in staged.render_stage()


# -- errors ---------------------------------------------------------------------------


def test_missing_bucket_and_object_name_the_url(s3):
    with pytest.raises(RedunFileNotFoundError, match=r"'s3://no-such-bucket/k'.*bucket"):
        File("s3://no-such-bucket/k").read()
    with pytest.raises(RedunFileNotFoundError, match=r"'s3://no-such-bucket/k'.*bucket"):
        File("s3://no-such-bucket/k").write("x")
    with pytest.raises(RedunFileNotFoundError, match=r"s3://redun-test/nope.*no such object"):
        File(url("nope")).read()
    with pytest.raises(FileNotFoundError):  # still the builtin type
        File(url("nope")).size()
    assert not File("s3://no-such-bucket/k").exists()


@set_initial_no_auth_action_count(1)
def test_permission_errors_name_the_url(aws_env):
    # moto checks credentials after the first request: ours are unknown to it.
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        aws_env.reset_client()
        with pytest.raises(RedunPermissionError, match=r"cannot read 's3://redun-test/k'.*denied"):
            File(url("k")).read()
        with pytest.raises(RedunPermissionError, match=r"s3://redun-test/k"):
            File(url("k")).write("x")
        with pytest.raises(RedunPermissionError, match=r"s3://redun-test/k"):
            File(url("k")).hash  # noqa: B018


def test_translation_of_other_botocore_errors():
    from botocore.exceptions import ClientError, NoCredentialsError

    error = ClientError(
        {"Error": {"Code": "InternalError", "Message": "We encountered an internal error."}},
        "GetObject",
    )
    translated = s3_error("read", url("k"), error)
    assert type(translated) is FileError
    assert "s3://redun-test/k" in str(translated) and "InternalError" in str(translated)
    slow = ClientError(
        {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
        "GetObject",
    )
    throttled = s3_error("read", url("k"), slow)
    assert isinstance(throttled, RedunThrottledError) and "SlowDown" in str(throttled)
    denied = s3_error("read", url("k"), ClientError({"Error": {"Code": "403"}}, "HeadObject"))
    assert isinstance(denied, RedunPermissionError) and isinstance(denied, PermissionError)
    no_creds = s3_error("read", url("k"), NoCredentialsError())
    assert "no AWS credentials" in str(no_creds)


# -- workflows -----------------------------------------------------------------------


@task
def word_count(file: File) -> int:
    return len(file.read().split())


@task
def summarize(file: File, dest: str) -> File:
    out = File(dest)
    out.write(f"{word_count.func(file)} words\n")
    return out


@task
def upper_on_s3(src: File, dest: str) -> File:
    return script(
        "tr a-z A-Z < in.txt > out.txt",
        inputs=[src.stage("in.txt")],
        outputs=File(dest).stage("out.txt"),
        tempdir=True,
    )


def ran_tasks(scheduler: Scheduler) -> list[str]:
    ran: list[str] = []
    scheduler.events.subscribe(
        lambda e: (
            ran.append(e.task) if isinstance(e, JobStateChanged) and e.state == "done" else None
        )
    )
    return ran


def test_tasks_rerun_when_an_s3_input_changes(s3):
    File(url("words.txt")).write("a b c")
    scheduler = Scheduler()
    ran = ran_tasks(scheduler)
    assert scheduler.run(word_count(File(url("words.txt")))) == 3
    assert scheduler.run(word_count(File(url("words.txt")))) == 3
    assert ran == ["test_s3.word_count"]
    s3.put_object(Bucket=BUCKET, Key="words.txt", Body=b"a b c d")
    assert scheduler.run(word_count(File(url("words.txt")))) == 4
    assert len(ran) == 2


def test_cached_s3_results_are_remade_when_deleted_or_changed(s3):
    File(url("words.txt")).write("a b")
    scheduler = Scheduler()
    ran = ran_tasks(scheduler)
    expr = lambda: summarize(File(url("words.txt")), url("out/summary.txt"))  # noqa: E731
    assert scheduler.run(expr()).read() == "2 words\n"
    scheduler.run(expr())
    assert ran.count("test_s3.summarize") == 1
    s3.delete_object(Bucket=BUCKET, Key="out/summary.txt")
    scheduler.run(expr())
    assert ran.count("test_s3.summarize") == 2
    s3.put_object(Bucket=BUCKET, Key="out/summary.txt", Body=b"tampered")
    assert scheduler.run(expr()).read() == "2 words\n"
    assert ran.count("test_s3.summarize") == 3


def test_script_stages_s3_inputs_and_outputs(s3, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    File(url("in/text.txt")).write("shout\n")
    scheduler = Scheduler()
    ran = ran_tasks(scheduler)
    result = scheduler.run(upper_on_s3(File(url("in/text.txt")), url("out/text.txt")))
    assert result.path == url("out/text.txt")
    assert result.read() == "SHOUT\n"
    assert sorted(os.listdir(tmp_path)) == []  # staged in a temporary directory
    scheduler.run(upper_on_s3(File(url("in/text.txt")), url("out/text.txt")))
    assert ran.count("redun.script") == 1  # cached: same input, output intact
    s3.delete_object(Bucket=BUCKET, Key="out/text.txt")
    scheduler.run(upper_on_s3(File(url("in/text.txt")), url("out/text.txt")))
    assert ran.count("redun.script") == 2
    assert File(url("out/text.txt")).read() == "SHOUT\n"


def test_script_with_a_missing_s3_input_names_it(s3, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RedunFileNotFoundError) as info:
        Scheduler().run(upper_on_s3(File(url("in/absent.txt")), url("out/x.txt")))
    message = str(info.value)
    assert url("in/absent.txt") in message and "test_s3.upper_on_s3" in message
    assert not Path(tmp_path / "in.txt").exists()
