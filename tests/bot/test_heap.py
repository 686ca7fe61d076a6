"""bot/heap.py: once the bot is up, start-up's objects leave the cyclic GC; young collections come later."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_what_exists_and_spaces_young_collections(restored_gc: None) -> None:
    started_with = [object() for _ in range(3)]  # containers made "at start-up"
    kept = [started_with]
    gc.unfreeze()
    _, middle, old = gc.get_threshold()

    heap.settle()

    assert gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects())  # frozen: no collection scans it any more
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, middle, old)  # only the young threshold moves
    made_after = [[]]
    assert any(o is made_after for o in gc.get_objects())  # what comes later is collected as usual
