"""Re-attach: which calls a platform still runs (or has finished), from an earlier scheduler."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from redun.executors.remote.backend import FoundJob, parse_name
from redun.executors.remote.protocol import decode_calls
from redun.executors.remote.scratch import Scratch, is_array_key
from redun.executors.remote.states import Observation, Phase

logger = logging.getLogger("redun.remote")


@dataclass(frozen=True)
class Adoptable:
    """A call found in a platform job: the job, the call's element, and its submission."""

    found: FoundJob
    index: int
    token: str
    key: str

    @property
    def array(self) -> bool:
        return is_array_key(self.key)

    @property
    def observed(self) -> Observation:
        return self.found.report.element(self.index, self.array)


def index_calls(found_jobs: Iterable[FoundJob], scratch: Scratch) -> dict[str, Adoptable]:
    """Call id -> where it runs (or ran), for the jobs a back end found.

    A job is matched to its calls through its name (``redun-<key>-<token>``)
    and the call list of that key in the scratch; a call list rewritten by a
    later submission (another token) no longer belongs to it. When two jobs
    ran the same call, one in flight wins over one that succeeded, which wins
    over one that failed.
    """
    by_call: dict[str, Adoptable] = {}
    for found in found_jobs:
        parsed = parse_name(found.name)
        if parsed is None:
            continue
        key, token_prefix = parsed
        url = scratch.calls_url(key)
        try:
            data = scratch.read(url)
            if data is None:
                continue
            calls = decode_calls(data, url)
        except Exception as error:
            logger.warning("cannot re-attach %s: %s", found.name, error)
            continue
        token = calls.get("token", "")
        if not token.startswith(token_prefix):
            continue
        for index, call_id in enumerate(calls.get("call_ids", [])):
            entry = Adoptable(found, index, token, key)
            previous = by_call.get(call_id)
            if previous is None or _rank(entry.observed.phase) > _rank(previous.observed.phase):
                by_call[call_id] = entry
    return by_call


def _rank(phase: Phase) -> int:
    if not phase.is_final:
        return 2
    return 1 if phase is Phase.SUCCEEDED else 0
