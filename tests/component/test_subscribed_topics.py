"""No service's subscriber tries to create the topic it reads: topics are provisioned (with
their partitions and settings) by a principal allowed to, and faststream's own attempt under the
service's principal was refused by the ACLs and logged a warning at every start of `make run`."""

import pytest

from services.dispute.entrypoints.serve import build_broker as dispute_broker
from services.dispute.settings import DisputeSettings
from services.notification.main import build_broker as notification_broker
from services.notification.settings import NotificationSettings
from services.refund.main import build_broker as refund_broker
from services.refund.settings import RefundSettings


@pytest.mark.parametrize("broker, topics", [
    (lambda: dispute_broker(DisputeSettings()), {"orders.events", "refunds.events"}),
    (lambda: notification_broker(NotificationSettings()), {"disputes.events"}),
    (lambda: refund_broker(RefundSettings()), {"disputes.events", "orders.events"}),
], ids=["dispute", "notification", "refund"])
def test_every_subscriber_reads_a_topic_it_never_creates(broker, topics):
    subscribers = broker().subscribers
    assert {topic.name for s in subscribers for topic in s.topics} == topics
    assert [topic.name for s in subscribers for topic in s.topics_to_create] == []
