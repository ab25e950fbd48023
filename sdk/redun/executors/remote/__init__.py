"""The remote execution layer shared by every back end that runs jobs off this process.

One idea per module: :mod:`.scratch` (the store layout), :mod:`.package` (the
code package), :mod:`.protocol` (calls and outcomes), :mod:`.entrypoint`
(``redun oneshot``, the job's side), :mod:`.states` (what platform states
mean: pure), :mod:`.backend` (the hooks), :mod:`.reattach` (matching jobs a
platform still knows to calls), :mod:`.outcomes` (reading outcomes back),
:mod:`.flight` (in-flight bookkeeping) and :mod:`.executor` (the shared
executor: batching, submitting, monitoring, cancel, retries).

Writing a back end
==================

A back end is a subclass of :class:`RemoteBackend` and a three-line executor
class; everything else (scratch, code package, calls, arrays, monitoring,
outcomes, logs, cancel, re-attach, retries) is shared::

    class MyBackend(RemoteBackend):
        live_logs = False          # True if read_logs() tails output while jobs run
        live_logs_complete = True  # False if the tails may miss lines (late ingestion)
        max_array_size = 10_000    # the platform's largest array job
        poll_interval = 5.0        # seconds between polls (at most; it starts faster)
        lost_after = 60.0          # unknown to the platform this long = lost

        def start(self): ...       # validate self.config, open clients (raise naming the key)
        def submit(self, submission) -> handle: ...
        def poll(self, handles) -> {handle: Report}: ...
        def cancel(self, handles): ...
        def find_jobs(self) -> [FoundJob]: ...            # optional: re-attach
        def read_logs(self, handle, index, *, final): ... # optional: live log tails
        def forget(self, handle): ...                     # optional: drop per-job state
        def stop(self): ...                               # optional: close clients

    class MyExecutor(RemoteExecutor):
        def make_backend(self):
            return MyBackend(self.name, self.config)

    register_executor("my_platform", "mypkg.MyExecutor")   # [executors.X] type = my_platform

The hooks, exactly:

``submit(submission) -> handle``
    Start one platform job running ``submission.command`` (``redun oneshot
    --scratch ROOT --code URL KEY``; prefix it with your image's interpreter
    if needed). ``submission.size`` is None for a lone job, else the array's
    size: each element must learn its index from ``AWS_BATCH_JOB_ARRAY_INDEX``,
    ``BATCH_TASK_INDEX`` or an ``--array-index N`` you append. Name the job
    ``submission.name`` and attach ``submission.labels`` (run id, key, token,
    task) as tags where the platform has them; read resources from
    ``submission.options``. Return a hashable handle; raise
    :class:`~redun.errors.ExecutorError` if the platform refuses.

``poll(handles) -> {handle: Report}``
    One bulk call (or a few) for all jobs in flight. Map platform states to
    :class:`Phase`: waiting -> QUEUED, running -> RUNNING, exit 0 ->
    SUCCEEDED, non-zero exit -> FAILED, host terminated / preempted / could
    not start -> LOST (retried up to the task's ``retries``). For arrays, give
    per-element :class:`Observation` s in ``Report.elements``; elements left
    out follow the whole job. Leave out handles the platform does not know.
    Keep the mapping a pure function of the platform's response, and test it
    on recorded responses.

``cancel(handles)``
    Stop these jobs with all their elements, now (the run is being
    cancelled: ``redun run`` Ctrl-C, the daemon's cancel, ``redund stop``).

``cancel_elements(handle, indexes)`` (optional)
    Stop these elements of an array, the others running on (one job of the
    array was cancelled). Without it the element runs to its end, its
    outcome ignored.

``find_jobs() -> [FoundJob]``
    The jobs this executor's platform still knows (in flight, and recently
    ended), each with its name as given at submit and its report. The layer
    matches names (:func:`parse_name`) to calls: it adopts calls in flight
    and reads back results already written instead of submitting again.

``read_logs(handle, index, *, final) -> [(stream, text)]``
    New whole lines of a running job's output since the last call (all the
    rest when ``final``). Only with ``live_logs = True``; otherwise the output
    captured in each call's outcome is posted when the job ends.

What the layer guarantees a back end: ``start``, ``submit``, ``poll``,
``find_jobs`` and ``read_logs`` are called from one worker thread;
``cancel``, ``cancel_elements`` and ``forget`` may also come from another
(the scheduler's, on a cancelled run or job); the call list and code package
are in the scratch before ``submit``; outcomes are read by the layer, never
by the back end.
"""

from redun.executors.remote.backend import (
    FoundJob,
    Handle,
    RemoteBackend,
    Submission,
    job_name,
    parse_name,
)
from redun.executors.remote.errors import InfrastructureError, ProtocolError, RemoteTaskError
from redun.executors.remote.executor import RemoteExecutor
from redun.executors.remote.package import CodePackage, build_package
from redun.executors.remote.protocol import PROTOCOL_VERSION, run_call
from redun.executors.remote.scratch import Scratch
from redun.executors.remote.states import Observation, Phase, Report

__all__ = [
    "PROTOCOL_VERSION",
    "CodePackage",
    "FoundJob",
    "Handle",
    "InfrastructureError",
    "Observation",
    "Phase",
    "ProtocolError",
    "RemoteBackend",
    "RemoteExecutor",
    "RemoteTaskError",
    "Report",
    "Scratch",
    "Submission",
    "build_package",
    "job_name",
    "parse_name",
    "run_call",
]
