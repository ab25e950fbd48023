"""The call and outcome protocol spoken by the scheduler and a remote job.

Files in the scratch start with one header line, then a pickle::

    redun/<kind> <protocol version> <payload length>\\n<payload>

``kind`` is ``calls``, ``result`` or ``error``. The header is read before
anything is unpickled, so each side can say precisely what is wrong: another
protocol version ("install the same redun on both sides"), a truncated file
(fewer bytes than announced), or an unreadable one.

A **call list** (a lone job's ``call`` or an array's ``calls``) is a dict
``{"token", "call_ids", "calls"}`` whose ``calls`` are pickled one by one, so
a call whose arguments cannot be unpickled on the other side fails only its
own element. A **call** is a plain dict (see :func:`call_spec`).

An **outcome** is a plain dict: ``ok``; the pickled ``value`` or ``error``;
``error_type``, ``error_message`` and ``traceback`` as text (so an exception
that cannot be rebuilt still reads well); the job's captured ``output`` as
``(stream, text)`` pairs; ``started``/``ended`` times, ``host`` and ``pid``.

:func:`run_call` runs one call in this process and returns its outcome; the
entrypoint (``redun oneshot``) and in-process back ends (Spark tasks) both
use it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pickle
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redun.executors.remote.errors import ProtocolError, RemoteTaskError

if TYPE_CHECKING:
    from redun.scheduler.job import Job

PROTOCOL_VERSION = 1
"""Bumped whenever the layout of calls or outcomes changes."""

KINDS = ("calls", "result", "error")
_HEADER_MAX = 128


# -- framing ------------------------------------------------------------------------


def frame(kind: str, payload: bytes) -> bytes:
    """``payload`` behind the header line of ``kind``."""
    return f"redun/{kind} {PROTOCOL_VERSION} {len(payload)}\n".encode() + payload


def unframe(data: bytes, kinds: tuple[str, ...], where: str) -> tuple[str, bytes]:
    """The kind and payload of a framed file.

    Args:
        data: the file's bytes.
        kinds: the kinds expected here.
        where: names the file and the job, for messages.

    Raises:
        ProtocolError: not a redun file, another protocol version, or truncated.
    """
    end = data.find(b"\n", 0, _HEADER_MAX)
    parts = data[:end].decode("ascii", "replace").split() if end > 0 else []
    if len(parts) != 3 or not parts[0].startswith("redun/") or not parts[2].isdigit():
        raise ProtocolError(f"{where} is not a redun file (no header); it may be damaged")
    kind = parts[0][len("redun/") :]
    if kind not in kinds:
        raise ProtocolError(f"{where} holds a {kind!r}, expected {' or '.join(kinds)}")
    if parts[1] != str(PROTOCOL_VERSION):
        raise ProtocolError(
            f"{where} was written with remote protocol version {parts[1]}, but this redun "
            f"speaks version {PROTOCOL_VERSION}: install the same redun version in the "
            "scheduler's environment and the job's image"
        )
    payload = data[end + 1 :]
    expected = int(parts[2])
    if len(payload) != expected:
        raise ProtocolError(
            f"{where} is truncated ({len(payload)} of {expected} bytes); the job or the "
            "storage failed while writing it"
        )
    return kind, payload


# -- calls --------------------------------------------------------------------------


def job_label(job_id: str, task_name: str) -> str:
    """``job 1a2b3c4d (task flow.add)``: how messages name a job."""
    return f"job {job_id[:8]} (task {task_name})"


def task_location(module_name: str, module_file: str | None, code_root: str) -> tuple[str, str]:
    """The module to import and its file relative to ``code_root`` ("" if not under it)."""
    relative = ""
    if module_file:
        absolute = os.path.abspath(module_file)
        root = os.path.abspath(code_root)
        if absolute.startswith(root.rstrip(os.sep) + os.sep):
            relative = os.path.relpath(absolute, root).replace(os.sep, "/")
    if module_name == "__main__" and relative:
        # A script's tasks: import the same file under its own name over there.
        module_name = os.path.splitext(os.path.basename(relative))[0]
    return module_name, relative


def call_spec(job: Job, *, module: str, path: str, token: str) -> dict[str, Any]:
    """The call of ``job``: everything the other side needs to run it.

    The arguments are pickled on their own (``arguments``), so the other side
    can import the task's module before it unpickles them.

    Raises:
        ProtocolError: an argument cannot be pickled.
    """
    return {
        **task_header(job.task, module=module, path=path, token=token),
        "call_id": job.eval_hash,
        "job_id": job.id,
        "execution_id": job.execution.id if job.execution is not None else "",
        "arguments": pickle_arguments(job),
    }


def task_header(task: Any, *, module: str, path: str, token: str) -> dict[str, Any]:
    """The part of a call that all calls of ``task`` share (see :func:`call_spec`)."""
    return {
        "protocol": PROTOCOL_VERSION,
        "token": token,
        "task": task.fullname,
        "task_hash": task.hash,
        "module": module,
        "path": path,
        "options": dict(task._task_options_override),
    }


def pickle_arguments(job: Job) -> bytes:
    """``(args, kwargs)`` of ``job``, pickled.

    Raises:
        ProtocolError: an argument cannot be pickled.
    """
    try:
        return pickle.dumps((job.call_args, job.kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise ProtocolError(
            f"the arguments of {job_label(job.id, job.task.fullname)} cannot be pickled to "
            f"send them to a remote job: {exc}"
        ) from exc


def encode_calls(token: str, call_ids: list[str], pickled_calls: list[bytes]) -> bytes:
    """A call list file (each call already pickled, see :func:`call_spec`)."""
    payload = pickle.dumps(
        {"token": token, "call_ids": call_ids, "calls": pickled_calls},
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    return frame("calls", payload)


def decode_calls(data: bytes, where: str) -> dict[str, Any]:
    """The call list in ``data`` (its calls still pickled).

    Raises:
        ProtocolError: the file is not a readable call list.
    """
    _, payload = unframe(data, ("calls",), where)
    try:
        calls = pickle.loads(payload)
    except Exception as exc:
        raise ProtocolError(f"{where} cannot be read: {exc}") from exc
    if not isinstance(calls, dict) or "calls" not in calls:
        raise ProtocolError(f"{where} is not a call list")
    return calls


# -- running a call (the job's side) ----------------------------------------------


def ensure_module(module_name: str, path: str, code_dir: str) -> None:
    """Import the module of a task: by name, else from its file in the code package."""
    if module_name in sys.modules:
        return
    if path:
        directory = os.path.join(code_dir, os.path.dirname(path))
        for entry in (directory, code_dir):
            if entry not in sys.path:
                sys.path.insert(0, entry)
    try:
        importlib.import_module(module_name)
        return
    except ModuleNotFoundError as exc:
        if not path or exc.name != module_name:
            raise
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(code_dir, path))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} from the code package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise


def new_outcome(call_id: str) -> dict[str, Any]:
    """An outcome not yet filled in: failed, with no value."""
    return {
        "protocol": PROTOCOL_VERSION,
        "call_id": call_id,
        "token": "",
        "job_id": "",
        "ok": False,
        "value": None,
        "error": None,
        "error_type": "",
        "error_message": "",
        "traceback": "",
        "output": [],
        "started": time.time(),
        "ended": 0.0,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def run_call(
    pickled_call: bytes,
    *,
    code_dir: str = ".",
    call_id: str = "",
    sink: Callable[[str, str], Any] | None = None,
) -> dict[str, Any]:
    """Run one call in this process; returns its outcome (never raises for the task's sake).

    Args:
        pickled_call: one element of a call list.
        code_dir: where the code package was unpacked.
        call_id: the call's id, known from the call list even if the call cannot be read.
        sink: receives the call's output ``(stream, text)`` live; without one it is kept
            in the outcome's ``output``.
    """
    from redun.logs import JobOutput, list_sink

    outcome = new_outcome(call_id)
    output: list[tuple[str, str]] = outcome["output"]
    label = f"call {call_id[:12]}"
    try:
        try:
            spec = pickle.loads(pickled_call)
        except Exception as exc:
            raise RemoteTaskError(
                type(exc).__name__, f"cannot unpickle the {label} on the job's side: {exc}"
            ) from exc
        outcome["token"] = spec.get("token", "")
        outcome["job_id"] = spec.get("job_id", "")
        label = job_label(outcome["job_id"], spec.get("task", "?"))
        capture = sink if sink is not None else list_sink(output)
        with JobOutput(capture, job_id=outcome["job_id"], task_name=spec["task"]):
            task = resolve_task(spec, code_dir)
            args, kwargs = load_arguments(spec["arguments"], spec["job_id"], spec["task"])
            value = call_function(task, args, kwargs)
    except Exception as error:
        set_error(outcome, error)
    else:
        try:
            outcome["value"] = pickle_value(value, spec["job_id"], spec["task"])
            outcome["ok"] = True
        except RemoteTaskError as error:
            set_error(outcome, error)
    outcome["ended"] = time.time()
    return outcome


def resolve_task(header: dict[str, Any], code_dir: str) -> Any:
    """The task a call names (:func:`task_header`), its module imported, its options set.

    Warns on stderr if its hash differs from the scheduler's (other code here).
    """
    from redun.task import get_task_registry

    ensure_module(header["module"], header["path"], code_dir)
    task = get_task_registry().require(header["task"])
    if header["options"]:
        task = task.options(**header["options"])
    if header.get("task_hash") and task.hash != header["task_hash"]:
        print(
            f"redun: warning: task {header['task']} has hash {task.hash[:12]} here but "
            f"{header['task_hash'][:12]} in the scheduler; the code package or installed "
            "packages differ",
            file=sys.stderr,
        )
    return task


def load_arguments(arguments: bytes, job_id: str, task_name: str) -> tuple[tuple, dict]:
    """``(args, kwargs)`` of a call, unpickled (after its task's module is imported)."""
    try:
        return pickle.loads(arguments)
    except Exception as exc:
        raise RemoteTaskError(
            type(exc).__name__,
            f"cannot unpickle the arguments of {job_label(job_id, task_name)} on "
            f"the job's side: {exc} (define their classes in a module of the code package "
            "or of a package installed there)",
        ) from exc


def call_function(task: Any, args: tuple, kwargs: dict) -> Any:
    """Run ``task``'s function (or script) on the arguments."""
    if task.script:
        from redun.scripting import run_script_task

        return run_script_task(task, args, kwargs)
    return task.func(*args, **kwargs)


def pickle_value(value: Any, job_id: str, task_name: str) -> bytes:
    """A call's result, pickled.

    Raises:
        RemoteTaskError: it cannot be pickled.
    """
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        label = job_label(job_id, task_name)
        raise RemoteTaskError(
            type(exc).__name__, f"the result of {label} cannot be pickled: {exc}"
        ) from exc


def set_error(outcome: dict[str, Any], error: BaseException) -> None:
    outcome["ok"] = False
    outcome["value"] = None
    cls = type(error)
    if isinstance(error, RemoteTaskError):
        outcome["error_type"] = error.error_type
        outcome["error_message"] = error.error_message
    else:
        outcome["error_type"] = f"{cls.__module__}.{cls.__qualname__}"
        outcome["error_message"] = str(error)
    outcome["traceback"] = format_remote_traceback(error)
    try:
        outcome["error"] = pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        outcome["error"] = None  # rebuilt from its type and message on the other side


def format_remote_traceback(error: BaseException) -> str:
    """The traceback of ``error`` with redun's own frames left out."""
    engine = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    frames = traceback.extract_tb(error.__traceback__)
    user = [
        frame
        for frame in frames
        if not os.path.abspath(frame.filename).startswith(engine + os.sep)
        and not frame.filename.startswith("<frozen")
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(user or frames)]
    lines += traceback.format_exception_only(type(error), error)
    return "".join(lines).rstrip()


# -- outcomes --------------------------------------------------------------------------


def encode_outcome(outcome: dict[str, Any]) -> bytes:
    """An outcome file: kind ``result`` or ``error``."""
    payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    return frame("result" if outcome["ok"] else "error", payload)


def decode_outcome(data: bytes, where: str) -> dict[str, Any]:
    """The outcome in ``data``.

    Raises:
        ProtocolError: the file is not a readable outcome.
    """
    _, payload = unframe(data, ("result", "error"), where)
    try:
        outcome = pickle.loads(payload)
    except Exception as exc:
        raise ProtocolError(f"{where} cannot be read: {exc}") from exc
    if not isinstance(outcome, dict) or "ok" not in outcome:
        raise ProtocolError(f"{where} is not an outcome")
    return outcome


def unpickle_value(data: bytes, label: str) -> Any:
    """A call's pickled result, on the scheduler's side.

    Raises:
        ProtocolError: it cannot be unpickled here.
    """
    try:
        return pickle.loads(data)
    except Exception as exc:
        raise ProtocolError(
            f"the result of {label} cannot be unpickled by the scheduler: {exc}"
        ) from exc


def outcome_value(outcome: dict[str, Any], label: str) -> tuple[bool, Any]:
    """``(True, value)`` or ``(False, error)`` of an outcome, on the scheduler's side.

    A task's error comes back as itself when it can be unpickled here, else as a
    :class:`RemoteTaskError` with its type and message; either carries the remote
    traceback as ``__redun_traceback__`` and is marked not to be retried (it is
    the task's failure, not the platform's).

    Raises:
        ProtocolError: a result that cannot be unpickled here.
    """
    if outcome["ok"]:
        return True, unpickle_value(outcome["value"], label)
    error: BaseException | None = None
    if outcome.get("error") is not None:
        try:
            error = pickle.loads(outcome["error"])
        except Exception:
            error = None
    if not isinstance(error, BaseException):
        error = RemoteTaskError(outcome.get("error_type") or "Exception", outcome["error_message"])
    where = f"on {outcome.get('host') or 'a remote host'}"
    header = f"Task failed remotely: {label} {where}\n"
    text = header + (outcome.get("traceback") or "")
    tail = output_tail(outcome.get("output") or [])
    if tail:
        text += "\n\nOutput of the job (last lines):\n" + tail
    try:
        error.__redun_traceback__ = text  # type: ignore[attr-defined]
        error.__redun_no_retry__ = True  # type: ignore[attr-defined]
    except Exception:  # an exception type with __slots__: wrap it
        wrapped = RemoteTaskError(outcome.get("error_type") or "", outcome["error_message"])
        wrapped.__redun_traceback__ = text  # type: ignore[attr-defined]
        wrapped.__redun_no_retry__ = True  # type: ignore[attr-defined]
        error = wrapped
    return False, error


OUTPUT_TAIL_LINES = 20


def output_tail(output: list[tuple[str, str]], lines: int = OUTPUT_TAIL_LINES) -> str:
    """The last ``lines`` lines of captured output, as text."""
    text = "".join(chunk for _, chunk in output)
    if not text:
        return ""
    kept = text.rstrip("\n").split("\n")[-lines:]
    return "\n".join("  " + line for line in kept)
