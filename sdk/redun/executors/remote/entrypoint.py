"""``redun oneshot``: run one call (or one array element) from the scratch, as a remote job does.

    redun oneshot --scratch ROOT [--code URL] [--array-index N] KEY

``KEY`` is a lone job's call id or an array's ``a-<token>``. For an array the
element comes from ``--array-index``, else the variable named by
``--array-rank-env``, else ``AWS_BATCH_JOB_ARRAY_INDEX`` (AWS Batch) or
``BATCH_TASK_INDEX`` (GCP Batch). The code package is unpacked into the
working directory (``--code-dir``), which goes first on ``sys.path``.

Exit status: 0 the task returned (its result is in the scratch); 1 the task
raised (its error and traceback are in the scratch); 2 bad usage (no index
for an array, unknown key); 3 the call cannot be used (missing, truncated,
another protocol version); 4 the outcome could not be written.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from typing import Any

from redun.errors import RedunError
from redun.executors.remote.package import unpack
from redun.executors.remote.protocol import (
    decode_calls,
    decode_outcome,
    encode_outcome,
    run_call,
)
from redun.executors.remote.scratch import Scratch, is_array_key

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PROTOCOL, EXIT_WRITE = 0, 1, 2, 3, 4

INDEX_VARIABLES = ("AWS_BATCH_JOB_ARRAY_INDEX", "BATCH_TASK_INDEX")
"""Where AWS Batch and GCP Batch put an array element's index."""


def array_index(args: argparse.Namespace, environ: Any = os.environ) -> int | None:
    """The element index: the flag, else the named variable, else the platforms' variables."""
    if args.array_index is not None:
        return int(args.array_index)
    names = (args.array_rank_env,) if args.array_rank_env else INDEX_VARIABLES
    for name in names:
        value = environ.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                raise RedunError(f"{name}={value!r} is not an array index") from None
    return None


def _say(message: str) -> None:
    print(f"redun oneshot: {message}", file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    """Run the call; see the module's docstring for the exit status."""
    scratch = Scratch(args.scratch)
    key = args.key
    url = scratch.calls_url(key)
    try:
        data = scratch.read(url)
    except RedunError as error:
        _say(str(error))
        return EXIT_PROTOCOL
    if data is None:
        _say(f"no call list at {url}; is --scratch right?")
        return EXIT_USAGE
    try:
        calls = decode_calls(data, f"call list {url}")
    except RedunError as error:
        _say(str(error))
        return EXIT_PROTOCOL
    index = 0
    if is_array_key(key):
        try:
            found = array_index(args)
        except RedunError as error:
            _say(str(error))
            return EXIT_USAGE
        if found is None:
            _say(
                f"{key} is an array job: give --array-index or set one of "
                f"{', '.join(INDEX_VARIABLES)}"
            )
            return EXIT_USAGE
        index = found
    call_ids = calls.get("call_ids", [])
    if not 0 <= index < len(call_ids):
        _say(f"array index {index} is out of range (the array has {len(call_ids)} elements)")
        return EXIT_USAGE
    call_id, token = call_ids[index], calls.get("token", "")
    if not args.no_cache and _already_done(scratch, call_id, token):
        _say(f"the result of call {call_id[:12]} is already in the scratch")
        return EXIT_OK

    started = time.time()
    _write_status(scratch, call_id, {"state": "running", "token": token, "started": started})
    code_dir = os.path.abspath(args.code_dir)
    try:
        if args.code:
            package = _read_url(args.code)
            if package is None:
                _say(f"no code package at {args.code}")
                return EXIT_PROTOCOL
            os.makedirs(code_dir, exist_ok=True)
            unpack(package, code_dir)
    except RedunError as error:
        _say(str(error))
        return EXIT_PROTOCOL
    for path in reversed([code_dir, *map(os.path.abspath, args.import_path)]):
        if path not in sys.path:
            sys.path.insert(0, path)

    outcome = run_call(calls["calls"][index], code_dir=code_dir, call_id=call_id)
    outcome["token"] = outcome.get("token") or token
    ok = bool(outcome["ok"])
    written, other = (
        (scratch.result_url(call_id), scratch.error_url(call_id))
        if ok
        else (scratch.error_url(call_id), scratch.result_url(call_id))
    )
    try:
        scratch.write(written, encode_outcome(outcome))
        scratch.remove(other)  # a stale outcome of an earlier attempt would only mislead
    except Exception as error:
        _say(f"cannot write the outcome to {written}: {error}")
        return EXIT_WRITE
    _write_status(
        scratch,
        call_id,
        {
            "state": "done" if ok else "failed",
            "token": token,
            "started": started,
            "ended": time.time(),
        },
    )
    if not ok:
        _say(f"the task failed:\n{outcome['traceback']}")
        return EXIT_FAILED
    return EXIT_OK


def _read_url(url: str) -> bytes | None:
    from redun.file.filesystem import RedunFileNotFoundError, get_filesystem

    try:
        with get_filesystem(url).open(url, "rb") as infile:
            return infile.read()
    except RedunFileNotFoundError:
        return None


def _already_done(scratch: Scratch, call_id: str, token: str) -> bool:
    url = scratch.result_url(call_id)
    try:
        data = scratch.read(url)
        return data is not None and decode_outcome(data, url).get("token") == token
    except RedunError:
        return False


def _write_status(scratch: Scratch, call_id: str, status: dict[str, Any]) -> None:
    status = {**status, "host": socket.gethostname(), "pid": os.getpid()}
    try:
        scratch.write(scratch.status_url(call_id), json.dumps(status).encode())
    except Exception as error:  # informational only: never fail the job for it
        _say(f"cannot write the status of call {call_id[:12]}: {error}")
