"""Negotiation: offers and their answers, the claim, escalation and withdrawal."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.ids import uuid4
from services.dispute.application import commands
from services.dispute.entrypoints.http.command_requests import Created, run_command
from services.dispute.entrypoints.http.command_route import CommandRoute
from services.dispute.entrypoints.http.deps import PARTIES, Call
from services.dispute.entrypoints.http.responses import COMMAND, creating
from services.dispute.entrypoints.http.schemas import (
    AnswerOffer, Escalate, MakeOffer, OfferTermsBody, RejectClaim, RejectOffer, Withdraw,
)
from services.dispute.entrypoints.http.views import DisputeView, OfferCreated
from services.dispute.domain import OfferTerms

router = APIRouter(route_class=CommandRoute, tags=["negotiation"])
SELLER, BUYER = frozenset({"seller"}), frozenset({"buyer"})
ON_DISPUTE = "/disputes/{dispute_id}"


def new_offer(offer_id: str):
    return Created("offer", "offers", offer_id)


def terms(body: OfferTermsBody | None) -> OfferTerms | None:
    if body is None:
        return None
    return OfferTerms(str(uuid4()), body.type, body.amount, body.currency, body.note)


@router.post(ON_DISPUTE + "/offers", status_code=201, response_model=OfferCreated,
             responses=creating("offer"))
async def make_offer(body: MakeOffer, call: Call):
    """The party whose move it is proposes a solution (supersedes any open offer)."""
    offer_id = str(uuid4())
    command = commands.MakeOffer(offer_id=offer_id, offer_type=body.type, amount=body.amount,
                                 currency=body.currency, note=body.note)
    return await run_command(call, command, roles=PARTIES, body=body, created=new_offer(offer_id))


@router.post(ON_DISPUTE + "/offers/{offer_id}/accept", response_model=DisputeView,
             responses=COMMAND)
async def accept_offer(offer_id: str, call: Call, body: AnswerOffer | None = None):
    return await run_command(call, commands.AcceptOffer(offer_id), roles=PARTIES, body=body)


@router.post(ON_DISPUTE + "/offers/{offer_id}/reject", response_model=DisputeView,
             responses=COMMAND)
async def reject_offer(offer_id: str, call: Call, body: RejectOffer | None = None):
    """Reject the current offer, optionally with a counter-offer."""
    body = body or RejectOffer()
    command = commands.RejectOffer(offer_id=offer_id, counter_offer=terms(body.counter_offer),
                                   reason=body.reason)
    return await run_command(call, command, roles=PARTIES, body=body)


@router.post(ON_DISPUTE + "/accept-claim", response_model=DisputeView,
             responses=COMMAND)
async def accept_claim(call: Call, body: AnswerOffer | None = None):
    """The seller grants what the buyer asked for."""
    return await run_command(call, commands.AcceptClaim(), roles=SELLER, body=body)


@router.post(ON_DISPUTE + "/reject-claim", response_model=DisputeView,
             responses=COMMAND)
async def reject_claim(body: RejectClaim, call: Call):
    """The seller refuses, with evidence already uploaded (evidence_ids) or a counter-offer."""
    command = commands.RejectClaim(evidence_ids=body.evidence_ids,
                                   counter_offer=terms(body.counter_offer), reason=body.reason)
    return await run_command(call, command, roles=SELLER, body=body)


@router.post(ON_DISPUTE + "/escalate", response_model=DisputeView,
             responses=COMMAND)
async def escalate(call: Call, body: Escalate | None = None):
    body = body or Escalate()
    return await run_command(call, commands.Escalate(note=body.note), roles=PARTIES, body=body)


@router.post(ON_DISPUTE + "/withdraw", response_model=DisputeView,
             responses=COMMAND)
async def withdraw(call: Call, body: Withdraw | None = None):
    body = body or Withdraw()
    return await run_command(call, commands.Withdraw(reason=body.reason), roles=BUYER, body=body)
