"""A local SMTP sink for `make run` and tests: accepts every mail, keeps it as an .eml file,
logs one line per mail, and lists them over HTTP.

python -m standins.smtp_sink [--port 8025] [--http-port 8026] [--folder .run/mail]
GET http://127.0.0.1:8026/messages[?to=ADDRESS] -> [{"to", "subject", "body", "file"}, ...]
DELETE http://127.0.0.1:8026/messages empties the folder.
GET /healthz: the HTTP side serves; GET /readyz: 200 only when the SMTP listener greets and the
folder takes files, else 503 naming what is missing (compose's health check).
GET http://127.0.0.1:8026/metrics: Prometheus text, `smtp_sink_mails_accepted_total`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import smtplib
import threading
import time
import uuid
from email import message_from_bytes, policy
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*)>[ \t]*+(?!\()")
"""`<local@domain>` of plain dot-atoms, then the parameters (what every mail of ours sends):
its parse needs no email parser."""
PLAIN_REST = re.compile(r"[ \t\x21-\x27\x2a-\x7e]*")
"""What may follow a plain path for the short cut: parameters, no comment (the parser skips a
comment after any whitespace it knows), no other whitespace."""


def _plain(addr: str, rest: str) -> bool:
    """The short cut gives the parser's answer: no RFC 2047 encoded word in the address (the
    parser decodes it), nothing but plain parameters after it."""
    return "=?" not in addr and PLAIN_REST.fullmatch(rest) is not None


SUBJECT = re.compile(rb"^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def subject_of(content: bytes) -> str | None:
    """The Subject of a mail, unfolded and decoded, for the log line: found in its header
    block alone (parsing the whole mail for it was most of the sink's CPU per mail)."""
    head = re.split(rb"\r?\n\r?\n", content, maxsplit=1)[0]
    found = SUBJECT.search(head)
    if found is None:
        return None
    value = re.sub(rb"\r?\n", b"", found.group(1)).rstrip(b"\r").decode("ascii", "replace")
    return str(make_header(decode_header(value))) if "=?" in value else value


def read_mails(folder: Path) -> list[dict]:
    """Every kept mail, oldest first."""
    mails = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        mails.append({"to": str(message["To"]), "subject": str(message["Subject"]),
                      "body": body.get_content().replace("\r\n", "\n") if body else "",
                      "file": path.name})
    return mails


def keep(path: str, content: bytes) -> None:
    """A new file of these bytes, by the os calls themselves (Path.write_bytes through a
    buffered file object cost twice their CPU: ~35 against ~17 us a mail); a name already
    taken raises rather than overwrite a mail."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


class MailFolder:
    """aiosmtpd handler: one .eml file per accepted mail."""

    def __init__(self, folder: Path, registry: CollectorRegistry | None = None):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.accepted = Counter("smtp_sink_mails_accepted", "Mails the sink accepted and kept",
                                registry=registry or CollectorRegistry())

    async def handle_EHLO(self, server, session, envelope, hostname: str, responses: list[str]) -> list[str]:
        """aiosmtpd's EHLO reply with PIPELINING (RFC 2920) offered: aiosmtpd reads commands
        off its stream one after another and answers each in order, so a pipelined group is
        served as it is (the sender pipelines only when it is offered)."""
        session.host_name = hostname  # what aiosmtpd does itself without an EHLO hook
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope) -> str:
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        keep(f"{self.folder}/{name}", envelope.original_content or envelope.content)
        subject = subject_of(envelope.content)
        print(f"mail to={','.join(envelope.rcpt_tos)} subject={subject!r} file={name}",
              flush=True)
        self.accepted.inc()
        return "250 Message accepted for delivery"


class Server(SMTP):
    """aiosmtpd's SMTP server, but for `_getaddr`: aiosmtpd 1.4.6 defines a typing Protocol
    class inside it, so on every MAIL and RCPT (for its type checker only): a seventh of the
    sink's CPU per mail. The same parse without it, and without the email parser for a plain
    `<local@domain>` (a test compares the two)."""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        if not arg:
            return "", ""
        plain = PLAIN_PATH.match(arg)
        if plain is not None and _plain(plain.group(1), arg[plain.end():]):
            # the email parser's answer for it, a sixth of the sink's CPU cheaper
            addr, rest = plain.group(1), arg[plain.end():]
            if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
                return None, None
            return addr, rest
        try:
            address, rest = (get_angle_addr if arg.lstrip().startswith("<") else get_addr_spec)(arg)
        except HeaderParseError:
            return None, None
        addr = address.addr_spec
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, rest


class SinkController(Controller):
    def factory(self) -> SMTP:
        return Server(self.handler, **self.SMTP_kwargs)


def missing(folder: Path, smtp_address: tuple[str, int]) -> list[str]:
    """What keeps the sink from taking mail: its SMTP listener not greeting, or the folder."""
    gaps = []
    try:
        with smtplib.SMTP(*smtp_address, timeout=2) as smtp:
            smtp.noop()
    except (OSError, smtplib.SMTPException):
        gaps.append("smtp")
    if not (folder.is_dir() and os.access(folder, os.W_OK)):
        gaps.append("folder")
    return gaps


def _http_handler(folder: Path, smtp_address: tuple[str, int], registry: CollectorRegistry):
    class Messages(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/metrics":
                return self._metrics()
            if url.path == "/healthz":
                return self._reply(200, {"status": "ok"})
            if url.path == "/readyz":
                gaps = missing(folder, smtp_address)
                if gaps:
                    return self._reply(503, {"type": "urn:problem:NOT_READY", "title": "Not ready", "status": 503,
                                             "code": "NOT_READY", "detail": f"not ready: {', '.join(gaps)}",
                                             "missing": gaps}, "application/problem+json")
                return self._reply(200, {"status": "ready"})
            if url.path != "/messages":
                return self._reply(404, {"error": "try GET /messages"})
            to = parse_qs(url.query).get("to", [None])[0]
            self._reply(200, [m for m in read_mails(folder) if to is None or to in m["to"]])

        def do_DELETE(self):
            for path in folder.glob("*.eml"):
                path.unlink(missing_ok=True)
            self._reply(200, [])

        def _metrics(self) -> None:
            self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)

        def _reply(self, status: int, body, content_type: str = "application/json") -> None:
            self._send(status, json.dumps(body).encode(), content_type)

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    return Messages


class SmtpSink:
    def __init__(self, folder: Path, port: int = 8025, http_port: int | None = 8026,
                 host: str = "127.0.0.1"):
        self.folder, self.registry = Path(folder), CollectorRegistry()
        self.smtp = SinkController(MailFolder(self.folder, self.registry), hostname=host, port=port)
        probe = ("127.0.0.1" if host in ("0.0.0.0", "") else host, port)  # noqa: S104 (the wildcard is reached locally)
        self.http = ThreadingHTTPServer((host, http_port), _http_handler(self.folder, probe, self.registry)) \
            if http_port is not None else None

    def start(self) -> "SmtpSink":
        self.smtp.start()
        if self.http is not None:
            threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.smtp.stop()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()

    def mails(self) -> list[dict]:
        return read_mails(self.folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--http-port", type=int, default=8026)
    parser.add_argument("--folder", type=Path, default=Path(".run/mail"))
    args = parser.parse_args()
    sink = SmtpSink(args.folder, args.port, args.http_port, args.host).start()
    print(f"SMTP sink on {args.host}:{args.port}, mails in {args.folder}/, "
          f"list: http://{args.host}:{args.http_port}/messages", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
