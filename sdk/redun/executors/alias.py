"""``type = alias``: another name for an executor, as in insitro/redun.

```ini
[executors.batch]
type = alias
target = default
```

Tasks written for ``executor="batch"`` then run on ``default`` (on a laptop, say,
while the team's config points ``batch`` at AWS Batch). The scheduler resolves an
alias when it first needs it: the alias's jobs go to the target executor itself,
which is shared with the target's own jobs. :class:`AliasExecutor` is also usable
directly, as in redun: ``AliasExecutor("batch", scheduler, {"target": "default"})``
or ``AliasExecutor("batch", scheduler, target=executor)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.errors import ExecutorError, ExecutorNotConfigured
from redun.executors.base import Executor

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job


class AliasExecutor(Executor):
    """Hands every job to another executor (``target``: its name in ``config``, or
    the executor itself)."""

    def __init__(
        self,
        name: str,
        scheduler: Scheduler | None = None,
        config: Any = None,
        target: Executor | None = None,
    ) -> None:
        if (config is None) == (target is None):
            raise AssertionError("Exactly one of `target` or `config` should be provided")
        super().__init__(name, scheduler, config)
        self._target = target
        self.target_name: str = target.name if target is not None else target_name_of(name, config)

    @property
    def target(self) -> Executor:
        """The executor jobs go to (looked up by name on first use)."""
        if self._target is None:
            scheduler = self.scheduler
            found = scheduler.executors.get(self.target_name)
            if found is None:
                try:
                    found = scheduler.get_executor(self.target_name)
                except ExecutorNotConfigured:
                    raise ExecutorError(
                        f"Could not find executor `{self.target_name}` from options "
                        f"(executor {self.name!r} is an alias of it)"
                    ) from None
            self._target = found
        return self._target

    @property
    def reports_start(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.target, "reports_start", False))

    def submit(self, job: Job) -> None:
        self.target.submit(job)

    def submit_script(self, job: Job) -> None:
        self.target.submit_script(job)

    def submit_batch(self, jobs: list[Job]) -> None:
        self.target.submit_batch(jobs)

    def supports_async(self) -> bool:
        return self.target.supports_async()

    def runs_inline(self, job: Job) -> bool:
        return self.target.runs_inline(job)

    def run_inline(self, job: Job) -> None:
        self.target.run_inline(job)

    def cancel(self, job: Job) -> None:
        self.target.cancel(job)

    def cancel_batch(self, jobs: list[Job]) -> None:
        self.target.cancel_batch(jobs)


def target_name_of(name: str, config: Any) -> str:
    """The ``target`` of an alias's section, or a UsageError naming the section."""
    from redun.errors import UsageError

    target = (config or {}).get("target")
    if not target or not str(target).strip():
        raise UsageError(
            f"[executors.{name}] type = alias needs target = NAME (the executor it stands for)"
        )
    return str(target).strip()
