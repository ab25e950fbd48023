"""The on-disk cache of normalized sources (redun.codehash.disk): used only for unchanged files.

Each check runs a fresh interpreter, as ``redun run`` does, with the cache in a
temporary directory (``REDUN_CODE_CACHE``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redun.codehash.disk import RACY_SECONDS

FLOW = """
def helper(x):
    return x + 1


def work(x):
    return helper(x) * 2
"""

PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import flow
from redun.codehash import hash_function_code
print(hash_function_code(flow.work).digest)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "flow.py").write_text(FLOW)
    monkeypatch.setenv("REDUN_CODE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    return tmp_path


def _digest(project: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(project / "src")],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def _entry(project: Path) -> dict:
    (found,) = list((project / "cache").glob("*.json"))
    return dict(json.loads(found.read_text()))


def _age() -> None:
    """Let the file's timestamps become older than the racy window."""
    time.sleep(RACY_SECONDS + 0.2)


def test_an_aged_file_is_stored_and_read_back(project: Path) -> None:
    _age()
    first = _digest(project)
    functions = _entry(project)["functions"]
    assert len(functions) == 2  # work and helper
    assert _digest(project) == first
    # The stored digests are what a fresh process uses: replace one and it shows.
    entry_file = next((project / "cache").glob("*.json"))
    data = json.loads(entry_file.read_text())
    for key in data["functions"]:
        data["functions"][key][0] = "0" * 40
    entry_file.write_text(json.dumps(data))
    assert _digest(project) != first


def test_same_size_edit_with_the_old_mtime_is_detected(project: Path) -> None:
    path = project / "src" / "flow.py"
    _age()
    before = _digest(project)
    assert _entry(project)["functions"]
    stat = path.stat()
    edited = FLOW.replace("x + 1", "x - 1")
    assert len(edited) == len(FLOW)
    path.write_text(edited)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # a tool restoring mtime
    assert path.stat().st_size == stat.st_size
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    after = _digest(project)
    assert after != before
    # And back: the original text hashes as it did.
    path.write_text(FLOW)
    assert _digest(project) == before


def test_edit_right_after_a_run_is_detected(project: Path) -> None:
    """Within the racy window nothing is trusted by stat, and nothing new is stored."""
    path = project / "src" / "flow.py"
    before = _digest(project)
    path.write_text(FLOW.replace("* 2", "* 3"))
    after = _digest(project)
    assert after != before
    assert not list((project / "cache").glob("*.json"))  # too fresh to store


def test_touch_without_change_keeps_the_entries(project: Path) -> None:
    path = project / "src" / "flow.py"
    _age()
    before = _digest(project)
    stored = _entry(project)["functions"]
    os.utime(path)  # new mtime, same bytes
    assert _digest(project) == before
    entry = _entry(project)
    assert entry["functions"] == stored
    assert entry["stat"][1] == path.stat().st_mtime_ns


def test_cache_off(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDUN_CODE_CACHE", "off")
    _digest(project)
    assert not (project / "cache").exists()
