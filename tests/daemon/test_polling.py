"""The object-store poller's decisions, driven by a fake clock and a store held in a dict."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from redund.polling import (
    MISSING,
    Failed,
    Head,
    List,
    Listing,
    Observation,
    Poller,
    Request,
    dir_fingerprint,
    parent_of,
)


@dataclass(frozen=True)
class Obj:
    url: str
    token: str
    mtime_ns: int = 0


class Store:
    """Objects by URL; answers requests as S3/GCS would, and counts them."""

    def __init__(self, **objects: str) -> None:
        self.objects: dict[str, Obj] = {}
        self.sent: list[Request] = []
        self.fail: Failed | None = None
        for key, token in objects.items():
            self.put(key.replace("__", "/"), token)

    def put(self, key: str, token: str, mtime_ns: int = 0) -> None:
        url = f"s3://b/{key}"
        self.objects[url] = Obj(url, token, mtime_ns)

    def delete(self, key: str) -> None:
        del self.objects[f"s3://b/{key}"]

    def answer(self, request: Request):  # type: ignore[no-untyped-def]
        self.sent.append(request)
        if self.fail is not None:
            return self.fail
        if isinstance(request, Head):
            return self.objects.get(request.url)
        below = [o for url, o in sorted(self.objects.items()) if url.startswith(request.url)]
        if not request.delimiter:
            return Listing(tuple(below))
        rest = len(request.url)
        direct = tuple(o for o in below if "/" not in o.url[rest:])
        prefixes = sorted(
            {request.url + o.url[rest:].split("/")[0] + "/" for o in below if "/" in o.url[rest:]}
        )
        return Listing(direct, tuple(prefixes))


def poll(poller: Poller, store: Store, now: float, urls: list[str] | None = None) -> dict:
    """One round of the due URLs (or ``urls``), answered by ``store``; the changes."""
    round = poller.begin(poller.due(now) if urls is None else urls)
    requests = round.requests
    while requests:
        requests = round.answer({request: store.answer(request) for request in requests})
    return poller.finish(round, now)


def url(key: str) -> str:
    return f"s3://b/{key}"


def test_the_first_round_is_a_baseline_then_changes_are_reported() -> None:
    store = Store(a="1")
    poller = Poller(interval=10)
    poller.set_paths([url("a")], now=0)
    assert poller.deadline() == 0 and poller.due(0) == [url("a")]
    assert poll(poller, store, 0) == {}
    assert poller.deadline() == 10 and poller.due(9.9) == []
    store.put("a", "2")
    assert poll(poller, store, 10) == {url("a"): ("object", "2")}
    assert poll(poller, store, 20) == {}  # reported once
    store.delete("a")
    assert poll(poller, store, 30) == {url("a"): None}
    store.put("a", "2")
    assert poll(poller, store, 40) == {url("a"): ("object", "2")}


def test_siblings_share_one_listing_and_lone_objects_one_head_each() -> None:
    store = Store(d__a="1", d__b="1", d__c="1", e__x="1", f__y="1", d__other="1")
    poller = Poller(interval=10, list_min=3)
    poller.set_paths([url("d/a"), url("d/b"), url("d/c"), url("e/x"), url("f/y")], now=0)
    poll(poller, store, 0)
    assert sorted(map(repr, store.sent)) == sorted(
        map(repr, [List(url("d/"), delimiter=True), Head(url("e/x")), Head(url("f/y"))])
    )
    store.put("d/b", "2")
    store.put("d/other", "2")  # not watched
    store.put("f/y", "2")
    assert poll(poller, store, 10) == {url("d/b"): ("object", "2"), url("f/y"): ("object", "2")}


def test_a_watched_directorys_listing_answers_the_objects_below_it() -> None:
    store = Store(d__a="1", d__sub__b="1", d__dir__="")
    poller = Poller(interval=10)
    poller.set_paths([url("d/"), url("d/a"), url("d/sub/b")], now=0)
    poll(poller, store, 0)
    assert store.sent == [List(url("d/"))]
    store.put("d/sub/new", "1")
    changes = poll(poller, store, 10)
    assert set(changes) == {url("d/")}  # a new object: the directory changed, not a or b
    store.put("d/dir/", "marker")  # a directory marker is not content
    store.put("d/a", "2")
    assert set(poll(poller, store, 20)) == {url("d/"), url("d/a")}
    store.delete("d/sub/new")
    assert set(poll(poller, store, 30)) == {url("d/")}


def test_a_crowded_parent_is_not_listed_again() -> None:
    store = Store(a="1", b="1", c="1")
    for i in range(5000):
        store.put(f"noise{i}", "n")
    poller = Poller(interval=10, list_min=3)
    poller.set_paths([url("a"), url("b"), url("c")], now=0)
    poll(poller, store, 0)
    assert store.sent == [List(url(""), delimiter=True)]  # 5 pages to save 3 HEADs: no more
    store.sent.clear()
    store.put("b", "2")
    assert poll(poller, store, 10) == {url("b"): ("object", "2")}
    assert sorted(map(repr, store.sent)) == sorted(map(repr, map(Head, [url(k) for k in "abc"])))


def test_a_url_that_is_a_directory_is_learnt() -> None:
    store = Store(data__one="1", data__two="1")
    poller = Poller(interval=10)
    poller.set_paths([url("data")], now=0)  # as the store records a Dir: no slash
    poll(poller, store, 0)
    assert store.sent == [Head(url("data")), List(url("data/"))]
    store.sent.clear()
    store.put("data/three", "1")
    assert set(poll(poller, store, 10)) == {url("data")}
    assert store.sent == [List(url("data/"))]  # one request now
    store.sent.clear()
    for key in ("data/one", "data/two", "data/three"):
        store.delete(key)
    store.put("data", "file now")
    assert poll(poller, store, 20) == {url("data"): ("object", "file now")}
    assert store.sent == [List(url("data/")), Head(url("data"))]


def test_a_failed_round_keeps_fingerprints_and_backs_off() -> None:
    store = Store(a="1", b="1")
    poller = Poller(interval=10, max_interval=60)
    poller.set_paths([url("a"), url("b")], now=0)
    poll(poller, store, 0)
    store.put("a", "2")
    store.fail = Failed("SlowDown", throttled=True)
    assert poll(poller, store, 10) == {}
    assert poller.deadline() == 10 + 20
    assert poll(poller, store, 30) == {}
    assert poller.deadline() == 30 + 40
    assert poll(poller, store, 70) == {}
    assert poller.deadline() == 70 + 60  # capped
    store.fail = None
    assert poll(poller, store, 130) == {url("a"): ("object", "2")}  # seen late, not lost
    assert poller.deadline() == 140  # back to the interval


def test_per_url_intervals_and_rounds_that_gather_nearly_due_urls() -> None:
    store = Store(fast="1", slow="1")
    poller = Poller(interval=10)
    poller.set_paths({url("fast"): 2.0, url("slow"): None}, now=0)
    poll(poller, store, 0)
    assert poller.deadline() == 2
    assert poller.due(2) == [url("fast")]
    poll(poller, store, 2)
    for now in (4, 6):
        poll(poller, store, now)
    assert poller.due(8) == [url("fast"), url("slow")]  # slow is due at 10: within a quarter


def test_a_seeded_url_reports_changes_from_the_seed() -> None:
    store = Store(a="1")
    poller = Poller(interval=10)
    round = poller.begin([url("a")])
    round.answer({r: store.answer(r) for r in round.requests})
    assert poller.measured(round, now=0) == {url("a"): Observation(("object", "1"), 0)}
    poller.set_paths([url("a")], now=0)
    assert poller.deadline() == 10  # measured: no baseline round needed
    store.put("a", "2")
    assert poll(poller, store, 10) == {url("a"): ("object", "2")}


def test_unfollowed_urls_are_forgotten() -> None:
    store = Store(a="1")
    poller = Poller(interval=10)
    poller.set_paths([url("a")], now=0)
    poll(poller, store, 0)
    poller.set_paths([], now=1)
    assert poller.deadline() is None and poller.seen == {}


def test_helpers_and_bad_settings() -> None:
    assert parent_of(url("x/y/z")) == url("x/y/")
    assert parent_of(url("z")) == url("")
    assert parent_of("gs://b/d/") == "gs://b/"
    assert dir_fingerprint([]) is MISSING
    assert dir_fingerprint([Obj(url("d/"), "")]) is MISSING  # only a marker
    with pytest.raises(ValueError, match="interval must be > 0"):
        Poller(interval=0)
    with pytest.raises(ValueError, match="shorter than the interval"):
        Poller(interval=10, max_interval=5)


def test_ten_thousand_objects_below_a_directory_are_one_listing() -> None:
    store = Store()
    for i in range(10_000):
        store.put(f"d/f{i:05d}", "1")
    poller = Poller(interval=10)
    poller.set_paths([url("d/"), *(url(f"d/f{i:05d}") for i in range(10_000))], now=0)
    assert poll(poller, store, 0) == {}
    assert store.sent == [List(url("d/"))]
    store.put("d/f01234", "2")
    changes = poll(poller, store, 10)
    assert set(changes) == {url("d/f01234"), url("d/")}
    assert changes[url("d/f01234")] == ("object", "2")
