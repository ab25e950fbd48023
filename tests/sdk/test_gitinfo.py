"""redun.gitinfo reads what ``git`` would answer, in real repositories made with git."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from redun.gitinfo import git_commit, git_origin_url

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def _answers(cwd: Path) -> tuple[str | None, str | None]:
    """What git itself says: the commit and the origin URL (None where it fails)."""

    def ask(*args: str) -> str | None:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
        return result.stdout.strip() or None if result.returncode == 0 else None

    return ask("rev-parse", "--verify", "HEAD"), ask("remote", "get-url", "origin")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("a\n")
    _git(root, "add", "a.txt")
    _git(root, "commit", "-q", "-m", "one")
    return root


def _same_as_git(cwd: Path) -> None:
    assert (git_commit(str(cwd)), git_origin_url(str(cwd))) == _answers(cwd)


def test_not_a_checkout(tmp_path: Path) -> None:
    assert git_commit(str(tmp_path)) is None or _answers(tmp_path)[0] is not None
    _same_as_git(tmp_path)


def test_branch_subdirectory_and_origin(repo: Path) -> None:
    (repo / "sub" / "deeper").mkdir(parents=True)
    _git(repo, "remote", "add", "origin", "https://example.com/team/flow.git")
    _same_as_git(repo)
    _same_as_git(repo / "sub" / "deeper")
    assert git_origin_url(str(repo)) == "https://example.com/team/flow.git"


def test_new_commit_and_packed_refs(repo: Path) -> None:
    first = git_commit(str(repo))
    (repo / "a.txt").write_text("b\n")
    _git(repo, "commit", "-q", "-am", "two")
    assert git_commit(str(repo)) != first
    _same_as_git(repo)
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    _same_as_git(repo)


def test_detached_head_and_unborn_branch(repo: Path, tmp_path: Path) -> None:
    _git(repo, "checkout", "-q", "--detach")
    _same_as_git(repo)
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "-q")
    assert git_commit(str(empty)) is None
    _same_as_git(empty)


def test_worktree(repo: Path, tmp_path: Path) -> None:
    _git(repo, "remote", "add", "origin", "git@example.com:team/flow.git")
    tree = tmp_path / "tree"
    _git(repo, "worktree", "add", "-q", "-b", "side", str(tree))
    (tree / "a.txt").write_text("side\n")
    _git(tree, "commit", "-q", "-am", "side")
    assert git_commit(str(tree)) != git_commit(str(repo))
    _same_as_git(tree)
    _same_as_git(repo)


def test_url_rewrites_are_left_to_git(repo: Path) -> None:
    _git(repo, "remote", "add", "origin", "gh:team/flow.git")
    _git(repo, "config", "url.https://github.com/.insteadOf", "gh:")
    assert git_origin_url(str(repo)) == "https://github.com/team/flow.git"
    _same_as_git(repo)
