"""Pure: the words a template is filled with, for one recipient. No I/O here.

Deadlines in a payload are RFC 3339 instants; a recipient reads them in their own time zone
("3 Dec 15:00 CET"), or in UTC when we do not know it.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DATETIME_FIELDS = frozenset({"respond_by", "due", "acknowledge_by", "appeal_until", "ship_by",
                             "escalation_allowed_from"})
AMOUNT_FIELDS = frozenset({"amount", "refund_amount", "paid_amount", "request_amount"})
CODE_FIELDS = frozenset({"reason", "request", "offer_type", "remedy", "outcome", "resolved_by",
                         "condition", "trigger", "deadline", "from_party", "made_by"})
ACTORS = {"buyer": "the buyer", "seller": "the seller", "operator": "the platform",
          "service": "the platform"}


def zone(time_zone: str | None) -> ZoneInfo | timezone:
    """The recipient's zone; UTC when unknown or not a real IANA zone name."""
    if not time_zone:
        return timezone.utc
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def is_time_zone(name: str) -> bool:
    return isinstance(zone(name), ZoneInfo)


def when(instant: str | datetime, time_zone: str | None = None) -> str:
    """'3 Dec 14:00 UTC': an instant as the recipient reads it."""
    moment = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    if moment.tzinfo is None:
        raise ValueError(f"a deadline without a time zone: {instant!r}")
    tz = zone(time_zone)
    local = moment.astimezone(tz)
    label = "UTC" if tz is timezone.utc else local.tzname()
    return f"{local.day} {local:%b %H:%M} {label}"


def one_line(text: str) -> str:
    """A subject line: payload text (a carrier "DHL\\nX") may carry CR, LF or other control
    characters, which no mail header may hold (EmailMessage refuses them), so each run of them
    and of spaces becomes one space."""
    if text.isprintable():  # no control character nor line break (nor other separators than " ")
        return " ".join(text.split())  # the same result without a look at every character
    return " ".join("".join(" " if _is_control(c) else c for c in text).split())


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")  # C0/C1 controls, line breaks


def words(code: str | None) -> str:
    """NOT_AS_DESCRIBED -> 'not as described'."""
    return (code or "").replace("_", " ").lower()


def money(amount: str | None, currency: str | None) -> str:
    return f"{amount} {currency or ''}".strip() if amount not in (None, "") else ""


def template_values(payload: dict[str, Any], dispute_id: str, actor_role: str | None,
                    time_zone: str | None) -> dict[str, str]:
    """Every payload field as text, plus a few phrases the templates share."""
    values = {key: _text(key, value, payload, time_zone) for key, value in payload.items()
              if not isinstance(value, dict)}
    for name, instant in (payload.get("deadlines") or {}).items():
        values[f"deadline_{name.lower()}"] = when(instant, time_zone)
    values.update(dispute_id=dispute_id, actor=ACTORS.get(actor_role or "", "someone"),
                  offer=_phrase(payload.get("offer_type"), values.get("amount")),
                  remedy_text=_phrase(payload.get("remedy"), values.get("refund_amount")))
    return values


def _text(key: str, value: Any, payload: dict[str, Any], time_zone: str | None) -> str:
    if value is None:
        return ""
    if key in DATETIME_FIELDS:
        return when(value, time_zone)
    if key in AMOUNT_FIELDS:
        return money(value, payload.get("currency"))
    if key in CODE_FIELDS:
        return words(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _phrase(code: str | None, amount: str | None) -> str:
    """'a partial refund of 30.00 USD', 'a replacement'."""
    if not code:
        return ""
    if code == "NONE":
        return "no refund"
    return f"a {words(code)}" + (f" of {amount}" if amount else "")
