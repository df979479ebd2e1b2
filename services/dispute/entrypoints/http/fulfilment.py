"""Carrying out an agreement: the buyer's return, the seller's replacement."""

from __future__ import annotations

from fastapi import APIRouter

from services.dispute.entrypoints.http.commands import run_command
from services.dispute.entrypoints.http.deps import Call, CommandRoute
from services.dispute.entrypoints.http.schemas import AnswerOffer, ReturnReceipt, Shipment
from services.dispute.entrypoints.http.views import DisputeView

router = APIRouter(route_class=CommandRoute)
SELLER, BUYER = frozenset({"seller"}), frozenset({"buyer"})
ON_DISPUTE = "/disputes/{dispute_id}"


@router.post(ON_DISPUTE + "/return-shipment", response_model=DisputeView)
async def ship_return(body: Shipment, call: Call):
    return await run_command(call, roles=BUYER, body=body, act=(
        lambda d, c: d.ship_return(carrier=body.carrier, tracking_number=body.tracking_number,
                                   actor=c.actor, at=c.at, policy=c.policy)))


@router.post(ON_DISPUTE + "/return-receipt", response_model=DisputeView)
async def acknowledge_return(body: ReturnReceipt, call: Call):
    """The seller confirms the return; a problem needs evidence uploaded first (evidence_ids)."""
    return await run_command(call, roles=SELLER, body=body, act=(
        lambda d, c: d.acknowledge_return(condition=body.condition,
                                          evidence_ids=body.evidence_ids, note=body.note,
                                          actor=c.actor, at=c.at, policy=c.policy)))


@router.post(ON_DISPUTE + "/replacement-shipment", response_model=DisputeView)
async def ship_replacement(body: Shipment, call: Call):
    return await run_command(call, roles=SELLER, body=body, act=(
        lambda d, c: d.ship_replacement(carrier=body.carrier,
                                        tracking_number=body.tracking_number,
                                        actor=c.actor, at=c.at)))


@router.post(ON_DISPUTE + "/replacement-receipt", response_model=DisputeView)
async def confirm_replacement(call: Call, body: AnswerOffer | None = None):
    return await run_command(call, roles=BUYER, body=body, act=(
        lambda d, c: d.confirm_replacement(actor=c.actor, at=c.at, policy=c.policy)))
