"""Configurable rule parameters (DOMAIN.md defaults). Passed into commands, never read globally."""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class DisputePolicy:
    filing_window_after_promised_delivery: timedelta = timedelta(days=30)
    seller_response_window: timedelta = timedelta(days=5)
    buyer_response_window: timedelta = timedelta(days=5)
    escalation_opens_after: timedelta = timedelta(days=3)
    negotiation_max: timedelta = timedelta(days=15)
    return_ship_by: timedelta = timedelta(days=10)
    return_acknowledgement_window: timedelta = timedelta(days=7)
    # No delivery signal reaches the dispute, so the acknowledgement clock starts when the
    # buyer ships, after this allowance for the parcel to arrive.
    return_transit_allowance: timedelta = timedelta(days=7)
    evidence_request_window: timedelta = timedelta(hours=72)
    appeal_window: timedelta = timedelta(days=15)
    max_offer_rounds: int = 3
    max_appeals: int = 1
    buyer_timeout_escalates: bool = False
    # Caps per dispute, so no stream (and no view of it) grows without bound.
    max_messages: int = 500
    max_evidence_files: int = 50
    max_offers: int = 20
