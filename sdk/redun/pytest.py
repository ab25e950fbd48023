"""A pytest plugin for testing workflows: ``pytest -p redun.pytest``.

It provides the ``scheduler`` fixture: a fresh :class:`redun.Scheduler` with an
in-memory store, so each test starts with an empty cache::

    # test_flow.py
    from flow import main

    def test_main(scheduler):
        assert scheduler.run(main(2)) == 4

Load it with ``pytest -p redun.pytest``, or ``pytest_plugins = ["redun.pytest"]``
in ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redun.scheduler import Scheduler


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    """A Scheduler with a private database (as redun's fixture), stopped after the test."""
    instance = Scheduler()
    try:
        yield instance
    finally:
        instance.stop()
