"""``redun-tui`` in a real terminal (tmux, 160x48): attach, open an execution and a job, quit.

Skips when tmux is absent (CI installs it with ``apt-get install -y tmux``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ..e2e.helpers import Daemon

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install -y tmux)"
)


class Terminal:
    """A tmux session of its own (its own server socket, so nothing else is touched)."""

    def __init__(self, command: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.socket = f"redun-tui-test-{uuid.uuid4().hex[:8]}"
        self.tmux = ["tmux", "-L", self.socket]
        shell_command = " ".join(command) + "; echo REDUN-TUI-EXITED $?; sleep 60"
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-s", "t", "-x", "160", "-y", "48", shell_command],
            check=True,
            cwd=cwd,
            env=env,
        )

    def screen(self) -> str:
        result = subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True
        )
        return result.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "t", *keys], check=True)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on the screen after {timeout} s:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def test_attach_open_execution_and_job_then_quit(daemon: Daemon) -> None:
    with daemon.client() as client:
        run = client.submit(
            "flow.py", "chatty", args={"lines": "4"}, working_dir=str(daemon.project)
        )
        run.wait(timeout=30)
    command = [sys.executable, "-m", "redun_tui", "--home", str(daemon.home)]
    env = dict(daemon.env, TERM="xterm-256color")
    terminal = Terminal(command, cwd=daemon.project, env=env)
    try:
        screen = terminal.wait_for(run.id[:8])
        assert "chatty --lines 4" in screen and "✔ done" in screen
        terminal.keys("Enter")  # the newest execution is selected
        screen = terminal.wait_for("e2e.chatty(lines=4)  done")
        assert "Jobs by task and state" in screen
        terminal.keys("Enter")  # the root job
        for text in ("line 0", "line 3", "Output", "e2e.chatty", "4 lines · ended"):
            terminal.wait_for(text)
        terminal.keys("q")
        terminal.wait_for("REDUN-TUI-EXITED 0", timeout=10)
    finally:
        terminal.close()
