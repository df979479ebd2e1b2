"""Topics are made at start-up with the configured partitions; disputes.events keeps forever."""

from uuid import uuid4

import pytest

from contracts.topics import DISPUTES_EVENTS
from services.common.kafka import ensure_topics
from services.common.topics import platform_topics
from tests.support.relay_streams import topic_settings

pytestmark = pytest.mark.integration


async def test_the_events_topic_is_made_with_the_partitions_asked_and_unlimited_retention(kafka):
    topic = f"disputes.events.{uuid4().hex[:8]}"
    await ensure_topics(kafka.admin, {topic: platform_topics()[DISPUTES_EVENTS]}, partitions=6)
    partitions, configs = await topic_settings(kafka.admin, topic)
    assert (partitions, configs["retention.ms"], configs["retention.bytes"]) == (6, "-1", "-1")


async def test_an_existing_topic_is_left_as_it_is(kafka):
    topic = f"disputes.events.{uuid4().hex[:8]}"
    await ensure_topics(kafka.admin, {topic: {}}, partitions=2)
    await ensure_topics(kafka.admin, {topic: platform_topics()[DISPUTES_EVENTS]}, partitions=6)
    partitions, configs = await topic_settings(kafka.admin, topic)
    assert (partitions, configs["retention.ms"]) != (6, "-1")
