"""Pure: which dispute events become refund instructions. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

HANDLED = {"Resolved", "AppealDecided"}


@dataclass(frozen=True)
class RefundInstruction:
    dispute_id: str
    idempotency_key: str
    amount: Decimal
    currency: str


def refund_for(event_type: str, event_id: str, dispute_id: str,
               payload: dict[str, Any]) -> RefundInstruction | None:
    """A resolution (or appeal award) with money to return; None for everything else."""
    if event_type not in HANDLED:
        return None
    amount = Decimal(str(payload.get("refund_amount") or payload.get("extra_refund_amount") or "0"))
    if amount <= 0:
        return None
    return RefundInstruction(dispute_id=dispute_id, idempotency_key=f"refund:{event_id}",
                             amount=amount, currency=payload["currency"])
