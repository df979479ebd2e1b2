"""A built service's heap is frozen out of the collector's walks, the youngest generation
collects less often, and cyclic garbage is still collected."""

import gc

import pytest

from services.common.service_gc import SERVICE_THRESHOLD, freeze_built_service


@pytest.fixture(autouse=True)
def collector_restored():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_what_exists_is_frozen_and_the_youngest_generation_collects_less_often():
    before = gc.get_threshold()
    freeze_built_service()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (SERVICE_THRESHOLD, *before[1:])


def test_cyclic_garbage_made_after_the_freeze_is_still_collected():
    class Node:
        pass

    freeze_built_service(threshold=1000)
    collected_before = sum(s["collected"] for s in gc.get_stats())
    for _ in range(20_000):
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
    del a, b
    assert sum(s["collected"] for s in gc.get_stats()) > collected_before
