"""Talking to Docker through its command line: run, inspect, ps, logs, rm.

The CLI (not the Engine API) is what users have, what ``DOCKER_HOST`` and
contexts configure, and what podman imitates. Each call is one process; the
executor batches (one ``inspect`` for every container in flight, one ``rm``
for many). Failures become :class:`DockerError` with docker's own words.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from redun.errors import ExecutorError

TIMEOUT = 120.0
"""Seconds a query (inspect, ps, logs, rm) may take; ``docker run`` may pull an image: no limit."""
CHUNK = 200
"""Containers named in one command (keeps command lines short)."""


class DockerError(ExecutorError):
    """A docker command failed; ``returncode`` and docker's ``stderr`` say why."""

    def __init__(self, message: str, returncode: int = -1, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class DockerCli:
    """Runs ``program`` (``docker``) with ``env`` (the scheduler's, plus credentials to pass).

    Args:
        program: the path of the docker command.
        env: its environment; values named by ``-e NAME`` are taken from here.
    """

    def __init__(self, program: str, env: Mapping[str, str] | None = None) -> None:
        self.program = program
        self.env = dict(env) if env is not None else None

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = TIMEOUT,
        check: bool = True,
        interactive: bool = False,
    ) -> subprocess.CompletedProcess:
        """``docker ARGS``; with ``interactive`` on this terminal (nothing captured).

        Raises:
            DockerError: docker could not be started, timed out, or (with ``check``) failed.
        """
        argv = [self.program, *args]
        what = f"docker {args[0]}" if args else "docker"
        try:
            if interactive:
                return subprocess.run(argv, env=self.env, timeout=timeout, check=False)
            done = subprocess.run(
                argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except OSError as exc:
            raise DockerError(f"cannot run {self.program}: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise DockerError(f"{what} did not answer within {timeout:g}s") from exc
        if check and done.returncode != 0:
            stderr = _text(done.stderr)
            raise DockerError(
                f"{what} failed (exit status {done.returncode}): {stderr or 'no message'}",
                done.returncode,
                stderr,
            )
        return done

    def inspect(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``docker inspect`` of these containers, by name; containers that are gone are left out.

        Raises:
            DockerError: docker failed for another reason (the daemon is down).
        """
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), CHUNK):
            chunk = list(names[start : start + CHUNK])
            done = self.run(["inspect", "--type", "container", *chunk], check=False)
            try:
                items = json.loads(done.stdout or b"[]")
            except ValueError:
                items = None
            if done.returncode != 0 and not items and not _only_missing(done.stderr):
                stderr = _text(done.stderr)
                raise DockerError(
                    f"docker inspect failed (exit status {done.returncode}): {stderr}",
                    done.returncode,
                    stderr,
                )
            for item in items or ():
                found[str(item.get("Name", "")).lstrip("/")] = item
        return found

    def container_ids(self, labels: Mapping[str, str]) -> list[str]:
        """Ids of every container (running or not) carrying all these labels."""
        args = ["ps", "-a", "-q", "--no-trunc"]
        for key, value in labels.items():
            args += ["--filter", f"label={key}={value}"]
        return _text(self.run(args).stdout).split()

    def logs(self, name: str) -> tuple[bytes, bytes]:
        """A container's whole output so far: ``(stdout, stderr)``."""
        done = self.run(["logs", name])
        return done.stdout, done.stderr

    def remove(self, names: Sequence[str]) -> None:
        """``docker rm -f``: kill (if running) and remove; containers already gone are fine."""
        for start in range(0, len(names), CHUNK):
            chunk = list(names[start : start + CHUNK])
            done = self.run(["rm", "-f", *chunk], check=False)
            if done.returncode != 0 and not _only_missing(done.stderr):
                stderr = _text(done.stderr)
                raise DockerError(
                    f"docker rm failed (exit status {done.returncode}): {stderr}",
                    done.returncode,
                    stderr,
                )


def _text(data: bytes | str | None) -> str:
    if not data:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text.strip()


def _only_missing(stderr: bytes | str | None) -> bool:
    """True if every complaint is about a container that does not exist."""
    lines = [line for line in _text(stderr).splitlines() if line.strip()]
    return bool(lines) and all("no such" in line.lower() for line in lines)
