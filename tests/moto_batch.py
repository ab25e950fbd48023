"""AWS Batch on loopback for tests: moto's server, with its per-job runner replaced.

moto runs each Batch job in a thread (``moto.batch.models.Job.run``) that
starts a docker container; there is no docker daemon here. :class:`BatchHarness`
replaces that method, in the test process only, with a runner that does what
AWS does with the job's container, using a local subprocess:

- the job walks SUBMITTED -> PENDING -> RUNNABLE (it stays there while
  ``paused``, or while ``slots`` jobs run) -> STARTING -> RUNNING;
- the command of the job's overrides runs with the job's environment (the
  definition's and the overrides', ``AWS_BATCH_JOB_ID``, and
  ``AWS_BATCH_JOB_ARRAY_INDEX`` for an array's child) on top of this
  process's (the "image's"); ``redun`` stands for ``python -m redun``;
- what it prints (stdout and stderr as one stream, like the awslogs driver)
  goes line by line to its CloudWatch stream ``<definition>/default/<job id>``
  in the log group ``/aws/batch/job``;
- ``terminate_job`` kills it (an array parent's children too, as in AWS):
  FAILED with the reason given; past ``attemptDurationSeconds`` it is killed:
  FAILED "Job attempt duration exceeded timeout";
- exit status 0 is SUCCEEDED, anything else FAILED;
- ``reclaim``: the first run of these array indexes (None: a lone job) loses
  its host as a spot reclaim does: killed, FAILED "Host EC2 (instance ...) terminated.".

moto's own job status transitions are switched off (``progression: manual``)
so that the status is what the runner sets.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from typing import Any

QUEUE = "redun-test-queue"
REGION = "us-east-1"
HOST_LOST = "Host EC2 (instance i-0123456789abcdef0) terminated."
TIMED_OUT = "Job attempt duration exceeded timeout"
logger = logging.getLogger("tests.moto_batch")


class BatchHarness:
    """moto's Batch, Logs and IAM (and S3) at ``url``, with jobs run as local processes.

    Args:
        url: the moto server's base URL.
        python: the interpreter that runs ``redun`` for a job.
        slots: how many jobs run at once (the others wait RUNNABLE).
    """

    def __init__(self, url: str, *, python: str = sys.executable, slots: int = 4) -> None:
        self.url = url
        self.python = python
        self.slots = slots
        self.paused = False
        self.reclaim: set[int | None] = set()
        self.env: dict[str, str] = {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.started: list[str] = []
        self.finished: dict[str, tuple[str, str]] = {}
        """job id -> (status, reason) of each job the runner ended."""
        self._running = 0
        self._cond = threading.Condition()
        self._log_lock = threading.Lock()
        self._saved: dict[str, Any] = {}

    # -- installing --------------------------------------------------------------------
    def install(self) -> BatchHarness:
        from moto.batch import models

        harness = self
        original_terminate = models.Job.terminate
        self._saved = {"run": models.Job.run, "terminate": original_terminate}

        def run(job: Any) -> None:
            harness._run(job)

        def terminate(job: Any, reason: str) -> None:
            original_terminate(job, reason)
            for child in job._child_jobs or ():
                if child.status not in ("SUCCEEDED", "FAILED"):
                    original_terminate(child, reason)
            with harness._cond:
                harness._cond.notify_all()

        original_property = models.Job._get_container_property
        self._saved["property"] = original_property
        property_lock = threading.Lock()

        def container_property(job: Any, name: str, default: Any) -> Any:
            # moto appends AWS_BATCH_JOB_ID to the overrides' own environment list at every
            # describe (a list all children of an array share): it would grow without end.
            if name != "environment":
                return original_property(job, name, default)
            with property_lock:
                overrides = job.container_overrides
                saved = overrides.get("environment")
                if saved is not None:
                    overrides["environment"] = list(saved)
                try:
                    return original_property(job, name, default)
                finally:
                    if saved is not None:
                        overrides["environment"] = saved

        models.Job._get_container_property = container_property  # type: ignore[method-assign]
        models.Job.run = run  # type: ignore[method-assign]
        models.Job.terminate = terminate  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        from moto.batch import models

        if self._saved:
            models.Job.run = self._saved["run"]  # type: ignore[method-assign]
            models.Job.terminate = self._saved["terminate"]  # type: ignore[method-assign]
            models.Job._get_container_property = self._saved["property"]  # type: ignore

    def reset(self) -> None:
        """No jobs (their processes killed), and a fresh queue on a fresh moto."""
        self.paused = False
        self.reclaim.clear()
        self.env.clear()
        self.kill_all()
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).read()
        self._manual_transitions()
        self.started.clear()
        self.finished.clear()
        self._make_queue()

    def kill_all(self) -> None:
        for proc in list(self.procs.values()):
            _kill(proc)
        self.procs.clear()
        with self._cond:
            self._cond.notify_all()

    def running_pids(self) -> list[int]:
        return [proc.pid for proc in list(self.procs.values()) if proc.poll() is None]

    def release(self) -> None:
        """Let RUNNABLE jobs start (after ``paused``)."""
        with self._cond:
            self.paused = False
            self._cond.notify_all()

    def _manual_transitions(self) -> None:
        from moto.moto_api import state_manager

        state_manager.set_transition(
            model_name="batch::job", transition={"progression": "manual", "times": 10**9}
        )

    def _make_queue(self) -> None:
        import boto3

        kwargs = {
            "region_name": REGION,
            "endpoint_url": self.url,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        iam = boto3.client("iam", **kwargs)
        role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]
        batch = boto3.client("batch", **kwargs)
        env = batch.create_compute_environment(
            computeEnvironmentName="redun-test-ce",
            type="UNMANAGED",
            state="ENABLED",
            serviceRole=role["Arn"],
        )
        batch.create_job_queue(
            jobQueueName=QUEUE,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}
            ],
        )

    # -- running a job -------------------------------------------------------------------
    def _run(self, job: Any) -> None:
        try:
            self._run_job(job)
        except Exception:  # a harness bug must show, and must not leave the job hanging
            logger.exception("the harness failed to run %s", job.job_id)
            job._mark_stopped(success=False)

    def _run_job(self, job: Any) -> None:
        job.status = "PENDING"
        job.status = "RUNNABLE"
        with self._cond:
            while not job.stop and (self.paused or self._running >= self.slots):
                self._cond.wait(0.05)
            if job.stop:
                self._end(job, False, job.job_stopped_reason or "terminated")
                return
            self._running += 1
        try:
            self._run_process(job)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def _run_process(self, job: Any) -> None:
        job.status = "STARTING"
        command = list(job.container_overrides.get("command") or [])
        if command and command[0] == "redun":
            command = [self.python, "-m", "redun", *command[1:]]
        index = (job.array_properties or {}).get("index")
        env = {**os.environ, **self.env}
        definition = job.job_definition.container_properties or {}
        for pair in (definition.get("environment") or []) + list(
            job.container_overrides.get("environment") or []
        ):
            env[pair["name"]] = pair["value"]
        env["AWS_BATCH_JOB_ID"] = job.job_id
        if index is not None:
            env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
        env["PYTHONUNBUFFERED"] = "1"
        job.job_started_at = datetime.now()
        job.log_stream_name = job._stream_name
        with self._log_lock:
            job._log_backend.ensure_log_group(job._log_group)
            job._log_backend.ensure_log_stream(job._log_group, job.log_stream_name)
        job._start_attempt()
        job.status = "RUNNING"
        workdir = tempfile.mkdtemp(prefix="redun-moto-job-")
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[job.job_id] = proc
        self.started.append(job.job_id)
        reader = threading.Thread(target=self._pump, args=(job, proc), daemon=True)
        reader.start()
        limit = job._get_attempt_duration()
        deadline = time.monotonic() + limit if limit else None
        reason = ""
        if index in self.reclaim:
            self.reclaim.discard(index)
            reason = HOST_LOST  # the spot instance goes away under the starting container
        while not reason and proc.poll() is None:
            if job.stop:
                reason = job.job_stopped_reason or "terminated"
            elif deadline is not None and time.monotonic() > deadline:
                reason = TIMED_OUT
            else:
                time.sleep(0.02)
        if reason:
            _kill(proc)
        code = proc.wait()
        reader.join(timeout=10)
        self.procs.pop(job.job_id, None)
        if reason:
            job.job_stopped_reason = reason
            if reason != HOST_LOST:
                job.exit_code = code
            self._end(job, False, reason)
        else:
            job.exit_code = code
            self._end(job, code == 0, "" if code == 0 else "Essential container in task exited")

    def _pump(self, job: Any, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            event = {"timestamp": int(time.time() * 1000), "message": line}
            with self._log_lock:
                job._log_backend.put_log_events(job._log_group, job.log_stream_name, [event])

    def _end(self, job: Any, ok: bool, reason: str) -> None:
        if reason and not job.job_stopped_reason:
            job.job_stopped_reason = reason
        job._mark_stopped(success=ok)
        self.finished[job.job_id] = (job.status, job.job_stopped_reason or "")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
