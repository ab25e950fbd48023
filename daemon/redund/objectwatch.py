"""The I/O shell of :mod:`redund.polling`: watches' ``s3://`` and ``gs://`` inputs, polled.

Object stores send no change notifications a daemon could simply receive,
so the URLs a watched run read are polled: :class:`ObjectWatcher` keeps a
:class:`~redund.polling.Poller` on the daemon's event loop, wakes at its
deadline, sends the round's requests from worker threads (the real clients,
in their fail-fast form: the poller backs off on its own) and hands the
fingerprints that changed to ``deliver``, as the file watcher does for local
files. Rounds and measurements take turns, so what the reactor learns from
one never overtakes the other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redund.polling import (
    DEFAULT_INTERVAL,
    DEFAULT_MAX_INTERVAL,
    Answer,
    Failed,
    Fingerprint,
    Head,
    Listing,
    Observation,
    Poller,
    Request,
    Round,
)

log = logging.getLogger("redund")

REMOTE_SCHEMES = ("s3", "gs")
WORKERS = 8  # requests of one round in flight at once

Fetch = Callable[[list[Request]], dict[Request, Answer]]
Deliver = Callable[[dict[str, Fingerprint]], None]


def poll_settings(config: Any) -> tuple[float, float]:
    """``[watch] poll_interval`` and ``poll_max_interval`` of a redun config (seconds).

    Raises:
        StartError: a value that is not a number of seconds > 0.
    """
    from redund.errors import StartError

    section = config.get("watch") or {}
    values = []
    for option, default in (
        ("poll_interval", DEFAULT_INTERVAL),
        ("poll_max_interval", DEFAULT_MAX_INTERVAL),
    ):
        text = section.get(option)
        try:
            value = default if text in (None, "") else float(text)
            if not value > 0 or value == float("inf"):
                raise ValueError
        except ValueError:
            raise StartError(
                f"redun.ini [watch] {option} must be a number of seconds > 0, got {text!r}"
            ) from None
        values.append(value)
    return values[0], max(values)


def is_remote(path: str) -> bool:
    """Whether ``path`` is a URL of an object store the daemon polls."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.lower() in REMOTE_SCHEMES


class StoreFetcher:
    """Answers poll requests through redun's object-store file systems (quick clients)."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="redund-poll")
        self._stores: dict[str, Any] = {}

    def _store(self, url: str) -> Any:
        scheme = url.partition("://")[0].lower()
        store = self._stores.get(scheme)
        if store is None:
            if scheme == "s3":
                from redun.file.s3 import S3FileSystem

                store = S3FileSystem(quick=True)
            else:
                from redun.file.gcs import GCSFileSystem

                store = GCSFileSystem(quick=True)
            store = self._stores.setdefault(scheme, store)
        return store

    def __call__(self, requests: list[Request]) -> dict[Request, Answer]:
        return dict(zip(requests, self._pool.map(self._one, requests)))

    def _one(self, request: Request) -> Answer:
        from redun.errors import FileError
        from redun.file.objectstore import RedunThrottledError

        try:
            store = self._store(request.url)
            if isinstance(request, Head):
                return store.head(request.url, "watch")
            objects, prefixes = store.list_objects(
                request.url, delimiter=request.delimiter, action="watch"
            )
            return Listing(tuple(objects), tuple(prefixes))
        except RedunThrottledError as error:
            return Failed(str(error), throttled=True)
        except FileError as error:
            return Failed(str(error))
        except Exception as error:  # an SDK error no translation knew
            return Failed(f"cannot watch {request.url!r}: {type(error).__name__}: {error}")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ObjectWatcher:
    """Polls a set of object-store URLs; calls ``deliver`` (on the loop) with what changed.

    Args:
        deliver: receives ``{url: fingerprint}`` of the URLs that changed.
        interval: seconds between polls of a URL without an interval of its own.
        max_interval: the longest wait when the store throttles or fails.
        clock: monotonic seconds.
        fetch: sends a round's requests (blocking; run in a worker thread).
    """

    def __init__(
        self,
        deliver: Deliver,
        *,
        interval: float = DEFAULT_INTERVAL,
        max_interval: float = DEFAULT_MAX_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        fetch: Fetch | None = None,
    ) -> None:
        self.deliver = deliver
        self.clock = clock
        self.poller = Poller(interval=interval, max_interval=max(max_interval, interval))
        self._fetcher = StoreFetcher() if fetch is None else None
        self.fetch: Fetch = fetch or self._fetcher  # type: ignore[assignment]
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._failing = ""  # the message of the failure last logged

    def start(self) -> None:
        """Start polling (call on the loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="redund-poll")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._fetcher is not None:
            self._fetcher.close()

    def set_paths(self, urls: Mapping[str, float | None] | Iterable[str]) -> None:
        """Follow exactly ``urls`` (with their own intervals, or None for the default)."""
        self.poller.set_paths(urls, self.clock())
        self._wake.set()

    async def measure(self, urls: Iterable[str]) -> dict[str, Observation]:
        """Fingerprint ``urls`` now; later rounds report changes from these."""
        async with self._lock:
            round = self.poller.begin(urls)
            await self._exchange(round)
            found = self.poller.measured(round, self.clock())
        self._wake.set()  # the schedule moved
        return found

    def probe(self, urls: Iterable[str]) -> dict[str, Observation]:
        """Fingerprint ``urls`` now, blocking, outside the schedule (call from a thread)."""
        round = Poller().begin(urls)
        requests = round.requests
        while requests:
            requests = round.answer(self.fetch(requests))
        return dict(round.observations)

    async def _exchange(self, round: Round) -> None:
        requests = round.requests
        while requests:
            answers = await asyncio.to_thread(self.fetch, requests)
            requests = round.answer(answers)

    async def _run(self) -> None:
        while True:
            deadline = self.poller.deadline()
            timeout = None if deadline is None else max(0.0, deadline - self.clock())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            async with self._lock:
                urls = self.poller.due(self.clock())
                if not urls:
                    continue
                round = self.poller.begin(urls)
                try:
                    await self._exchange(round)
                except Exception as error:  # the fetcher itself broke: a failed round
                    round.failures.append(Failed(f"{type(error).__name__}: {error}"))
                changes = self.poller.finish(round, self.clock())
                self._log(round)
                if changes:
                    self.deliver(changes)

    def _log(self, round: Round) -> None:
        if not round.failures:
            if self._failing:
                log.info("watches: polling object stores works again")
                self._failing = ""
            return
        message = round.failures[0].message
        wait = min(self.poller.interval * self.poller.backoff, self.poller.max_interval)
        if message != self._failing:
            log.warning(
                "watches: polling %d object-store URL(s) failed (%s); next try in %.0f s",
                len(round.urls),
                message,
                wait,
            )
            self._failing = message
