"""The e-mail sender's SMTP sessions: many e-mails over one connection, kept open between
batches, and each e-mail's failure handled as when every e-mail had its own connection (a
refusal fails that e-mail only; a 5xx gives it up; the connection lost or an exchange past its
deadline fails the e-mails not sent yet, with their backoff; what the server accepted is never
sent again). Against aiosmtpd (the library of the local sink) scripted to misbehave, offering
PIPELINING or not (every test against it runs against both), and the real sink (which offers it)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from infra.ports import free_port
from services.common.database import sqlalchemy_engine
from services.notification.email_outbox import DELIVERY_STARTED, EmailOutbox
from services.notification.mail_sender import Backoff, EmailSender, SmtpServer
from services.notification.notices import Notice, Parties, Recipient
from services.notification.store import Effect, NotificationStore
from standins.smtp_sink import SmtpSink
from tests.support.notification_store import notification_store
from tests.support import smtp as scripted
from tests.support.smtp import LockstepSmtp, Script, ScriptedSmtp, SlowSmtp


@pytest.fixture(params=["one command at a time", "pipelined"])
def pipelining(request, monkeypatch):
    """Each test's scripted server offers PIPELINING (RFC 2920) in the second run: the sender
    then sends MAIL, RCPT and DATA together, and every outcome must be the same."""
    if request.param == "pipelined":
        monkeypatch.setattr(f"{__name__}.ScriptedSmtp", lambda script=None: scripted.ScriptedSmtp(
            dataclasses.replace(script or Script(), pipelining=True)))
    return request.param


@pytest.fixture
def store(tmp_path):
    store = NotificationStore(sqlalchemy_engine(f"sqlite:///{tmp_path}/n.sqlite"))
    store.create_tables()
    return store


def queue(store, *addresses: str, subject: str = "A buyer opened a dispute") -> None:
    """One e-mail to each address, each of its own event, in this order."""
    effects = []
    for n, address in enumerate(addresses):
        seller = f"S-{n}-{uuid4().hex[:6]}"
        effects.append(Effect(str(uuid4()), "DisputeOpened", str(uuid4()),
                              [Notice(seller, "seller", subject, "Respond by 3 Dec.\n")],
                              Parties("B-1", seller), {Recipient("seller", seller): address}))
    store.record_all(effects)


def sender(store, port: int, sessions: int = 1, timeout: float = 2.0, idle_timeout: float = 30.0,
           batch: int = 20) -> EmailSender:
    return EmailSender(EmailOutbox(store.engine),
                       SmtpServer(port=port, timeout=timeout, sessions=sessions, idle_timeout=idle_timeout),
                       Backoff(max_attempts=3, initial=0.0, maximum=0.0), batch=batch)


def outbox(store) -> dict[str, dict]:
    return {row["to_address"]: row for row in EmailOutbox(store.engine).emails()}


ADDRESSES = [f"r{n}@shop.example" for n in range(5)]


async def test_several_emails_go_over_one_connection_kept_open_for_the_next_batch(store, pipelining):
    with ScriptedSmtp() as smtp:
        mailer = sender(store, smtp.port)
        queue(store, *ADDRESSES[:3])
        assert await mailer.drain_once() == 3
        queue(store, *ADDRESSES[3:])
        assert await mailer.drain_once() == 2
        await mailer.close()
    assert smtp.accepted == ADDRESSES and smtp.connections == 1
    assert all(row["sent_at"] is not None and row["last_error"] is None for row in outbox(store).values())


async def test_the_real_sink_keeps_every_email_of_a_batch_sent_over_a_few_sessions(store, tmp_path):
    sink = SmtpSink(tmp_path / "mail", port=free_port(), http_port=None).start()
    try:
        mailer = sender(store, sink.smtp.port, sessions=2)
        queue(store, *ADDRESSES[:4])
        queue(store, ADDRESSES[4], subject="Ihr Rückgabeetikett")  # built by the email package
        assert await mailer.drain_once() == 5
        await mailer.close()
        mails = {m["to"]: m for m in sink.mails()}
    finally:
        sink.stop()
    assert sorted(mails) == ADDRESSES and [session.opened for session in mailer.sessions] == [1, 1]
    assert mails[ADDRESSES[4]]["subject"] == "Ihr Rückgabeetikett"
    assert {mails[a]["subject"] for a in ADDRESSES[:4]} == {"A buyer opened a dispute"}
    assert all(m["body"] == "Respond by 3 Dec.\n" for m in mails.values())


async def test_a_server_offering_pipelining_gets_mail_rcpt_and_data_together(store):
    """LockstepSmtp answers only once MAIL, RCPT and DATA are all in, all three replies in one
    write: the mails go, each in one group, over one connection."""
    queue(store, *ADDRESSES[:3])
    async with LockstepSmtp() as lockstep:
        mailer = sender(store, lockstep.port)
        assert await mailer.drain_once() == 3
        await mailer.close()
    assert lockstep.accepted == ADDRESSES[:3] and mailer.sessions[0].opened == 1
    assert lockstep.groups == [[b"MAIL", b"RCPT", b"DATA"]] * 3
    assert all(row["sent_at"] is not None for row in outbox(store).values())


def test_pipelining_on_uvloop_the_services_event_loop(store):
    """uvloop (what the services run on) keeps a protocol's data_received from connection_made:
    the pipelining protocol must be the one it calls. A refusal in the group and the real sink."""
    import uvloop

    async def scenario(port: int) -> EmailSender:
        mailer = sender(store, port)
        await mailer.drain_once()
        await mailer.close()
        return mailer

    with ScriptedSmtp(Script(pipelining=True, refuse_recipients={ADDRESSES[1]})) as smtp:
        queue(store, *ADDRESSES[:3])
        uvloop.run(asyncio.wait_for(scenario(smtp.port), 20))
    assert smtp.accepted == [ADDRESSES[0], ADDRESSES[2]] and smtp.connections == 1
    assert "SMTPRecipientsRefused" in outbox(store)[ADDRESSES[1]]["last_error"]


async def test_a_connection_dropped_midway_fails_the_rest_which_are_sent_later_and_none_twice(store, pipelining):
    with ScriptedSmtp(Script(drop_at_mail=3)) as smtp:
        mailer = sender(store, smtp.port)
        queue(store, *ADDRESSES)
        await mailer.drain_once()
        assert smtp.accepted == ADDRESSES[:2]
        rows = outbox(store)
        assert [rows[a]["sent_at"] is not None for a in ADDRESSES] == [True, True, False, False, False]
        assert [rows[a]["attempts"] for a in ADDRESSES] == [0, 0, 1, 1, 1]
        assert "Disconnected" in rows[ADDRESSES[2]]["last_error"]
        assert all("SessionLost" in rows[a]["last_error"] for a in ADDRESSES[3:])
        assert await mailer.drain_once() == 3  # their backoff (0 here) is over: a new session
        await mailer.close()
    assert sorted(smtp.accepted) == ADDRESSES and smtp.connections == 2
    assert all(row["sent_at"] is not None for row in outbox(store).values())


async def test_a_refused_recipient_fails_alone_and_the_session_goes_on(store, pipelining):
    """RCPT answered 550 (no such mailbox) gives that mail up, as a 5xx to MAIL or DATA does
    (README "Notifications"; it was retried ten times: aiosmtplib's SMTPRecipientsRefused carries
    no code of its own); 450 (busy) is a retry with its backoff. The session goes on."""
    script = Script(refuse_recipients={ADDRESSES[1]}, defer_recipients={ADDRESSES[2]})
    with ScriptedSmtp(script) as smtp:
        mailer = sender(store, smtp.port)
        queue(store, *ADDRESSES[:4])
        await mailer.drain_once()
        await mailer.close()
    assert smtp.accepted == [ADDRESSES[0], ADDRESSES[3]] and smtp.connections == 1
    rows = outbox(store)
    refused, deferred = rows[ADDRESSES[1]], rows[ADDRESSES[2]]
    assert refused["sent_at"] is None and refused["failed_at"] is not None and refused["attempts"] == 1
    assert "SMTPRecipientsRefused" in refused["last_error"] and "550" in refused["last_error"]
    assert deferred["sent_at"] is None and deferred["failed_at"] is None and deferred["attempts"] == 1
    assert "SMTPRecipientsRefused" in deferred["last_error"] and "450" in deferred["last_error"]


async def test_a_refused_sender_fails_that_email_alone_as_aiosmtplibs_mail_would(store, pipelining):
    """MAIL answered 4xx (a retry with its backoff) or 5xx (given up), each raised as
    aiosmtplib's own `mail` raises it; the session is reset and the others go on it."""
    with ScriptedSmtp(Script(refuse_mail_at={1: "451 4.3.0 try later", 3: "553 5.1.8 bad sender"})) as smtp:
        mailer = sender(store, smtp.port)
        queue(store, *ADDRESSES[:4])
        await mailer.drain_once()
        await mailer.close()
    assert smtp.accepted == [ADDRESSES[1], ADDRESSES[3]] and smtp.connections == 1
    rows = outbox(store)
    later, refused = rows[ADDRESSES[0]], rows[ADDRESSES[2]]
    assert later["sent_at"] is None and later["failed_at"] is None and later["attempts"] == 1
    assert "SMTPSenderRefused" in later["last_error"] and "451" in later["last_error"]
    assert refused["failed_at"] is not None and "SMTPSenderRefused" in refused["last_error"]


async def test_a_sender_refused_for_good_then_hung_up_on_is_given_up_as_one_command_at_a_time(store, pipelining):
    """A 5xx to MAIL, then the server closes the connection: the refusal is the e-mail's
    outcome (given up), not the closed connection (which would be retried); the others go on a
    new connection. Pipelined, the replies to RCPT and DATA never come."""
    script = Script(refuse_mail_at={1: "554 5.7.1 rejected by policy"}, hang_up_after_refusing_mail=True)
    with ScriptedSmtp(script) as smtp:
        mailer = sender(store, smtp.port)
        queue(store, *ADDRESSES[:3])
        await mailer.drain_once()
        await mailer.drain_once()
        await mailer.close()
    rows = outbox(store)
    refused = rows[ADDRESSES[0]]
    assert refused["failed_at"] is not None and refused["attempts"] == 1
    assert "SMTPSenderRefused" in refused["last_error"] and "554" in refused["last_error"]
    assert sorted(smtp.accepted) == sorted(ADDRESSES[1:3])


async def test_a_recipient_the_server_will_forward_is_sent(store, pipelining):
    with ScriptedSmtp(Script(forward_recipients={ADDRESSES[0]})) as smtp:
        mailer = sender(store, smtp.port)
        queue(store, *ADDRESSES[:2])
        await mailer.drain_once()
        await mailer.close()
    assert smtp.accepted == ADDRESSES[:2]
    assert all(row["sent_at"] is not None for row in outbox(store).values())


async def test_a_plain_mail_goes_with_its_size_and_8bitmime_as_sendmail_sent_it(store, pipelining):
    """MAIL FROM the sender with SIZE (the message's octets, as in DATA) and BODY=8BITMIME
    when the server offers them, one RCPT, then the very bytes plain_mail wrote."""
    from services.notification.email_outbox import OutgoingEmail
    from services.notification.plain_mail import PlainMails

    with ScriptedSmtp() as smtp:
        mailer = sender(store, smtp.port)
        queue(store, ADDRESSES[0])
        row = outbox(store)[ADDRESSES[0]]
        expected = PlainMails(mailer.smtp.sender).of(
            OutgoingEmail(*(row[f] for f in OutgoingEmail.__dataclass_fields__)))
        await mailer.drain_once()
        await mailer.close()
    assert expected is not None
    [envelope] = smtp.hooks.envelopes
    assert envelope.mail_from == "disputes@dispute-platform.localhost"
    assert envelope.rcpt_tos == [ADDRESSES[0]]
    assert sorted(o.upper() for o in envelope.mail_options) == [  # SMTP keywords: any case
        "BODY=8BITMIME", f"SIZE={len(expected.data)}"]
    assert envelope.original_content == expected.data


async def test_an_email_the_client_refuses_to_send_fails_alone_and_the_others_follow(store, pipelining):
    """aiosmtplib refuses a non-ASCII address to a server without SMTPUTF8 before sending
    anything: that e-mail is retried, the session is started afresh, the rest are not held up."""
    with ScriptedSmtp(Script(smtputf8=False)) as smtp:
        mailer = sender(store, smtp.port)
        queue(store, ADDRESSES[0], "josé@shop.example", ADDRESSES[1], ADDRESSES[2])
        await mailer.drain_once()
        await mailer.close()
    assert smtp.accepted == ADDRESSES[:3]
    rows = outbox(store)
    refused = rows["josé@shop.example"]
    assert refused["sent_at"] is None and refused["failed_at"] is None and refused["attempts"] == 1
    assert "SMTPNotSupported" in refused["last_error"]
    assert all(rows[a]["sent_at"] is not None for a in ADDRESSES[:3])


async def test_a_permanent_refusal_gives_that_email_up_and_spares_the_others(store, pipelining):
    with ScriptedSmtp(Script(refuse_data_for={ADDRESSES[0]})) as smtp:
        mailer = sender(store, smtp.port)
        queue(store, *ADDRESSES[:3])
        await mailer.drain_once()
        assert await mailer.drain_once() == 0  # given up: never claimed again
        await mailer.close()
    assert smtp.accepted == ADDRESSES[1:3] and smtp.connections == 1
    rows = outbox(store)
    assert rows[ADDRESSES[0]]["failed_at"] is not None and "554" in rows[ADDRESSES[0]]["last_error"]
    assert rows[ADDRESSES[1]]["sent_at"] is not None and rows[ADDRESSES[2]]["sent_at"] is not None


async def test_an_email_that_cannot_be_built_is_given_up_and_the_others_are_sent(store, pipelining):
    with ScriptedSmtp() as smtp:
        mailer = sender(store, smtp.port)
        queue(store, ADDRESSES[0])
        queue(store, ADDRESSES[1], subject="Injected\nBcc: x@evil.example")
        await mailer.drain_once()
        await mailer.close()
    assert smtp.accepted == [ADDRESSES[0]]
    broken = outbox(store)[ADDRESSES[1]]
    assert broken["failed_at"] is not None and "ValueError" in broken["last_error"]


async def test_a_stuck_server_cuts_the_exchange_at_its_deadline_and_fails_the_rest_of_the_session(store):
    queue(store, *ADDRESSES[:2])
    async with SlowSmtp(step=0.4) as slow:  # every step within the 0.5 s timeout, the whole not
        mailer = sender(store, slow.port, timeout=0.5)
        await mailer.drain_once()
        await mailer.close()
    rows = outbox(store)
    assert slow.connections == 1
    assert all(row["sent_at"] is None and row["attempts"] == 1 for row in rows.values())
    assert "Timeout" in rows[ADDRESSES[0]]["last_error"]
    assert "SessionLost" in rows[ADDRESSES[1]]["last_error"] and "Timeout" in rows[ADDRESSES[1]]["last_error"]


async def test_a_session_idle_past_its_timeout_is_closed_and_the_next_email_opens_another(store, pipelining):
    with ScriptedSmtp() as smtp:
        mailer = sender(store, smtp.port, idle_timeout=0.01)
        queue(store, ADDRESSES[0])
        await mailer.drain_once()
        await asyncio.sleep(0.05)
        await mailer.close_idle()
        assert not mailer.sessions[0].is_open
        queue(store, ADDRESSES[1])
        await mailer.drain_once()
        await mailer.close()
    assert smtp.accepted == ADDRESSES[:2] and smtp.connections == 2


async def test_the_outcomes_of_a_batch_are_recorded_in_one_transaction(store, pipelining):
    commits: list[int] = []
    sa_event.listen(store.engine, "commit", lambda conn: commits.append(1))
    with ScriptedSmtp(Script(defer_recipients={ADDRESSES[1]}, refuse_data_for={ADDRESSES[2]})) as smtp:
        mailer = sender(store, smtp.port, sessions=2)
        queue(store, *ADDRESSES)
        commits.clear()
        await mailer.drain_once()
        await mailer.close()
    assert len(commits) == 2  # the claim, then every outcome (sent, retried, given up) at once
    rows = outbox(store)
    assert [rows[a]["sent_at"] is not None for a in ADDRESSES] == [True, False, False, True, True]
    assert rows[ADDRESSES[2]]["failed_at"] is not None and rows[ADDRESSES[1]]["failed_at"] is None


async def test_a_sender_stopped_mid_batch_leaves_the_emails_not_begun_due_again(store):
    # a SIGTERM or a deploy cancels the sender: the e-mail in flight may have been accepted, so
    # it keeps its mark (given up after its lease, never sent twice); the others were never
    # handed to SMTP and are due again at once, not an attempt
    queue(store, *ADDRESSES[:3])
    async with SlowSmtp(step=0.2) as slow:
        mailer = sender(store, slow.port, timeout=5.0)
        draining = asyncio.create_task(mailer.drain_once())
        while slow.connections == 0:
            await asyncio.sleep(0.01)
        draining.cancel()
        with pytest.raises(asyncio.CancelledError):
            await draining
        await mailer.close()
    rows = outbox(store)
    assert rows[ADDRESSES[0]]["last_error"] == DELIVERY_STARTED and rows[ADDRESSES[0]]["sent_at"] is None
    again = EmailOutbox(store.engine).claim_due(datetime.now(timezone.utc), timedelta(seconds=60), 20)
    assert sorted(e.to_address for e in again) == ADDRESSES[1:3]
    assert all(e.attempts == 0 for e in again)


async def test_a_sender_stopped_mid_batch_while_the_database_is_away_still_stops(store, monkeypatch):
    queue(store, *ADDRESSES[:2])
    monkeypatch.setattr("services.notification.mail_sender.RECORD_ATTEMPTS", 1)

    def away(self, outcomes, now):
        raise OperationalError("UPDATE email_outbox", {}, Exception("server closed the connection"))

    async with SlowSmtp(step=0.2) as slow:
        mailer = sender(store, slow.port, timeout=5.0)
        draining = asyncio.create_task(mailer.drain_once())
        while slow.connections == 0:
            await asyncio.sleep(0.01)
        monkeypatch.setattr(EmailOutbox, "record", away)
        draining.cancel()
        with pytest.raises(asyncio.CancelledError):  # not the database's error: run() would go on
            await draining
        await mailer.close()


async def test_outcomes_are_recorded_again_after_a_passing_database_fault(store, pipelining, monkeypatch):
    # dropped, the batch would be given up after its lease, sent or not
    failures = []
    original = EmailOutbox.record

    def failing_once(self, outcomes, now):
        if not failures:
            failures.append(1)
            raise OperationalError("UPDATE email_outbox", {}, Exception("server closed the connection"))
        return original(self, outcomes, now)

    monkeypatch.setattr(EmailOutbox, "record", failing_once)
    with ScriptedSmtp() as smtp:
        mailer = sender(store, smtp.port)
        queue(store, *ADDRESSES[:2])
        assert await mailer.drain_once() == 2
        await mailer.close()
    rows = outbox(store)
    assert failures == [1] and all(rows[a]["sent_at"] is not None for a in ADDRESSES[:2])
    assert smtp.accepted == ADDRESSES[:2]  # recorded again, not sent again


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    return notification_store(request, tmp_path)


def test_two_senders_claiming_at_once_never_take_one_email(any_store):
    queue(any_store, *(f"r{n}@shop.example" for n in range(40)))
    outbox, now, start = EmailOutbox(any_store.engine), datetime.now(timezone.utc), threading.Barrier(2)

    def claim() -> list[str]:
        start.wait()
        return [e.id for e in outbox.claim_due(now, timedelta(minutes=5), limit=25)]

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: claim(), range(2))
    assert first and second and not set(first) & set(second)
    rest = [e.id for e in outbox.claim_due(now, timedelta(minutes=5), limit=100)]
    assert sorted(first + second + rest) == sorted(row["id"] for row in outbox.emails())


def test_a_claim_gives_up_what_a_dead_sender_left_and_takes_the_rest_oldest_first(any_store):
    queue(any_store, "dead@shop.example")
    outbox, now = EmailOutbox(any_store.engine), datetime.now(timezone.utc)
    assert len(outbox.claim_due(now, timedelta(minutes=1))) == 1  # its sender then dies
    queue(any_store, "r1@shop.example", "r2@shop.example")
    later = now + timedelta(minutes=2)
    assert [e.to_address for e in outbox.claim_due(later, timedelta(minutes=1))] == [
        "r1@shop.example", "r2@shop.example"]
    dead = outbox.emails()[0]
    assert dead["failed_at"] is not None and "stopped during delivery" in dead["last_error"]


def test_a_database_made_before_the_index_of_unfinished_emails_gets_it(any_store):
    with any_store.engine.begin() as conn:
        conn.execute(text("DROP INDEX email_outbox_unfinished_by_due"))
    any_store.create_tables()
    assert "email_outbox_unfinished_by_due" in {i["name"] for i in inspect(any_store.engine).get_indexes("email_outbox")}


def test_a_database_made_with_the_full_index_on_next_attempt_at_loses_it(any_store):
    """Only the claim's partial index stays: the full one cost every outbox write an entry."""
    with any_store.engine.begin() as conn:
        conn.execute(text("CREATE INDEX ix_email_outbox_next_attempt_at ON email_outbox (next_attempt_at)"))
    any_store.create_tables()
    indexes = {i["name"]: i["column_names"] for i in inspect(any_store.engine).get_indexes("email_outbox")}
    assert "ix_email_outbox_next_attempt_at" not in indexes
    assert indexes["email_outbox_unfinished_by_due"] == ["next_attempt_at"]
    any_store.create_tables()  # and again: nothing left to drop, the partial index kept
    assert {i["name"]: i["column_names"] for i in inspect(any_store.engine).get_indexes("email_outbox")} == indexes
