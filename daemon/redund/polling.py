"""Polling object stores for watches: which requests to make, and what their answers mean.

The pure core of :mod:`redund.objectwatch`: no client, no thread, no clock
of its own (each call is given ``now``), so tests drive it with recorded
answers and a fake clock.

A watched URL is an object (``s3://b/data.csv``) or a directory, a prefix
(``gs://b/inputs/``, as the runner reports a ``Dir``). A URL without the
trailing ``/`` whose object is missing is looked for as a directory, and
what it turned out to be is remembered for the next round.

**A round** covers the URLs that are due. :meth:`Poller.begin` plans its
requests, as few as it can: one listing per watched directory answers every
watched object below it too; objects that share a parent are answered by
one delimited listing of that parent (unless the parent holds so many other
objects that its listing costs more pages than the HEADs it saves); the rest
get one HEAD each (the shell sends them concurrently). :meth:`Round.answer`
takes the answers and may ask for follow-ups (a missing object that may be a
directory now). :meth:`Poller.finish` returns the fingerprints that changed
since the previous round; the first sighting of a URL is its baseline and
changes nothing, unless :meth:`Poller.seed` (the reactor's measurement)
supplied one.

**Timing.** Each URL is polled every ``interval`` seconds (its own, or the
poller's). A round that fails (the store says slow down, refuses, or cannot
be reached) keeps the URLs' last fingerprints and doubles the wait of the
whole poller, up to ``max_interval``; the first round that succeeds goes
back to the interval.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

DEFAULT_INTERVAL = 10.0  # seconds between polls of one URL
DEFAULT_MAX_INTERVAL = 300.0  # the longest wait of a backed-off poller
LIST_MIN = 3  # this many watched siblings are answered by one listing of their parent
PAGE_SIZE = 1000  # objects per listing page (S3 and GCS)
ALIGN = 0.25  # URLs due within this fraction of their interval join a round
MAX_BACKOFF = 1024.0  # the longest wait is max_interval anyway

Fingerprint = object  # ("object", token), ("dir", digest, count), or None (nothing there)


class ObjectLike(Protocol):
    """What a HEAD or listing says of one object (``redun.file.ObjectInfo``)."""

    @property
    def url(self) -> str: ...

    @property
    def mtime_ns(self) -> int: ...

    @property
    def token(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Observation:
    """What a URL looked like: its fingerprint, and its newest modification time."""

    fingerprint: Fingerprint
    mtime_ns: int = 0


MISSING = Observation(None)


# -- requests and answers --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Head:
    """The metadata of one object."""

    url: str


@dataclass(frozen=True, slots=True)
class List:
    """The objects below a prefix URL (ending in ``/``); one level only with ``delimiter``."""

    url: str
    delimiter: bool = False


Request = Head | List


@dataclass(frozen=True, slots=True)
class Listing:
    """The answer to a :class:`List`: objects, and (delimited) the sub-prefix URLs."""

    objects: tuple[ObjectLike, ...] = ()
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Failed:
    """A request that failed; ``throttled`` if the store asked to slow down."""

    message: str
    throttled: bool = False


Answer = ObjectLike | None | Listing | Failed


def is_dir_url(url: str) -> bool:
    return url.endswith("/")


def parent_of(url: str) -> str:
    """The prefix URL of the "directory" holding ``url`` (``s3://b/x/`` for ``s3://b/x/y``)."""
    scheme, _, rest = url.partition("://")
    head, sep, _ = rest.rstrip("/").rpartition("/")
    return f"{scheme}://{head}/" if sep else f"{scheme}://{rest.split('/', 1)[0]}/"


def object_fingerprint(obj: ObjectLike) -> Observation:
    return Observation(("object", obj.token), obj.mtime_ns)


def dir_fingerprint(objects: Iterable[ObjectLike]) -> Observation:
    """A directory: the URL and token of every object below it (markers ``dir/`` aside)."""
    digest = hashlib.blake2b(digest_size=16)
    count = newest = 0
    for obj in sorted((o for o in objects if not o.url.endswith("/")), key=lambda o: o.url):
        digest.update(f"{obj.url}\0{obj.token}\n".encode())
        count += 1
        newest = max(newest, obj.mtime_ns)
    if not count:
        return MISSING
    return Observation(("dir", digest.hexdigest(), count), newest)


# -- a round ------------------------------------------------------------------------------
@dataclass
class Round:
    """The requests of one round and what their answers say of each URL."""

    urls: tuple[str, ...]
    requests: list[Request]
    kinds: dict[str, str]  # url -> "object" | "dir", as planned
    covers: dict[Request, list[str]]  # the URLs each request answers
    observations: dict[str, Observation] = field(default_factory=dict)
    failures: list[Failed] = field(default_factory=list)
    learnt: dict[str, str] = field(default_factory=dict)  # url -> kind found
    crowded: set[str] = field(default_factory=set)  # parents whose listing costs too much
    _asked: set[Request] = field(default_factory=set)

    @property
    def throttled(self) -> bool:
        return any(failure.throttled for failure in self.failures)

    def answer(self, answers: Mapping[Request, Answer]) -> list[Request]:
        """Take the answers to :attr:`requests`; return the follow-ups to send (if any)."""
        follow: dict[Request, list[str]] = {}
        for request, answer in answers.items():
            self._asked.add(request)
            covered = self.covers.get(request, [])
            if isinstance(answer, Failed):
                self.failures.append(answer)
                continue
            if isinstance(request, Head):
                self._head(request, answer, covered, follow)
            else:
                assert isinstance(answer, Listing)
                self._listing(request, answer, covered, follow)
        asked = [r for r in follow if r not in self._asked]
        for request in asked:
            self.covers[request] = follow[request]
        self.requests = asked
        return asked

    def _head(self, request: Head, answer: Answer, covered: list[str], follow: dict) -> None:
        for url in covered:
            if answer is not None:
                self.observations[url] = object_fingerprint(answer)  # type: ignore[arg-type]
                self.learnt[url] = "object"
            elif self.kinds.get(url) == "object" and not is_dir_url(url):
                follow.setdefault(List(url + "/"), []).append(url)  # a directory now?
            else:  # planned as a directory, whose listing was empty: nothing at all
                self.observations[url] = MISSING

    def _listing(self, request: List, answer: Listing, covered: list[str], follow: dict) -> None:
        if request.delimiter:  # siblings: each is an object here, a sub-prefix, or missing
            by_url = {obj.url: obj for obj in answer.objects}
            prefixes = set(answer.prefixes)
            for url in covered:
                if url in by_url:
                    self.observations[url] = object_fingerprint(by_url[url])
                    self.learnt[url] = "object"
                elif url + "/" in prefixes:
                    follow.setdefault(List(url + "/"), []).append(url)
                else:
                    self.observations[url] = MISSING
            if math.ceil(len(answer.objects) / PAGE_SIZE) > len(covered):
                self.crowded.add(request.url)
            return
        below = [obj for obj in answer.objects if obj.url.startswith(request.url)]
        by_url = {obj.url: obj for obj in below}
        for url in covered:
            if is_dir_url(url) or url + "/" == request.url:
                root = url if is_dir_url(url) else url + "/"
                seen = dir_fingerprint(o for o in below if o.url.startswith(root))
                if seen is MISSING and not is_dir_url(url) and self.kinds.get(url) == "dir":
                    follow.setdefault(Head(url), []).append(url)  # an object now?
                    continue
                self.observations[url] = seen
                if seen is not MISSING and not is_dir_url(url):
                    self.learnt[url] = "dir"
            else:  # an object below a watched directory
                match = by_url.get(url)
                if match is not None:
                    self.observations[url] = object_fingerprint(match)
                elif any(o.url.startswith(url + "/") for o in below):
                    self.observations[url] = dir_fingerprint(
                        o for o in below if o.url.startswith(url + "/")
                    )
                else:
                    self.observations[url] = MISSING


# -- the poller -------------------------------------------------------------------------------
class Poller:
    """Which watched URLs to poll when, and what changed (see the module docstring).

    Args:
        interval: seconds between polls of a URL without its own interval.
        max_interval: the longest wait after failed rounds.
        list_min: siblings answered by one listing of their parent.
    """

    def __init__(
        self,
        *,
        interval: float = DEFAULT_INTERVAL,
        max_interval: float = DEFAULT_MAX_INTERVAL,
        list_min: int = LIST_MIN,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"the poll interval must be > 0 seconds, got {interval!r}")
        if max_interval < interval:
            raise ValueError(
                f"the longest poll interval ({max_interval}) is shorter than the interval "
                f"({interval})"
            )
        self.interval = interval
        self.max_interval = max_interval
        self.list_min = max(2, list_min)
        self.intervals: dict[str, float] = {}  # url -> its interval
        self.next_due: dict[str, float] = {}
        self.seen: dict[str, Observation] = {}  # url -> last observation
        self.kinds: dict[str, str] = {}  # url -> "object" | "dir", as last found
        self.crowded: set[str] = set()  # parent prefixes not worth listing
        self.backoff = 1.0  # multiplies intervals after failed rounds

    # -- what to follow ----------------------------------------------------------------
    def set_paths(self, urls: Mapping[str, float | None] | Iterable[str], now: float) -> None:
        """Follow exactly ``urls`` (each with its own interval, or None for the default)."""
        wanted = dict(urls) if isinstance(urls, Mapping) else dict.fromkeys(urls)
        for url in list(self.intervals):
            if url not in wanted:
                del self.intervals[url]
                self.next_due.pop(url, None)
                self.seen.pop(url, None)
                self.kinds.pop(url, None)
        for url, interval in wanted.items():
            self.intervals[url] = interval if interval and interval > 0 else self.interval
            if url not in self.next_due:  # new: a baseline at once, unless measured already
                self.next_due[url] = now + self._wait(url) if url in self.seen else now

    def seed(self, observations: Mapping[str, Observation], now: float) -> None:
        """Record fingerprints measured elsewhere (the reactor's baseline) as last seen."""
        for url, seen in observations.items():
            self.seen[url] = seen
            if url in self.intervals:
                self.next_due[url] = now + self._wait(url)

    def _wait(self, url: str) -> float:
        return min(self.intervals.get(url, self.interval) * self.backoff, self.max_interval)

    # -- when --------------------------------------------------------------------------------
    def deadline(self) -> float | None:
        """When the next URL is due (None: nothing is followed)."""
        return min(self.next_due.values()) if self.next_due else None

    def due(self, now: float) -> list[str]:
        """The URLs to poll now: those due, and those nearly due (one round, not many)."""
        if not any(when <= now for when in self.next_due.values()):
            return []
        return sorted(
            url
            for url, when in self.next_due.items()
            if when <= now + ALIGN * self.intervals.get(url, self.interval)
        )

    # -- a round ----------------------------------------------------------------------------
    def begin(self, urls: Iterable[str]) -> Round:
        """Plan the requests that answer ``urls`` (any URLs: due or to measure)."""
        urls = tuple(dict.fromkeys(urls))
        kinds = {url: self._kind(url) for url in urls}
        covers: dict[Request, list[str]] = {}
        dirs = sorted(
            {url if is_dir_url(url) else url + "/" for url in urls if kinds[url] == "dir"}
        )
        for root in dirs:
            covers[List(root)] = []
        objects: dict[str, list[str]] = {}
        for url in urls:
            if kinds[url] == "dir":
                covers[List(url if is_dir_url(url) else url + "/")].append(url)
                continue
            under = next((d for d in dirs if url.startswith(d)), None)
            if under is not None:  # the directory's listing answers it
                covers[List(under)].append(url)
                continue
            objects.setdefault(parent_of(url), []).append(url)
        for parent, siblings in sorted(objects.items()):
            if len(siblings) >= self.list_min and parent not in self.crowded:
                covers[List(parent, delimiter=True)] = siblings
            else:
                for url in siblings:
                    covers.setdefault(Head(url), []).append(url)
        return Round(urls, list(covers), kinds, covers)

    def _kind(self, url: str) -> str:
        return "dir" if is_dir_url(url) else self.kinds.get(url, "object")

    def measured(self, round: Round, now: float) -> dict[str, Observation]:
        """Close a round asked for outside the schedule (a measurement): the
        observations become the baseline of later rounds."""
        self._learn(round)
        self.seed(round.observations, now)
        return dict(round.observations)

    def finish(self, round: Round, now: float) -> dict[str, Fingerprint]:
        """Close ``round``: schedule its URLs again and return the fingerprints that changed.

        URLs without an answer (their request failed) keep their last fingerprint.
        """
        self._learn(round)
        self.backoff = min(self.backoff * 2, MAX_BACKOFF) if round.failures else 1.0
        changed: dict[str, Fingerprint] = {}
        for url in round.urls:
            seen = round.observations.get(url)
            if seen is None or url not in self.intervals:
                continue
            before = self.seen.get(url)
            self.seen[url] = seen
            if before is not None and before.fingerprint != seen.fingerprint:
                changed[url] = seen.fingerprint
        for url in round.urls:
            if url in self.intervals:
                self.next_due[url] = now + self._wait(url)
        return changed

    def _learn(self, round: Round) -> None:
        self.kinds.update(round.learnt)
        self.crowded |= round.crowded
