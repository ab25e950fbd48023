"""redun.promise.wait_promises: every promise settled, whatever its outcome."""

from __future__ import annotations

from redun.promise import Promise, wait_promises


def test_wait_promises_waits_for_failures_too() -> None:
    later: Promise[int] = Promise()
    failed: Promise[int] = Promise.rejected(ValueError("boom"))
    done = Promise.resolved(10)
    top = wait_promises([done, failed, later])
    assert top.is_pending  # one is still out
    later.do_resolve(20)
    assert top.is_fulfilled
    first, second, third = top.value
    assert (first.value, third.value) == (10, 20)
    assert isinstance(second.error, ValueError)
    # Promise.all, by contrast, fails at the first error.
    assert Promise.all([done, failed]).is_rejected
    assert wait_promises([]).value == []
