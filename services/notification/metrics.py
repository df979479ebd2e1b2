"""The notification service's business metric: notifications by channel and outcome.

`notification_notifications_sent_total{channel, outcome}`: channel `inbox` (outcome `stored`,
or `duplicate` for a redelivered event's notices, stored once already) and `email` (outcome
`sent`, `retry_scheduled` after a failed attempt, `given_up` after the last one).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

INBOX, EMAIL = "inbox", "email"


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.sent = Counter("notification_notifications_sent", "Notifications by channel and outcome",
                            ["channel", "outcome"], registry=self.registry)

    def inbox(self, notices: int, stored: bool) -> None:
        self.sent.labels(channel=INBOX, outcome="stored" if stored else "duplicate").inc(notices)

    def email(self, outcome: str) -> None:
        self.sent.labels(channel=EMAIL, outcome=outcome).inc()
