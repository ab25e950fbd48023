"""The subprocess back end's launcher: runs one submission's elements as local processes.

This plays the platform's part (what AWS Batch does for a job): it is started
by file path, with the standard library only, in its own session, with the
submission's directory as its argument::

    JOB_DIR/job.json      the submission (written by the scheduler): command, size, limit
    JOB_DIR/pid           this launcher's pid (its process group is the job's)
    JOB_DIR/events        appended: "start I T", "exit I STATUS T", "end T"
    JOB_DIR/logs/I.out    element I's stdout (I.err: its stderr)

Each element runs the entrypoint command in a fresh temporary directory (an
array element gets ``--array-index I``), at most ``max_concurrency`` at once.
A negative exit status is a signal. The launcher outlives the scheduler that
started it (that is what re-attach finds); cancelling kills its process group.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def _write_atomic(path: str, text: str) -> None:
    temp = f"{path}.tmp{os.getpid()}"
    with open(temp, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, path)


def main(job_dir: str) -> int:
    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as infile:
        spec = json.load(infile)
    _write_atomic(os.path.join(job_dir, "pid"), f"{os.getpid()}\n")
    logs = os.path.join(job_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    size = spec["size"]
    pending = list(range(size)) if size is not None else [0]
    limit = max(1, int(spec.get("max_concurrency") or 1))
    env = dict(os.environ, PYTHONUNBUFFERED="1", **spec.get("env", {}))
    work_root = spec.get("work_dir") or None
    # Popen objects are kept (and their returncode set after os.wait) so that
    # subprocess's own clean-up never reaps a child behind our back.
    running: dict[int, tuple[int, str, subprocess.Popen]] = {}
    failed = 0
    with open(os.path.join(job_dir, "events"), "a", buffering=1, encoding="utf-8") as events:
        while pending or running:
            while pending and len(running) < limit:
                index = pending.pop(0)
                workdir = tempfile.mkdtemp(prefix=f"redun-job-{index}-", dir=work_root)
                command = list(spec["command"])
                if size is not None:
                    command += ["--array-index", str(index)]
                with (
                    open(os.path.join(logs, f"{index}.out"), "wb") as out,
                    open(os.path.join(logs, f"{index}.err"), "wb") as err,
                ):
                    try:
                        child = subprocess.Popen(
                            command,
                            cwd=workdir,
                            env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=out,
                            stderr=err,
                        )
                    except OSError as exc:
                        err.write(f"redun launcher: cannot start {command[0]}: {exc}\n".encode())
                        events.write(f"start {index} {time.time()}\n")
                        events.write(f"exit {index} 127 {time.time()}\n")
                        shutil.rmtree(workdir, ignore_errors=True)
                        failed += 1
                        continue
                running[child.pid] = (index, workdir, child)
                events.write(f"start {index} {time.time()}\n")
            if not running:
                continue
            pid, status = os.wait()
            entry = running.pop(pid, None)
            if entry is None:
                continue
            index, workdir, child = entry
            code = os.waitstatus_to_exitcode(status)
            child.returncode = code
            failed += code != 0
            events.write(f"exit {index} {code} {time.time()}\n")
            shutil.rmtree(workdir, ignore_errors=True)
        events.write(f"end {time.time()}\n")
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover - run as a separate process
    sys.exit(main(sys.argv[1]))
