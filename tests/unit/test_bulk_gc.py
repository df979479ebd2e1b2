"""A replay collects cyclic garbage less often, and the collector is as it was afterwards."""

import gc
import weakref

from services.common.bulk_gc import BULK_THRESHOLD, bulk_replay, serving_heap


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


def test_a_server_heap_is_frozen_after_start_up_and_the_collector_restored_on_leaving():
    class Node:
        pass

    before = gc.get_threshold()
    a, b = Node(), Node()
    a.other, b.other = b, a
    garbage = weakref.ref(a)
    del a, b  # start-up's cyclic garbage: collected before the freeze, never frozen
    with serving_heap(young_threshold=5000):
        assert garbage() is None
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (5000, *before[1:])
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_server_heap_left_alone_at_zero():
    before = gc.get_threshold()
    with serving_heap(young_threshold=0):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before


def test_a_tuning_inside_another_leaves_the_outer_one_as_it_was():
    before = gc.get_threshold()
    with serving_heap(young_threshold=5000):
        with bulk_replay(threshold=70_000):
            assert gc.get_threshold() == (70_000, *before[1:])
        assert gc.get_threshold() == (5000, *before[1:])
        assert gc.get_freeze_count() > 0  # the server's heap still out of the walks (the count drops as frozen objects are freed)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_tunings_beside_each_other_leaving_in_any_order_keep_the_one_still_running():
    before = gc.get_threshold()
    serving, replay = serving_heap(young_threshold=5000), bulk_replay(threshold=70_000)
    serving.__enter__()
    replay.__enter__()
    serving.__exit__(None, None, None)  # the server leaves first: the replay goes on as it was
    assert gc.get_threshold() == (70_000, *before[1:])
    assert gc.get_freeze_count() > 0
    replay.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
