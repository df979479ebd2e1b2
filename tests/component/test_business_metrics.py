"""The business counters move with what the services do: refunds issued, failed, refused by
the ceiling and held (the refund desk on a SQLite store, a scripted provider); notifications
stored in the inbox and e-mails sent or retried (the consumer's handler, the mail sender)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from infra.ports import free_port
from services.common.database import sqlalchemy_engine
from services.notification.consumer import handle
from services.notification.email_outbox import EmailOutbox
from services.notification.mail_sender import Backoff, EmailSender, SmtpServer
from services.notification.metrics import NotificationMetrics
from services.notification.notices import Notice, Parties, Recipient
from services.notification.store import NotificationStore
from services.refund.desk import RefundDesk
from services.refund.gateway import ProviderError
from services.refund.metrics import RefundMetrics
from standins.smtp_sink import SmtpSink
from tests.component.test_refund_desk import Provider, Publisher, award, dispute, store  # noqa: F401
from tests.support.envelopes import opened


def queue_one_email(inbox: NotificationStore, event_id: str = "E-1") -> None:
    inbox.record(event_id=event_id, event_type="DisputeOpened", dispute_id="D-1",
                 notices=[Notice("S-1", "seller", "A dispute", "Respond.\n")],
                 parties=Parties("B-1", "S-1"), addresses={Recipient("seller", "S-1"): "s1@shop.example"})


def refund_metrics(store_) -> RefundMetrics:
    metrics = RefundMetrics(CollectorRegistry())
    metrics.watch_held(store_.held_by_status)
    return metrics


def value(metrics, name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_an_issued_refund_is_counted_and_holds_nothing_afterwards(store):  # noqa: F811
    metrics = refund_metrics(store)
    await RefundDesk(store, Provider(), Publisher(), metrics=metrics).pay(award(store, dispute(store), "30.00"))
    assert value(metrics, "refund_refunds_issued_total") == 1
    assert value(metrics, "refund_refunds_held", status="PENDING") == 0


async def test_a_refund_over_the_ceiling_is_counted_as_refused_and_failed(store):  # noqa: F811
    metrics = refund_metrics(store)
    desk = RefundDesk(store, Provider(), Publisher(), metrics=metrics)
    await desk.pay(award(store, dispute(store, paid="50.00"), "80.00"))
    assert value(metrics, "refund_ceiling_refusals_total", reason="REFUND_EXCEEDS_PAID_AMOUNT") == 1
    assert value(metrics, "refund_refunds_failed_total", reason="REFUND_EXCEEDS_PAID_AMOUNT",
                 retryable="false") == 1
    assert value(metrics, "refund_refunds_issued_total") == 0


async def test_an_unknown_outcome_is_counted_as_failed_and_held(store):  # noqa: F811
    metrics = refund_metrics(store)
    desk = RefundDesk(store, Provider("pay-then-timeout"), Publisher(), metrics=metrics)
    await desk.pay(award(store, dispute(store), "30.00"))
    assert value(metrics, "refund_refunds_failed_total", reason="PROVIDER_UNREACHABLE: ReadTimeout",
                 retryable="true") == 1
    assert value(metrics, "refund_refunds_held", status="FAILED") == 1


async def test_a_provider_refusal_is_counted_as_failed_and_not_retryable(store):  # noqa: F811
    metrics = refund_metrics(store)
    desk = RefundDesk(store, Provider(ProviderError("CARD_CLOSED", retryable=False)), Publisher(),
                      metrics=metrics)
    await desk.pay(award(store, dispute(store), "30.00"))
    assert value(metrics, "refund_refunds_failed_total", reason="CARD_CLOSED", retryable="false") == 1
    assert value(metrics, "refund_refunds_held", status="FAILED") == 0


@pytest.fixture
def inbox(tmp_path) -> NotificationStore:
    inbox = NotificationStore(sqlalchemy_engine(f"sqlite:///{tmp_path}/n.sqlite"))
    inbox.create_tables()
    return inbox


def test_an_event_is_counted_once_per_stored_notice_and_a_redelivery_as_duplicate(inbox):
    metrics, event = NotificationMetrics(CollectorRegistry()), opened("B-1", "S-1")
    handle(inbox, event, metrics=metrics)
    handle(inbox, event, metrics=metrics)
    sent = "notification_notifications_sent_total"
    told = len(inbox.inbox("B-1")) + len(inbox.inbox("S-1"))
    assert told == 2  # the buyer and the seller
    assert value(metrics, sent, channel="inbox", outcome="stored") == told
    assert value(metrics, sent, channel="inbox", outcome="duplicate") == told


async def test_emails_are_counted_as_sent_retried_and_given_up(inbox, tmp_path):
    metrics = NotificationMetrics(CollectorRegistry())
    sink = SmtpSink(tmp_path / "mail", port=free_port(), http_port=None).start()
    try:
        queue_one_email(inbox)
        await EmailSender(EmailOutbox(inbox.engine), SmtpServer(port=sink.smtp.port, timeout=2),
                          Backoff(2, 0.0, 0.0), metrics=metrics).drain_once()
    finally:
        sink.stop()
    queue_one_email(inbox, event_id="E-2")
    away = EmailSender(EmailOutbox(inbox.engine), SmtpServer(port=free_port(), timeout=2),
                       Backoff(2, 0.0, 0.0), metrics=metrics)
    await away.drain_once()
    await away.drain_once()
    sent = "notification_notifications_sent_total"
    assert [value(metrics, sent, channel="email", outcome=o) for o in ("sent", "retry_scheduled", "given_up")] == [1, 1, 1]
