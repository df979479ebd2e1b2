"""Carrying out an agreement: the buyer's return, the seller's replacement."""

from __future__ import annotations

from fastapi import APIRouter

from services.dispute.application import commands
from services.dispute.entrypoints.http.command_requests import run_command
from services.dispute.entrypoints.http.command_route import CommandRoute
from services.dispute.entrypoints.http.deps import Call
from services.dispute.entrypoints.http.responses import COMMAND
from services.dispute.entrypoints.http.schemas import AnswerOffer, ReturnReceipt, Shipment
from services.dispute.entrypoints.http.views import DisputeView

router = APIRouter(route_class=CommandRoute, tags=["fulfilment"])
SELLER, BUYER = frozenset({"seller"}), frozenset({"buyer"})
ON_DISPUTE = "/disputes/{dispute_id}"


@router.post(ON_DISPUTE + "/return-shipment", response_model=DisputeView,
             responses=COMMAND)
async def ship_return(body: Shipment, call: Call):
    command = commands.ShipReturn(carrier=body.carrier, tracking_number=body.tracking_number)
    return await run_command(call, command, roles=BUYER, body=body)


@router.post(ON_DISPUTE + "/return-receipt", response_model=DisputeView,
             responses=COMMAND)
async def acknowledge_return(body: ReturnReceipt, call: Call):
    """The seller confirms the return; a problem needs evidence uploaded first (evidence_ids)."""
    command = commands.AcknowledgeReturn(condition=body.condition, evidence_ids=body.evidence_ids,
                                         note=body.note)
    return await run_command(call, command, roles=SELLER, body=body)


@router.post(ON_DISPUTE + "/replacement-shipment", response_model=DisputeView,
             responses=COMMAND)
async def ship_replacement(body: Shipment, call: Call):
    command = commands.ShipReplacement(carrier=body.carrier, tracking_number=body.tracking_number)
    return await run_command(call, command, roles=SELLER, body=body)


@router.post(ON_DISPUTE + "/replacement-receipt", response_model=DisputeView,
             responses=COMMAND)
async def confirm_replacement(call: Call, body: AnswerOffer | None = None):
    return await run_command(call, commands.ConfirmReplacement(), roles=BUYER, body=body)
