"""The daemon under a task that writes output as fast as it can.

Starts a daemon in a fresh home, submits a task that never stops writing
(``sys.stdout.write("y" * 10000)`` in a loop, or ``print`` in a loop), keeps
one client streaming the run's events, and for ``--seconds`` samples:

* the resident memory of the daemon and of the run's runner process (and
  their peaks, from the kernel's ``VmHWM``);
* the latency of ``Health`` calls made from a separate client.

Then it cancels the run and stops the daemon.

    .venv/bin/python bench/daemon_flood.py                 # both tasks, 15 s each
    .venv/bin/python bench/daemon_flood.py --task write --seconds 30

Prints peak RSS (MB) per process and health latency (median, p99, max, ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FLOOD = """
import sys

from redun import task


@task
def write() -> None:
    while True:
        sys.stdout.write("y" * 10000)


@task
def printing() -> None:
    while True:
        print("y")
"""


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDUN_CONFIG", "REDUN_DB_URI", "REDUN_DAEMON_TOKEN"):
        env.pop(name, None)
    env["REDUN_HOME"] = str(home)
    return env


def proc_kb(pid: int, field: str) -> int:
    """``VmRSS`` or ``VmHWM`` (peak) of a process in kB; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        for child in children(stack.pop()):
            out.append(child)
            stack.append(child)
    return out


class Sampler:
    """Samples memory of the daemon and its runners, and health latency, until stopped."""

    def __init__(self, home: Path, daemon_pid: int) -> None:
        self.home = home
        self.daemon_pid = daemon_pid
        self.rss: dict[str, list[int]] = {"daemon": [], "runners": []}
        self.peak_runner_kb = 0
        self.peak_daemon_kb = 0
        self.health_ms: list[float] = []
        self.health_errors: list[str] = []
        self._stop = threading.Event()

    def memory_loop(self, interval: float = 0.1) -> None:
        while not self._stop.is_set():
            self.rss["daemon"].append(proc_kb(self.daemon_pid, "VmRSS"))
            self.peak_daemon_kb = max(self.peak_daemon_kb, proc_kb(self.daemon_pid, "VmHWM"))
            runners = [pid for pid in descendants(self.daemon_pid) if proc_kb(pid, "VmRSS") > 0]
            self.rss["runners"].append(max((proc_kb(p, "VmRSS") for p in runners), default=0))
            for pid in runners:
                self.peak_runner_kb = max(self.peak_runner_kb, proc_kb(pid, "VmHWM"))
            self._stop.wait(interval)

    def health_loop(self, interval: float = 0.05) -> None:
        from redun.client import Client, ClientError

        with Client(home=str(self.home), timeout=30) as client:
            while not self._stop.is_set():
                began = time.perf_counter()
                try:
                    client.health()
                except ClientError as error:
                    self.health_errors.append(str(error))
                self.health_ms.append((time.perf_counter() - began) * 1000)
                self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()


def stream_events(home: Path, execution_id: str, counts: dict[str, int]) -> None:
    """A client that reads the run's events promptly (as the TUI would)."""
    from redun.client import Client

    with Client(home=str(home)) as client:
        for batch in client.event_batches(execution_id, replay=True):
            counts["batches"] = counts.get("batches", 0) + 1
            for event in batch.events:
                if event.WhichOneof("payload") == "log":
                    counts["chars"] = counts.get("chars", 0) + len(event.log.text)


def flood(task: str, seconds: float) -> dict[str, float]:
    from redun.client import Client

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "flood.py").write_text(FLOOD)
        home = project / ".redun"
        env = _env(home)
        started = subprocess.run(
            [sys.executable, "-m", "redund", "start", "--home", str(home)],
            env=env,
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            raise SystemExit(started.stdout + started.stderr)
        daemon_pid = int((home / "redund.pid").read_text())
        try:
            os.chdir(project)
            with Client(home=str(home)) as client:
                run = client.submit("flood.py", task)
                counts: dict[str, int] = {}
                reader = threading.Thread(
                    target=stream_events, args=(home, run.id, counts), daemon=True
                )
                reader.start()
                sampler = Sampler(home, daemon_pid)
                threads = [
                    threading.Thread(target=sampler.memory_loop, daemon=True),
                    threading.Thread(target=sampler.health_loop, daemon=True),
                ]
                for thread in threads:
                    thread.start()
                time.sleep(seconds)  # the measurement window
                sampler.stop()
                for thread in threads:
                    thread.join()
                client.cancel(run.id)
                reader.join(timeout=30)
        finally:
            subprocess.run(
                [sys.executable, "-m", "redund", "stop", "--home", str(home)],
                env=env,
                capture_output=True,
            )
        latencies = sorted(sampler.health_ms)
        return {
            "daemon_peak_mb": sampler.peak_daemon_kb / 1024,
            "runner_peak_mb": sampler.peak_runner_kb / 1024,
            "health_median_ms": statistics.median(latencies),
            "health_p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
            "health_max_ms": latencies[-1],
            "health_calls": len(latencies),
            "health_errors": len(sampler.health_errors),
            "output_chars_streamed": counts.get("chars", 0),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("write", "printing", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    tasks = ("write", "printing") if args.task == "both" else (args.task,)
    for task in tasks:
        figures = flood(task, args.seconds)
        print(
            f"{task:9} daemon peak {figures['daemon_peak_mb']:.0f} MB, "
            f"runner peak {figures['runner_peak_mb']:.0f} MB; "
            f"health median {figures['health_median_ms']:.1f} ms, "
            f"p99 {figures['health_p99_ms']:.1f} ms, max {figures['health_max_ms']:.1f} ms "
            f"({figures['health_calls']} calls, {figures['health_errors']} errors); "
            f"{figures['output_chars_streamed'] / 1e6:.1f} M chars of output streamed"
        )


if __name__ == "__main__":
    main()
