"""Reading a call's outcome back from the scratch."""

from __future__ import annotations

from typing import Any

from redun.executors.remote.errors import ProtocolError
from redun.executors.remote.protocol import decode_outcome
from redun.executors.remote.scratch import Scratch


def read_outcome(
    scratch: Scratch, call_id: str, label: str, token: str
) -> tuple[dict[str, Any] | None, ProtocolError | None]:
    """The outcome of ``call_id`` written for ``token`` (its result, else its error), or why not.

    Returns ``(outcome, None)``, ``(None, None)`` when there is none (an
    outcome another submission of the same call wrote does not count), or
    ``(None, problem)`` when one is there but unusable (truncated, another
    protocol version, unreadable).
    """
    for url in (scratch.result_url(call_id), scratch.error_url(call_id)):
        where = f"the outcome of {label} ({url})"
        try:
            data = scratch.read(url)
            if data is None:
                continue
            outcome = decode_outcome(data, where)
        except ProtocolError as problem:
            return None, problem
        except Exception as error:
            failure = ProtocolError(f"cannot read {where}: {error}")
            failure.__cause__ = error
            return None, failure
        if token and outcome.get("token") != token:
            continue
        return outcome, None
    return None, None
