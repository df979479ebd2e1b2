"""A replay collects cyclic garbage less often, and the collector is as it was afterwards."""

import gc

from services.common.bulk_gc import BULK_THRESHOLD, bulk_replay


def test_the_collector_is_tuned_inside_and_restored_after():
    before = gc.get_threshold()
    with bulk_replay():
        assert gc.get_threshold() == (BULK_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0  # what existed before is out of the collector's walks
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_is_still_collected_inside():
    class Node:
        pass

    with bulk_replay(threshold=1000):
        collected_before = sum(s["collected"] for s in gc.get_stats())
        for _ in range(20_000):
            a, b = Node(), Node()
            a.other, b.other = b, a  # a cycle: only the collector frees it
        del a, b
        assert sum(s["collected"] for s in gc.get_stats()) > collected_before
