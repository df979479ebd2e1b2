"""The plain e-mails written directly (plain_mail.py) are byte for byte what the email package
writes for the same e-mail (as_message, flattened by aiosmtplib as it sends), with the same
envelope; whatever it cannot write so is left to the email package."""

from __future__ import annotations

from uuid import uuid4

from aiosmtplib.email import extract_recipients, extract_sender, flatten_message, quote_address
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.notification.email_outbox import OutgoingEmail
from services.notification.mail_sender import SmtpServer, as_message
from services.notification.plain_mail import MAX_LINE, PLAIN_ADDRESS, PlainMails

SENDER = SmtpServer().sender
PLAIN = PlainMails(SENDER)


def email(to="s-1@shop.example", subject="A buyer opened a dispute on order O-1",
          body="Respond by 3 Dec 15:00 CET.\n\nhttps://disputes.example/d/1\n",
          event_id=None, recipient="seller:S-1") -> OutgoingEmail:
    return OutgoingEmail("row-1", event_id or str(uuid4()), recipient, to, subject, body, 0)


def assert_as_the_email_package_writes_it(outgoing: OutgoingEmail) -> None:
    plain = PLAIN.of(outgoing)
    if plain is None:
        return
    message = as_message(outgoing, SENDER)
    for cte_type in ("8bit", "7bit"):  # as aiosmtplib flattens it with and without 8BITMIME
        assert plain.data == flatten_message(message, cte_type=cte_type)
    assert (plain.sender, [plain.recipient]) == (extract_sender(message), extract_recipients(message))
    # MAIL FROM and RCPT TO as aiosmtplib's mail() and rcpt() would quote the envelope
    assert plain.mail_from == f"FROM:{quote_address(plain.sender)}".encode()
    assert plain.rcpt_to == f"TO:{quote_address(plain.recipient)}".encode()


@settings(max_examples=500, deadline=None)
@given(st.from_regex(PLAIN_ADDRESS, fullmatch=True))
@example("o'brien+disputes@a-b.example")
@example("{x}|~#$%&*/=?^_`!@b.c")
def test_a_plain_address_is_quoted_as_aiosmtplib_quotes_it(address):
    """The session sends `TO:<address>` for a plain recipient without aiosmtplib's parse."""
    assert quote_address(address) == f"<{address}>"
    plain = PLAIN.of(email(to=address))
    if len(f"To: {address}") > MAX_LINE:  # its To: line would fold: the email package writes it
        assert plain is None
    else:
        assert plain is not None and plain.rcpt_to == f"TO:<{address}>".encode()


def test_a_typical_email_is_written_directly_as_the_email_package_writes_it():
    outgoing = email()
    assert PLAIN.of(outgoing) is not None
    assert_as_the_email_package_writes_it(outgoing)


addresses = st.one_of(
    st.from_regex(r"[a-z0-9._+-]{1,30}@[a-z0-9-]{1,20}(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.text(max_size=40))
words = st.lists(st.from_regex(r"[!-~]{1,14}", fullmatch=True), max_size=8).map(" ".join)
subjects = st.one_of(words, st.from_regex(r"[ -~]{0,90}", fullmatch=True), st.text(max_size=90))
bodies = st.one_of(st.from_regex(r"([ -~]{0,100}(\r\n|\n|\r)){0,6}[ -~]{0,100}", fullmatch=True),
                   st.text(max_size=300))
event_ids = st.one_of(st.uuids().map(str), st.text(max_size=40))


@settings(max_examples=400, deadline=None)
@given(to=addresses, subject=subjects, body=bodies, event_id=event_ids, recipient=st.text(max_size=30))
@example(to="a@b.example", subject="x" * 69, body="", event_id=str(uuid4()), recipient="buyer:B-1")
@example(to="a@b.example", subject="Hi there", body="." * 78 + "\n\n", event_id=str(uuid4()), recipient="")
@example(to="a@b.example", subject="Hi  there ", body="x", event_id=str(uuid4()), recipient="")
@example(to="a@b.example", subject="=?utf-8?q?hi?=", body="x\ry\r\n", event_id=str(uuid4()), recipient="r")
def test_any_email_written_directly_is_what_the_email_package_writes(to, subject, body, event_id, recipient):
    assert_as_the_email_package_writes_it(email(to, subject, body, event_id, recipient))


def test_the_envelope_sender_is_quoted_once_as_aiosmtplib_quotes_it():
    for sender, quoted in (("Platform <disputes@x.example>", b"FROM:<disputes@x.example>"),
                           ("Platform <dis putes@x.example>", b'FROM:<"dis putes"@x.example>')):
        plain = PlainMails(sender).of(email())
        assert plain is not None and plain.mail_from == quoted


def test_what_it_cannot_write_directly_is_left_to_the_email_package():
    for outgoing in (email(subject="Ihr Rückgabeetikett"), email(body="Prix : 12 €\n"),
                     email(to="José@shop.example"), email(subject="x" * 80),
                     email(subject="Injected\r\nBcc: x@evil.example"), email(event_id="E-1"),
                     email(body="=" * 90 + "\n")):  # quoted-printable would triple it: base64
        assert PLAIN.of(outgoing) is None


@pytest.mark.parametrize("body", [
    "y" * 79 + "\n",
    "A line of a notice that runs on past seventy-eight characters, as most notices' lines do.\n\nDispute 1\n",
    "\n".join(f"line {n} " + "z" * (60 + 3 * n) for n in range(14)) + "\n",  # more than ten lines
    "trailing spaces  \n" + "w" * 100 + " \n= equals = and tabs\t\n",
    "no newline at the end " * 6])
def test_a_body_with_long_lines_is_written_directly_quoted_printable_as_the_email_package_writes_it(body):
    outgoing = email(body=body)
    assert PLAIN.of(outgoing) is not None
    assert b"Content-Transfer-Encoding: quoted-printable" in PLAIN.of(outgoing).data
    assert_as_the_email_package_writes_it(outgoing)


def test_the_refund_path_notices_are_written_directly_as_the_email_package_writes_them():
    """Their lines are longer than 78 characters: before, every one went through the email
    package, a quarter of the notification service's CPU in the end-to-end bench."""
    from services.notification.notices import Parties, notices_for
    from services.notification.template_files import load_templates
    from tests.support.envelopes import OPENED, resolved_payload

    payloads = {"DisputeOpened": OPENED,
                "Resolved": resolved_payload("100.00", outcome="BUYER_FAVOURED", resolved_by="SELLER_ACCEPTED",
                                             remedy="FULL_REFUND"),
                "ClaimAccepted": {"remedy": "FULL_REFUND", "refund_amount": "100.00", "currency": "USD"},
                "RefundIssued": {"refund_id": "R-1", "amount": "100.00", "currency": "USD", "provider_reference": "p"}}
    templates = load_templates()
    notices = [notice for event_type, payload in payloads.items()
               for notice in notices_for(event_type, payload, str(uuid4()), Parties("B-1", "S-1"),
                                         templates=templates, actor_role="seller")]
    assert len(notices) == 6
    for notice in notices:
        outgoing = email(to="b-1@home.example", subject=notice.subject, body=notice.body, recipient=notice.to.key)
        assert PLAIN.of(outgoing) is not None
        assert_as_the_email_package_writes_it(outgoing)
