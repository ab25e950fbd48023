"""The watch registry: which RunSpecs the daemon keeps up to date, and what each depends on.

A watch is (workflow file, task, arguments, options). The registry keeps the
watches (persisted in the home, so they survive a restart), the latest run
of each, and the paths that run depended on, as the runner reported them:
the user's source files it imported and the local files its tasks read or
wrote as ``File``/``Dir`` values.

Observing those paths and re-running on a change is :mod:`redund.observer`
(with its pure core :mod:`redund.reactor`): it subscribes with
:meth:`WatchRegistry.add_listener` to learn when a watch's run starts or ends
(with its new path set) and when a watch goes, and starts runs with
``RunManager.submit(spec, watch_id=..., reject_load_errors=False)`` so a save
that breaks the workflow becomes a failed run instead of an error.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redun.scheduler.job import new_id
from redund.errors import NotFoundError
from redund.model import ExecutionRecord, RunSpec

log = logging.getLogger("redund")

WATCHES_FILE = "redund-watches.json"

Listener = Callable[["Watch"], object]


@dataclass(slots=True)
class Watch:
    """One watch and what its latest run depended on."""

    id: str
    spec: RunSpec
    create_time: float = field(default_factory=time.time)
    last_execution_id: str = ""
    last_status: str = ""
    last_trigger_time: float = 0.0
    paths: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # the paths its runs wrote

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "spec": self.spec.to_dict(),
            "create_time": self.create_time,
            "last_execution_id": self.last_execution_id,
            "last_status": self.last_status,
            "last_trigger_time": self.last_trigger_time,
            "paths": self.paths,
            "outputs": self.outputs,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Watch:
        return cls(
            id=data["id"],
            spec=RunSpec.from_dict(data["spec"]),
            create_time=float(data.get("create_time") or 0.0),
            last_execution_id=data.get("last_execution_id", ""),
            last_status=data.get("last_status", ""),
            last_trigger_time=float(data.get("last_trigger_time") or 0.0),
            paths=list(data.get("paths") or []),
            outputs=list(data.get("outputs") or []),
        )


class WatchRegistry:
    """The watches of one home.

    Args:
        home: the redun home; the watches live in ``home/redund-watches.json``.
    """

    def __init__(self, home: str) -> None:
        self.path = os.path.join(home, WATCHES_FILE)
        self.watches: dict[str, Watch] = {}
        self._listeners: list[Listener] = []
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                items = json.load(handle)
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            log.exception("cannot read the watches in %s; starting with none", self.path)
            return
        for item in items:
            try:
                watch = Watch.from_dict(item)
            except (KeyError, TypeError):
                continue
            self.watches[watch.id] = watch

    def save(self) -> None:
        temp = f"{self.path}.tmp"
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump([watch.to_dict() for watch in self.watches.values()], handle, indent=1)
        os.replace(temp, self.path)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(watch)`` when a watch's run starts or ends, and when it is removed."""
        self._listeners.append(listener)

    def find(self, spec: RunSpec) -> Watch | None:
        """The watch already registered for exactly this spec, if any."""
        wanted = spec.to_dict()
        for watch in self.watches.values():
            if watch.spec.to_dict() == wanted:
                return watch
        return None

    def add(self, spec: RunSpec) -> Watch:
        watch = Watch(new_id(), spec)
        self.watches[watch.id] = watch
        self.save()
        return watch

    def get(self, watch_id: str) -> Watch:
        watch = self.watches.get(watch_id)
        if watch is None:
            raise NotFoundError(f"no watch {watch_id!r}")
        return watch

    def remove(self, watch_id: str) -> Watch:
        watch = self.get(watch_id)
        del self.watches[watch_id]
        self.save()
        self._notify(watch)
        return watch

    def __len__(self) -> int:
        return len(self.watches)

    def run_started(self, watch_id: str, execution_id: str, *, triggered: bool = False) -> None:
        watch = self.watches.get(watch_id)
        if watch is None:
            return
        watch.last_execution_id = execution_id
        watch.last_status = "running"
        if triggered:
            watch.last_trigger_time = time.time()
        self.save()
        self._notify(watch)

    def run_finished(self, record: ExecutionRecord) -> None:
        """An ``on_finished`` listener of the RunManager: note the run's status and paths."""
        watch = self.watches.get(record.watch_id) if record.watch_id else None
        if watch is None:
            return
        if watch.last_execution_id == record.id:
            watch.last_status = record.status.value
        deps = record.dependencies or {}
        paths = set(deps.get("modules", [])) | set(deps.get("files", []))
        outputs = set(deps.get("outputs", []))
        if record.status.value != "done":
            # a run that broke early reports less than it needs: keep watching the rest too
            paths |= set(watch.paths)
            outputs |= set(watch.outputs)
        watch.paths = sorted(paths | {record.spec.workflow_path})
        watch.outputs = sorted(outputs & paths)
        self.save()
        self._notify(watch)

    def _notify(self, watch: Watch) -> None:
        for listener in list(self._listeners):
            try:
                listener(watch)
            except Exception:
                log.exception("a watch listener failed")
