"""Resource limits: how much of each resource jobs use, and who waits for what.

A task's ``limits`` option names resources and amounts (``limits=["db"]`` or
``{"db": 2}``); the ``[limits]`` config section gives each resource's capacity
(1 when not configured). A job starts only when every resource it names has
room for it.

A job that does not fit waits in the queue of one resource that is full
(first come, first served). A release looks only at the queues of the
resources it freed, and only at their heads: a job granted there takes its
amounts at once; a head that is now blocked on another resource moves to that
one's queue. So each release costs work in proportion to the jobs it lets
start, not to everything waiting: dispatching 10,000 limited jobs stays
linear (see ``bench/limits.py``).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from redun.errors import UsageError

__all__ = ["Limits", "normalize_limits"]


def normalize_limits(limits: Any) -> dict[str, int]:
    """``{resource: amount}`` from a task's ``limits`` option (a list means 1 each)."""
    if isinstance(limits, dict):
        return {str(key): int(value) for key, value in limits.items()}
    return {str(name): 1 for name in limits}


class Limits:
    """Capacities, what is in use, and a wait queue per resource.

    Args:
        capacities: ``{resource: capacity}`` (resources not named have capacity 1).
        used: the mapping to keep amounts in use in (the scheduler's ``limits_used``).
    """

    def __init__(self, capacities: dict[str, int], used: dict[str, int] | None = None) -> None:
        self.capacities = dict(capacities)
        self.used: dict[str, int] = used if used is not None else {}
        self._queues: dict[str, deque[tuple[Any, dict[str, int]]]] = {}
        self._held: dict[Any, dict[str, int]] = {}
        self._waiting: dict[Any, str] = {}  # job -> the resource whose queue it is in
        self._queued: dict[str, int] = {}  # resource -> how many jobs wait in its queue

    def capacity(self, resource: str) -> int:
        return self.capacities.get(resource, 1)

    @property
    def waiting(self) -> int:
        """How many jobs wait for resources."""
        return len(self._waiting)

    def acquire(self, job: Any, limits: Any) -> bool:
        """Take ``job``'s resources if they all have room; else queue it and return False.

        Raises:
            UsageError: the job asks for more of a resource than its capacity:
                it could never start.
        """
        wanted = normalize_limits(limits)
        for name, amount in wanted.items():
            if amount > self.capacity(name):
                raise UsageError(
                    f"a job of {getattr(getattr(job, 'task', None), 'fullname', job)} asks "
                    f"for {amount} of resource {name!r} whose limit is {self.capacity(name)}; "
                    f"raise it with '[limits] {name} = {amount}' in redun.ini"
                )
        # First come, first served: behind anyone already waiting for one of them.
        blocked = next((name for name in wanted if self._queued.get(name)), None)
        if blocked is None:
            blocked = self._blocked_on(wanted)
        if blocked is None:
            self._take(job, wanted)
            return True
        self._enqueue(blocked, job, wanted)
        return False

    def holders(self) -> list[Any]:
        """The jobs holding resources now."""
        return list(self._held)

    def holds(self, job: Any) -> bool:
        """Whether ``job`` holds its resources (granted while it waited, or acquired)."""
        return job in self._held

    def release(self, job: Any) -> list[Any]:
        """Give back ``job``'s resources; returns the waiting jobs that now hold theirs."""
        held = self._held.pop(job, None)
        if not held:
            return []
        used = self.used
        for name, amount in held.items():
            used[name] -= amount
        granted: list[Any] = []
        todo = list(held)
        while todo:
            name = todo.pop()
            queue = self._queues.get(name)
            while queue:
                waiter, wanted = queue[0]
                if self._waiting.get(waiter) != name:
                    queue.popleft()  # cancelled, or moved on: dropped lazily
                    continue
                blocked = self._blocked_on(wanted)
                if blocked == name:
                    break  # the head still does not fit here: later ones wait behind it
                queue.popleft()
                self._dequeued(waiter)
                if blocked is None:
                    self._take(waiter, wanted)
                    granted.append(waiter)
                else:
                    self._enqueue(blocked, waiter, wanted)  # full: nothing to grant there now
        return granted

    def forget(self, job: Any) -> None:
        """``job`` no longer waits (it was cancelled); it leaves its queue lazily."""
        if job in self._waiting:
            self._dequeued(job)

    def drop_waiters(self) -> None:
        """Forget every waiting job (their run ended); holders keep their resources."""
        self._queues.clear()
        self._waiting.clear()
        self._queued.clear()

    def _blocked_on(self, wanted: dict[str, int]) -> str | None:
        used = self.used
        for name, amount in wanted.items():
            if used.get(name, 0) + amount > self.capacity(name):
                return name
        return None

    def _take(self, job: Any, wanted: dict[str, int]) -> None:
        used = self.used
        for name, amount in wanted.items():
            used[name] = used.get(name, 0) + amount
        self._held[job] = wanted

    def _dequeued(self, job: Any) -> None:
        self._queued[self._waiting.pop(job)] -= 1

    def _enqueue(self, name: str, job: Any, wanted: dict[str, int]) -> None:
        self._waiting[job] = name
        self._queued[name] = self._queued.get(name, 0) + 1
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = deque()
        queue.append((job, wanted))
