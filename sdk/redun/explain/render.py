"""An :class:`~redun.explain.model.Explanation` as lines of text."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redun.explain.model import Explanation

__all__ = ["format_explanation"]


def format_explanation(explanation: Explanation, indent: str = "") -> str:
    """Several lines of text: the summary, the call compared with, then one line per change."""
    head = f"{explanation.call or explanation.task_name}"
    if explanation.job_id:
        head = f"Job {explanation.job_id[:8]} {head}"
    lines = [f"{indent}{head}: {explanation.outcome}", f"{indent}  {explanation.summary}"]
    if explanation.previous is not None:
        where = f"call {explanation.previous.call_hash[:8]}"
        if explanation.previous.job_id:
            where += f" (job {explanation.previous.job_id[:8]}"
            if explanation.previous.execution_id:
                where += f", execution {explanation.previous.execution_id[:8]}"
            where += ")"
        if explanation.previous.time:
            where += f" at {_when(explanation.previous.time)}"
        lines.append(f"{indent}  compared with {where}")
    for change in explanation.changes:
        lines.append(f"{indent}  - {change.message}")
    return "\n".join(lines)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))
