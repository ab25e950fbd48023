"""The results: an :class:`Explanation` of a job, its :class:`Change` list and the
:class:`PreviousCall` compared with; and the :class:`Subject` explained."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from redun.explain.render import format_explanation

__all__ = ["Change", "Explanation", "PreviousCall", "Subject"]


@dataclass
class Change:
    """One difference from the earlier call.

    Attributes:
        kind: ``code``, ``argument``, ``file``, ``version`` or ``validity``.
        name: the code part label (``helper:wf.tokenize``), argument name or file path.
        before: the earlier value (a digest, preview, or version), if any.
        after: the current one, if any.
        message: the difference in words.
    """

    kind: str
    name: str
    before: str | None
    after: str | None
    message: str


@dataclass
class PreviousCall:
    """The earlier call a job is compared with."""

    call_hash: str
    task_hash: str
    time: float | None
    job_id: str | None = None
    execution_id: str | None = None


@dataclass
class Explanation:
    """Why a job ran or hit the cache.

    Attributes:
        task_name: the task's full name.
        outcome: ``cached``, ``ran``, ``failed``, ``would run`` (dry run) or the job's state.
        summary: one sentence.
        job_id: the job explained, when it is recorded.
        reason: the reason the scheduler recorded.
        previous: the closest earlier call, if there is one.
        changes: what differs from it.
    """

    task_name: str
    outcome: str
    summary: str
    job_id: str | None = None
    reason: str | None = None
    previous: PreviousCall | None = None
    changes: list[Change] = field(default_factory=list)
    call: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self, indent: str = "") -> str:
        """Several lines of text: the summary, then one line per change."""
        return format_explanation(self, indent)

    def __str__(self) -> str:
        return self.format()


@dataclass
class Subject:
    """What is explained, from a recorded job or a live one."""

    task_name: str
    task_hash: str
    eval_hash: str
    arg_hashes: dict[str, str]
    state: str
    cached: bool
    reason: str
    code_parts: dict[str, str] | None = None  # None: read from the recorded task
    version: str | None = None
    call_hash: str | None = None
    job_id: str | None = None
    before: float | None = None
    live_args: dict[str, Any] | None = None
    call_text: str = ""
