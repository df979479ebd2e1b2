"""A plain e-mail's bytes written directly, as the email package would write them.

Building the e-mail as an EmailMessage (mail_sender.as_message) and flattening it (aiosmtplib)
cost more CPU than the rest of its delivery: every header is parsed into objects and folded
again. Most of our e-mails are plain: an ASCII address, a short subject of printable ASCII
words, an ASCII body (7bit, or quoted-printable when a line is longer than 78 characters, as
every notice of the refund path has), a UUID event id. For those, `plain_mail` writes the same
bytes the email package writes (tests/unit/test_plain_mail.py checks it byte for byte over
generated e-mails) with the same envelope; for anything else it returns None and the email
package does the work (non-ASCII, a body it would send as base64, a header that folds or needs
encoding, and a header with CR/LF, which as_message refuses).
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass
from email import quoprimime
from email.message import EmailMessage
from email.policy import default

from aiosmtplib.email import extract_sender, quote_address

from services.notification.email_outbox import OutgoingEmail

CRLF = "\r\n"
MAX_LINE: int = default.max_line_length or 78  # beyond it the email package folds or encodes
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = re.compile(rf"{_ATOM}(\.{_ATOM})*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
PLAIN_WORDS = re.compile(r"[!-~]+( [!-~]+)*")  # printable ASCII words, one space apart
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the email package's generator splits a payload on


def _mime_lines(cte: str) -> str:
    return (f'Content-Type: text/plain; charset="utf-8"{CRLF}Content-Transfer-Encoding: {cte}{CRLF}'
            f'MIME-Version: 1.0{CRLF}')


@dataclass(frozen=True)
class PlainMail:
    """What to hand to SMTP: the envelope, its two addresses as MAIL FROM and RCPT TO carry
    them (`FROM:<sender>`, `TO:<recipient>`), and the message's bytes."""

    sender: str
    recipient: str
    data: bytes
    mail_from: bytes
    rcpt_to: bytes


class PlainMails:
    """Plain e-mails from one sender (its From line folded once by the email package)."""

    def __init__(self, sender: str):
        message = EmailMessage()
        message["From"] = sender
        folded = default.clone(linesep=CRLF).fold("From", message["From"])
        self.from_line = folded if folded.isascii() else None
        self.envelope_sender = extract_sender(message) or ""
        # quoted once, by aiosmtplib's own quote_address (it parses the address again on every
        # MAIL and RCPT: a third of the sender's SMTP CPU); a plain recipient is quoted as it
        # would quote it (tests/unit/test_plain_mail.py checks it over generated addresses)
        self.mail_from = _mail_from(self.envelope_sender)

    def of(self, email: OutgoingEmail) -> PlainMail | None:
        if self.from_line is None or not self.mail_from:
            return None
        to, subject, event_id = email.to_address, email.subject, email.event_id
        if not (PLAIN_ADDRESS.fullmatch(to) and UUID.fullmatch(event_id)
                and PLAIN_WORDS.fullmatch(subject) and "=?" not in subject):
            return None
        to_line, subject_line = f"To: {to}", f"Subject: {subject}"
        encoded = _plain_body(email.body)
        if encoded is None or len(to_line) > MAX_LINE or len(subject_line) > MAX_LINE:
            return None
        # Message-ID (84 characters with its name) folds to a line of its own
        data = (f"{self.from_line}{to_line}{CRLF}{subject_line}{CRLF}"
                f"Message-ID:{CRLF} {message_id(email)}{CRLF}"
                f"X-Dispute-Event-Id: {event_id}{CRLF}{_mime_lines(encoded[0])}{CRLF}{encoded[1]}")
        return PlainMail(self.envelope_sender, to, data.encode("ascii"), self.mail_from, f"TO:<{to}>".encode())


def _mail_from(sender: str) -> bytes:
    """`FROM:<sender>` as aiosmtplib's MAIL sends it; empty (every e-mail then goes through the
    email package, and fails there as it would) when the sender is not ASCII or is refused."""
    try:
        return f"FROM:{quote_address(sender)}".encode("ascii")
    except (ValueError, UnicodeEncodeError):
        return b""


def message_id(email: OutgoingEmail) -> str:
    """Stable per (event, recipient): a resend after a crash is recognisably the same e-mail."""
    digest = hashlib.sha256(email.recipient.encode()).hexdigest()[:16]
    return f"<{email.event_id}.{digest}@dispute-platform>"


def _plain_body(body: str) -> tuple[str, str] | None:
    """The body's transfer encoding and its lines as the email package writes a text part
    (email.contentmanager's choice, each line ending in CRLF): 7bit when every line is within
    MAX_LINE, else quoted-printable by the package's own encoder (a line of a notice's text
    is often longer), unless its heuristic would choose base64; None unless ASCII."""
    if not body.isascii():
        return None
    lines = body.encode("ascii").splitlines()
    if all(len(line) <= MAX_LINE for line in lines):
        return "7bit", "".join(line.decode("ascii") + CRLF for line in lines) or CRLF
    text = "".join(line.decode("ascii") + "\n" for line in lines)
    sniff = "".join(line.decode("ascii") + "\n" for line in lines[:10])
    sniff_qp = quoprimime.body_encode(sniff, MAX_LINE)
    if len(sniff_qp) > len(binascii.b2a_base64(sniff.encode("ascii"))):
        return None  # base64, as the package would choose: left to it
    encoded = sniff_qp if len(lines) <= 10 else quoprimime.body_encode(text, MAX_LINE)
    parts = LINE_BREAK.split(encoded)
    return "quoted-printable", "".join(part + CRLF for part in parts[:-1]) + parts[-1]
