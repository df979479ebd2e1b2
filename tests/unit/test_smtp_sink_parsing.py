"""The SMTP sink's cheaper parsing says what the libraries say: its MAIL/RCPT address parse is
aiosmtpd's own (without the class aiosmtpd defines on every call), and the subject of its log
line is the one the email package reads."""

from __future__ import annotations

from email import message_from_bytes, policy

from aiosmtpd.smtp import SMTP
from hypothesis import example, given, settings
from hypothesis import strategies as st

from standins.smtp_sink import MailFolder, Server, subject_of

PLAIN_ARGS = st.tuples(st.from_regex(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,40}>", fullmatch=True),
                       st.from_regex(r"[ \t\x0b(]{0,3}([A-Za-z0-9=() ]{0,20})?", fullmatch=True)).map("".join)
ARGS = st.one_of(PLAIN_ARGS, st.from_regex(r"<[a-z0-9.+\-\"]{0,70}@[a-z0-9.\-\[\]]{0,20}>( SIZE=\d+)?", fullmatch=True),
                 st.from_regex(r"[a-z0-9.@<> ]{0,30}", fullmatch=True), st.text(max_size=40))


@settings(max_examples=600, deadline=None)
@given(arg=ARGS, limit=st.sampled_from([0, 8, 64]))
@example(arg="<>", limit=0)
@example(arg="", limit=0)
@example(arg='<"a b"@example.com> BODY=8BITMIME', limit=0)
@example(arg="<disputes@dispute-platform.localhost> SIZE=612 BODY=8BITMIME", limit=64)
@example(arg="<s-1@example.invalid>", limit=0)
@example(arg="<a@b> (c) SIZE=1", limit=0)
@example(arg="<a@b> \t(c)", limit=0)
@example(arg="<a..b@c>", limit=0)
@example(arg="<a@b.>", limit=0)
@example(arg="<a.b@c> SIZE=1", limit=1)
@example(arg="<=?us-ascii?q?x?=@b>", limit=0)
@example(arg="<=?us-ascii?q?abc?=@b>", limit=3)
@example(arg="<a@b> \x0b(c)", limit=0)
@example(arg="<a@b> SIZE=1 (c)", limit=0)
def test_the_sink_parses_an_smtp_address_as_aiosmtpd_does(tmp_path_factory, arg, limit):
    folder = MailFolder(tmp_path_factory.mktemp("mail"))
    ours, theirs = Server(folder), SMTP(folder)
    ours.local_part_limit = theirs.local_part_limit = limit
    assert outcome(ours._getaddr, arg) == outcome(theirs._getaddr, arg)


def outcome(parse, arg):
    try:
        return parse(arg)
    except Exception as error:  # both fail alike on what the email parser cannot take ("<")
        return type(error)


HEADER_TEXT = st.from_regex(r"[ -~]{0,60}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(subject=st.one_of(HEADER_TEXT, st.text(max_size=60)), folded=st.booleans(), other=HEADER_TEXT)
@example(subject="=?utf-8?q?Ihr_R=C3=BCckgabeetikett?=", folded=False, other="x")
def test_the_log_line_subject_is_the_one_the_email_package_reads(subject, folded, other):
    subject = subject.replace("\r", " ").replace("\n", " ")
    value = subject.replace(" ", "\r\n ", 1) if folded and " " in subject.strip() else subject
    raw = (f"From: a@b.example\r\nSubject: {value}\r\nX-Other: {other}\r\n\r\nSubject: not this\r\n"
           .encode("utf-8", "surrogateescape"))
    if not raw.isascii():
        return  # on the wire a header is ASCII (RFC 5322); anything else is encoded words
    assert subject_of(raw) == message_from_bytes(raw, policy=policy.default)["Subject"]


def test_a_mail_without_a_subject_has_none():
    assert subject_of(b"From: a@b.example\r\n\r\nSubject: in the body\r\n") is None


def test_a_mail_is_kept_byte_for_byte_and_never_over_another(tmp_path):
    import pytest

    from standins.smtp_sink import keep, read_mails

    raw = b"From: a@b.example\r\nTo: s-1@example.invalid\r\nSubject: Hi\r\n\r\nBody line\r\n" + b"x" * 70_000
    keep(f"{tmp_path}/1-a.eml", raw)
    assert (tmp_path / "1-a.eml").read_bytes() == raw
    assert [(m["to"], m["subject"], m["file"]) for m in read_mails(tmp_path)] == [
        ("s-1@example.invalid", "Hi", "1-a.eml")]
    with pytest.raises(FileExistsError):
        keep(f"{tmp_path}/1-a.eml", b"other")
    assert (tmp_path / "1-a.eml").read_bytes() == raw
