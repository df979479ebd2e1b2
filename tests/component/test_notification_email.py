"""E-mail in-process: the outbox sender against the real local SMTP sink (aiosmtpd) on free
ports, and the sink's HTTP listing that `make run` and the e2e scenarios read."""

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from infra.ports import free_port
from services.common.database import sqlalchemy_engine
from services.notification.mail_sender import LEASE_MARGIN, Backoff, EmailSender, SmtpServer
from services.notification.notices import Notice, Parties, Recipient
from services.notification.email_outbox import EmailOutbox
from standins.smtp_sink import SmtpSink
from tests.support.smtp import SlowSmtp
from services.notification.store import NotificationStore


@pytest.fixture
def store(tmp_path):
    store = NotificationStore(sqlalchemy_engine(f"sqlite:///{tmp_path}/n.sqlite"))
    store.create_tables()
    return store


@pytest.fixture
def sink(tmp_path):
    sink = SmtpSink(tmp_path / "mail", port=free_port(), http_port=free_port()).start()
    yield sink
    sink.stop()


def queue_one_email(store, to="s1@shop.example", subject="A buyer opened a dispute on order O-1"):
    notice = Notice("S-1", "seller", subject, "Respond by 3 Dec.\n")
    store.record(event_id="E-1", event_type="DisputeOpened", dispute_id="D-1", notices=[notice],
                 parties=Parties("B-1", "S-1"), addresses={Recipient("seller", "S-1"): to})


def sender(store, port, max_attempts=3, timeout=2.0):
    return EmailSender(EmailOutbox(store.engine), SmtpServer(port=port, timeout=timeout),
                       Backoff(max_attempts=max_attempts, initial=0.0, maximum=0.0))


async def test_a_queued_email_is_delivered_and_marked_sent(store, sink):
    queue_one_email(store)
    assert await sender(store, sink.smtp.port).drain_once() == 1
    [email] = EmailOutbox(store.engine).emails()
    assert email["sent_at"] is not None and email["attempts"] == 0
    assert [(m["to"], m["subject"]) for m in sink.mails()] == [
        ("s1@shop.example", "A buyer opened a dispute on order O-1")]


async def test_a_sent_email_is_not_sent_again(store, sink):
    queue_one_email(store)
    mailer = sender(store, sink.smtp.port)
    await mailer.drain_once()
    assert await mailer.drain_once() == 0 and len(sink.mails()) == 1


async def test_an_unreachable_server_schedules_a_retry_with_the_error(store):
    queue_one_email(store)
    await sender(store, free_port()).drain_once()
    [email] = EmailOutbox(store.engine).emails()
    assert email["attempts"] == 1 and email["sent_at"] is None and "connect" in email["last_error"].lower()


async def test_an_email_is_given_up_after_its_last_attempt(store):
    queue_one_email(store)
    await sender(store, free_port(), max_attempts=1).drain_once()
    [email] = EmailOutbox(store.engine).emails()
    assert email["failed_at"] is not None


def test_a_claimed_email_is_not_claimed_again_before_its_lease_ends(store):
    queue_one_email(store)
    outbox, now = EmailOutbox(store.engine), datetime.now(timezone.utc)
    assert len(outbox.claim_due(now, timedelta(minutes=1))) == 1
    assert outbox.claim_due(now, timedelta(minutes=1)) == []


async def test_an_email_whose_sender_died_during_delivery_is_not_sent_a_second_time(store, sink):
    """The first sender claimed it, may have handed it to the SMTP server, and was killed
    before marking it sent: after its lease the next sender gives it up instead."""
    queue_one_email(store)
    mailer = sender(store, sink.smtp.port)
    assert len(EmailOutbox(store.engine).claim_due(datetime.now(timezone.utc), mailer.lease)) == 1
    after_the_lease = datetime.now(timezone.utc) + mailer.lease * 2
    assert EmailOutbox(store.engine).claim_due(after_the_lease, mailer.lease) == []
    assert await mailer.drain_once() == 0 and sink.mails() == []
    [email] = EmailOutbox(store.engine).emails()
    assert email["failed_at"] is not None and "stopped during delivery" in email["last_error"]


async def test_an_email_whose_attempt_failed_is_sent_on_the_next_attempt(store, sink):
    queue_one_email(store)
    await sender(store, free_port()).drain_once()
    assert await sender(store, sink.smtp.port).drain_once() == 1
    [email] = EmailOutbox(store.engine).emails()
    assert email["sent_at"] is not None and email["failed_at"] is None and len(sink.mails()) == 1


async def test_the_sink_lists_received_mails_over_http(store, sink):
    queue_one_email(store)
    await sender(store, sink.smtp.port).drain_once()
    async with httpx.AsyncClient() as http:
        listed = (await http.get(f"http://127.0.0.1:{sink.http.server_address[1]}/messages")).json()
    assert [(m["to"], m["subject"], m["body"]) for m in listed] == [
        ("s1@shop.example", "A buyer opened a dispute on order O-1", "Respond by 3 Dec.\n")]


async def test_an_email_that_cannot_be_built_is_given_up_not_claimed_again_every_lease(store):
    queue_one_email(store, subject="The return is on its way (DHL\nX)")  # stored before the fix
    mailer = sender(store, free_port())
    assert await mailer.drain_once() == 1
    [email] = EmailOutbox(store.engine).emails()
    assert email["failed_at"] is not None and email["attempts"] == 1
    assert "ValueError" in email["last_error"]
    later = datetime.now(timezone.utc) + mailer.lease * 2
    assert EmailOutbox(store.engine).claim_due(later, mailer.lease) == []


async def test_a_send_slower_than_its_deadline_is_cut_off_and_retried_before_the_lease_ends(store):
    queue_one_email(store)
    async with SlowSmtp(step=0.4) as slow:  # ~7 steps of 0.4 s, each within the 0.5 s timeout
        mailer = sender(store, slow.port, timeout=0.5)
        started = time.monotonic()
        await mailer.drain_once()
        took = time.monotonic() - started
    [email] = EmailOutbox(store.engine).emails()
    assert took < 2.0 and email["sent_at"] is None and email["attempts"] == 1
    assert "Timeout" in email["last_error"] and took < mailer.lease.total_seconds()


@pytest.mark.parametrize("timeout", [0.5, 10.0, 60.0])
def test_the_lease_outlasts_the_longest_send_by_a_margin(store, timeout):
    mailer = sender(store, 25, timeout=timeout)
    assert mailer.send_deadline >= 3 * timeout
    assert mailer.lease >= timedelta(seconds=mailer.send_deadline) + LEASE_MARGIN


class CountedOutbox(EmailOutbox):
    """The outbox, counting the claims that have returned (the sender is idle after one that
    found nothing)."""

    claims = 0

    def claim_due(self, *args, **kwargs):
        found = super().claim_due(*args, **kwargs)
        self.claims += 1
        return found


async def running_idle(store, sink, poll_interval: float):
    import asyncio

    outbox = CountedOutbox(store.engine)
    mailer = EmailSender(outbox, SmtpServer(port=sink.smtp.port, timeout=2),
                         Backoff(max_attempts=3, initial=0.0, maximum=0.0), poll_interval=poll_interval)
    running = asyncio.create_task(mailer.run())
    while outbox.claims == 0:  # its first claim found nothing: it waits for its next poll
        await asyncio.sleep(0.01)
    return mailer, running


async def sent_within(sink, seconds: float) -> bool:
    import asyncio

    for _ in range(int(seconds / 0.02)):
        if sink.mails():
            return True
        await asyncio.sleep(0.02)
    return bool(sink.mails())


async def test_an_idle_sender_woken_sends_at_once_without_waiting_for_its_poll(store, sink):
    import asyncio

    mailer, running = await running_idle(store, sink, poll_interval=60)
    try:
        queue_one_email(store)
        mailer.wake()
        assert await sent_within(sink, 5)  # its poll is a minute away
        assert len(sink.mails()) == 1
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_sender_not_woken_sends_at_its_poll(store, sink):
    import asyncio

    mailer, running = await running_idle(store, sink, poll_interval=1.5)
    try:
        queue_one_email(store)
        assert not await sent_within(sink, 0.5)  # not before its poll...
        assert await sent_within(sink, 5)  # ...and then, unwoken
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_sender_cancelled_as_it_is_woken_stops(store, sink):
    """`wait_for` on Python 3.11 could swallow the cancellation when a wake-up met it."""
    import asyncio

    mailer, running = await running_idle(store, sink, poll_interval=60)
    mailer.wake()
    running.cancel()
    done, _ = await asyncio.wait([running], timeout=5)
    assert done == {running} and running.cancelled()
