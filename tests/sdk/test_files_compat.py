"""Files as redun users use them: http(s) files on a real local server, redun.tools,
ShardedS3Dataset (moto), rendered copy commands, `redun fs cp`, script tempdirs."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from redun import Dir, File, Scheduler, script, task
from redun.errors import FileError
from redun.tools import copy_dir, copy_file, render_template
from tests.conftest import redun_cli

redun_namespace = "test_files_compat"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` (path -> bytes); an ETag only for paths under /etag/."""

    files: dict[str, bytes] = {}
    versions: dict[str, int] = {}

    def _headers(self) -> bytes | None:
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.path.startswith("/etag/"):
            self.send_header("ETag", '"' + hashlib.md5(body).hexdigest() + '"')
        else:
            version = self.versions.get(self.path, 0)
            stamp = f"Mon, 0{1 + version} Jan 2024 00:00:00 GMT"
            self.send_header("Last-Modified", stamp)
        self.end_headers()
        return body

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server API
        self._headers()

    def do_GET(self) -> None:  # noqa: N802
        body = self._headers()
        if body is not None:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    """A real HTTP server on loopback; yields its base URL."""
    _Handler.files = {"/etag/data.txt": b"hello", "/plain/data.txt": b"plain"}
    _Handler.versions = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_file_reads_hashes_and_refuses_writes(web: str) -> None:
    tagged = File(f"{web}/etag/data.txt")
    assert tagged.exists() and tagged.read() == "hello"
    assert tagged.read("rb") == b"hello"
    first = tagged.get_hash()
    _Handler.files["/etag/data.txt"] = b"changed"
    assert File(tagged.path).get_hash() != first  # a new ETag
    plain = File(f"{web}/plain/data.txt")
    before = plain.get_hash()
    assert File(plain.path).get_hash() == before
    _Handler.versions["/plain/data.txt"] = 1  # a new Last-Modified
    assert File(plain.path).get_hash() != before
    assert not File(f"{web}/missing.txt").exists()
    with pytest.raises(FileError, match="read-only"):
        tagged.write("no")
    with pytest.raises(FileNotFoundError):
        File(f"{web}/missing.txt").read()


def test_http_file_is_copied_staged_and_rechecked(web: str, tmp_path: Path) -> None:
    calls: list[str] = []

    @task
    def fetch(src: File) -> str:
        calls.append(src.read())
        return src.read()

    local = File(f"{web}/etag/data.txt").copy_to(File(str(tmp_path / "copy.txt")))
    assert local.read() == "hello"
    staged = File(f"{web}/etag/data.txt").stage(str(tmp_path / "staged.txt"))
    assert staged.stage().read() == "hello"
    scheduler = Scheduler()
    url = f"{web}/etag/data.txt"
    assert scheduler.run(fetch(File(url))) == "hello"
    assert scheduler.run(fetch(File(url))) == "hello"
    _Handler.files["/etag/data.txt"] = b"new"
    assert scheduler.run(fetch(File(url))) == "new"
    assert calls == ["hello", "new"]


def test_rendered_copy_commands_match_redun() -> None:
    assert File("a").stage("dir/a").render_stage() == "cp a dir/a"
    assert Dir("remote").stage("local").render_stage() == "cp -r remote local"
    assert Dir("remote").stage("local").render_unstage() == "cp -r local remote"
    assert (
        File("http://example.com/src.txt").shell_copy_to("s3://bucket/dest.txt")
        == "redun fs cp http://example.com/src.txt s3://bucket/dest.txt"
    )
    assert (
        File("s3://bucket/src.txt").shell_copy_to("/tmp/dest.txt")
        == "aws s3 cp --no-progress s3://bucket/src.txt /tmp/dest.txt"
    )


def test_redun_fs_cp(web: str, tmp_path: Path, cli_env: dict[str, str]) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    (tmp_path / "src" / "sub").mkdir()
    (tmp_path / "src" / "sub" / "b.txt").write_text("b")

    def fs(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*redun_cli(), "fs", "cp", *args],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert fs(f"{web}/etag/data.txt", "fetched.txt").returncode == 0
    assert (tmp_path / "fetched.txt").read_text() == "hello"
    assert fs("--recursive", "src", "dest").returncode == 0
    assert (tmp_path / "dest" / "sub" / "b.txt").read_text() == "b"
    failed = fs(f"{web}/missing.txt", "x.txt")
    assert failed.returncode == 1 and "missing.txt" in failed.stderr


def test_copy_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    File("data.txt").write("hello")
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "x.txt").write_text("x")
    (tmp_path / "tree" / "sub" / "y.txt").write_text("y")
    scheduler = Scheduler()
    copied = scheduler.run(copy_file(File("data.txt"), "out/"))
    assert copied.path == "out/data.txt" and copied.read() == "hello"
    tree = scheduler.run(copy_dir(Dir("tree"), "tree2"))
    assert sorted(os.path.relpath(f.path, "tree2") for f in tree) == ["sub/y.txt", "x.txt"]
    assert (tmp_path / "tree2" / "sub" / "y.txt").read_text() == "y"


def test_render_template(tmp_path: Path) -> None:
    pytest.importorskip("jinja2")
    (tmp_path / "base.txt").write_text("Hello {{ name }}!")
    (tmp_path / "page.txt").write_text('{% include "base.txt" %} n={{ n }}')
    out = Scheduler().run(
        render_template(
            str(tmp_path / "out.txt"), File(str(tmp_path / "page.txt")), {"name": "you", "n": 3}
        )
    )
    assert out.read() == "Hello you! n=3"


def test_script_tempdir_outputs_go_with_the_tempdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = Scheduler().run(
        script(
            "echo hi > hello.txt; echo kept > kept.txt",
            tempdir=True,
            outputs={"hello": File("hello.txt"), "kept": File("kept.txt").stage("kept.txt")},
        )
    )
    assert not result["hello"].exists()
    assert result["kept"].read() == "kept\n"


@dataclasses.dataclass(frozen=True)
class Pair:
    left: object
    right: object


def test_expressions_inside_dataclasses_are_evaluated() -> None:
    @task
    def name(x: int) -> str:
        return str(x)

    assert Scheduler().run(Pair(name(1), Pair(name(2), None))) == Pair("1", Pair("2", None))


moto = pytest.importorskip("moto")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    from moto import mock_aws

    from redun.file import get_filesystem

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    fs = get_filesystem(proto="s3")
    fs.reset_client()  # type: ignore[attr-defined]
    with mock_aws():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="shards")
        yield fs
    fs.reset_client()  # type: ignore[attr-defined]


def test_sharded_dataset(s3: object) -> None:
    from redun import ShardedS3Dataset

    first = File("s3://shards/data/part1.csv")
    second = File("s3://shards/data/more/part2.csv")
    first.write("a,b\n1,2\n")
    second.write("a,b\n3,4\n")
    dataset = ShardedS3Dataset.from_files([first, second])
    assert (dataset.path, dataset.format) == ("s3://shards/data", "csv")
    assert dataset.filenames == [second.path, first.path]
    assert ShardedS3Dataset("s3://shards/data", "csv", recurse=False).filenames == [first.path]
    before = dataset.hash
    assert dataset.is_valid()
    File("s3://shards/data/part3.csv").write("a,b\n5,6\n")
    assert not dataset.is_valid()
    assert ShardedS3Dataset("s3://shards/data", "csv").hash != before
    with pytest.raises(ValueError, match="also hold"):
        ShardedS3Dataset.from_files([first, second])
    with pytest.raises(FileNotFoundError):
        ShardedS3Dataset.from_files([File("s3://shards/nope/x.csv")])
    # Setting recurse, format or path lists the shards again and re-hashes.
    changing = ShardedS3Dataset("s3://shards/data", "csv")
    whole = changing.hash
    changing.recurse = False
    top = [first.path, "s3://shards/data/part3.csv"]
    assert changing.filenames == top and changing.hash != whole
    changing.format = "parquet"
    assert changing.filenames == []
    changing.format, changing.path = "csv", "s3://shards/data/more"
    assert changing.filenames == [second.path]
    with pytest.raises(ValueError, match="unknown shard format 'xls'"):
        changing.format = "xls"
    with pytest.raises(ValueError, match="on S3"):
        ShardedS3Dataset.from_files([File("local.csv")])
    with pytest.raises(ValueError, match="no files"):
        ShardedS3Dataset.from_files([])
