"""The readiness checks judged on fakes: consumers count as assigned only once each
subscriber holds a partition, and a check that hangs or raises counts as not ready."""

import asyncio
from types import SimpleNamespace

from services.common.health import Readiness, consumers_assigned


class FakeConsumer:
    def __init__(self, *partitions):
        self.partitions = set(partitions)

    def assignment(self):
        return self.partitions


def broker_of(*subscribers):
    return SimpleNamespace(subscribers=list(subscribers))


CONNECTED, CONNECTING = SimpleNamespace(connected=True), SimpleNamespace(connected=False)


def test_a_connected_subscriber_without_partitions_is_not_assigned():
    broker = broker_of(SimpleNamespace(consumer=FakeConsumer(("orders.events", 0))),
                       SimpleNamespace(consumer=FakeConsumer()))
    assert consumers_assigned(CONNECTED, broker)() is False


def test_a_subgroup_with_one_assigned_consumer_is_assigned():
    subscriber = SimpleNamespace(consumer=None, consumer_subgroup=[FakeConsumer(), FakeConsumer(("t", 1))])
    assert consumers_assigned(CONNECTED, broker_of(subscriber))() is True


def test_assignment_is_not_judged_before_kafka_connects():
    assert consumers_assigned(CONNECTING, broker_of(SimpleNamespace(consumer=None)))() is True


def test_a_check_that_hangs_or_raises_is_missing():
    async def hangs():
        await asyncio.sleep(10)
        return True

    def raises():
        raise ConnectionError("refused")

    readiness = Readiness({"database": hangs, "kafka": raises, "disk": lambda: True}, timeout=0.05)
    assert asyncio.run(readiness.missing()) == ["database", "kafka"]
