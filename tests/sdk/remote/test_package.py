"""Code packages: what goes in, determinism, content names, upload once, safe unpacking."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from redun.errors import ExecutorError
from redun.executors.remote.package import (
    build_package,
    ensure_uploaded,
    find_files,
    package_options,
    unpack,
)
from redun.executors.remote.scratch import Scratch

from .conftest import CountingFileSystem


def make_tree(root) -> None:
    files = {
        "flow.py": "x = 1\n",
        "pkg/__init__.py": "",
        "pkg/helpers.py": "def f():\n    return 2\n",
        "pkg/data.csv": "a,b\n",
        ".git/hooks/pre.py": "",
        ".venv/lib/site.py": "",
        "myenv/pyvenv.cfg": "home = /usr\n",
        "myenv/lib/mod.py": "",
        "pkg/__pycache__/helpers.cpython-311.py": "",
        "build/lib/flow.py": "",
        "thing.egg-info/top.py": "",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_packages_hold_the_users_modules_only(tmp_path) -> None:
    make_tree(tmp_path)
    includes, excludes = package_options({})
    assert find_files(str(tmp_path), includes, excludes) == [
        "flow.py",
        "pkg/__init__.py",
        "pkg/helpers.py",
    ]
    includes, excludes = package_options(
        {"code_includes": "**/*.py **/*.csv", "code_excludes": "pkg"}
    )
    assert find_files(str(tmp_path), includes, excludes) == ["flow.py"]
    includes, _ = package_options({"code_includes": "**/*.csv"})
    assert find_files(str(tmp_path), includes, excludes=()) == ["pkg/data.csv"]


def test_the_same_files_give_the_same_package_and_an_edit_a_new_one(tmp_path) -> None:
    make_tree(tmp_path)
    first = build_package(str(tmp_path))
    os.utime(tmp_path / "flow.py", (1, 1))  # times do not count
    second = build_package(str(tmp_path))
    assert (first.digest, first.data) == (second.digest, second.data)
    (tmp_path / "pkg" / "helpers.py").write_text("def f():\n    return 3\n")
    assert build_package(str(tmp_path)).digest != first.digest


def test_an_unchanged_package_is_uploaded_once(tmp_path, counting_root) -> None:
    make_tree(tmp_path / "code")
    scratch = Scratch(counting_root)
    package = build_package(str(tmp_path / "code"))
    url, uploaded = ensure_uploaded(scratch, package)
    assert uploaded and CountingFileSystem.writes == [url]
    assert url == f"{counting_root}/code/{package.digest}.tar.gz"
    again = build_package(str(tmp_path / "code"))
    assert ensure_uploaded(scratch, again) == (url, False)
    assert CountingFileSystem.writes == [url]  # the second submit wrote nothing


def test_unpack_restores_the_files(tmp_path) -> None:
    make_tree(tmp_path / "src")
    package = build_package(str(tmp_path / "src"))
    names = unpack(package.data, str(tmp_path / "out"))
    assert names == list(package.files)
    assert (tmp_path / "out" / "pkg" / "helpers.py").read_text() == "def f():\n    return 2\n"


def test_unpack_refuses_paths_outside_its_directory(tmp_path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ExecutorError, match="not a plain file"):
        unpack(buffer.getvalue(), str(tmp_path / "out"))
    assert not (tmp_path / "escape.py").exists()


def test_a_package_that_grows_too_big_says_what_to_set(tmp_path) -> None:
    (tmp_path / "big.py").write_text("x" * 2000)
    with pytest.raises(ExecutorError, match="code_includes/code_excludes"):
        build_package(str(tmp_path), max_bytes=1000)
    with pytest.raises(ExecutorError, match="set code_root"):
        build_package(str(tmp_path / "missing"))


def test_a_zip_of_the_package_is_importable(tmp_path) -> None:
    import sys

    from redun.executors.remote.package import as_zip

    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "sub" / "zipped_flow_mod.py").write_text("ANSWER = 42\n")
    package = build_package(str(tmp_path / "src"))
    archive = tmp_path / "code.zip"
    archive.write_bytes(as_zip(package))
    assert as_zip(build_package(str(tmp_path / "src"))) == archive.read_bytes()  # deterministic
    sys.path.insert(0, f"{archive}/sub")
    try:
        import zipped_flow_mod  # type: ignore[import-not-found]

        assert zipped_flow_mod.ANSWER == 42
        assert zipped_flow_mod.__file__.startswith(str(archive))
    finally:
        sys.path.remove(f"{archive}/sub")
        sys.modules.pop("zipped_flow_mod", None)
