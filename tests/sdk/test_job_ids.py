"""Job and execution ids: unique, and not repeated by a forked child or a seeded ``random``."""

from __future__ import annotations

import os
import random
import sys

import pytest

from redun.scheduler.job import new_id


def test_ids_are_32_hex_digits_and_do_not_repeat() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids[:100])


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.write(write_end, "".join(new_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        child = pipe.read()
    parent = "".join(new_id() for _ in range(3))
    assert len(child) == 96
    assert child != parent


def test_seeding_the_random_module_does_not_repeat_ids() -> None:
    random.seed(1234)
    first = new_id()
    random.seed(1234)
    assert new_id() != first
