"""Negotiation: offers and their answers, the claim, escalation and withdrawal."""

from __future__ import annotations

from uuid import uuid4

from fastapi import APIRouter

from services.dispute.entrypoints.http.commands import Created, run_command
from services.dispute.entrypoints.http.deps import PARTIES, Call, CommandRoute
from services.dispute.entrypoints.http.schemas import (
    AnswerOffer, Escalate, MakeOffer, OfferTermsBody, RejectClaim, RejectOffer, Withdraw,
)
from services.dispute.entrypoints.http.views import DisputeView, OfferCreated
from services.dispute.domain import OfferTerms

router = APIRouter(route_class=CommandRoute)
SELLER, BUYER = frozenset({"seller"}), frozenset({"buyer"})
ON_DISPUTE = "/disputes/{dispute_id}"


def new_offer(offer_id: str):
    return Created("offer", "offers", offer_id)


def terms(body: OfferTermsBody | None) -> OfferTerms | None:
    if body is None:
        return None
    return OfferTerms(str(uuid4()), body.type, body.amount, body.currency, body.note)


@router.post(ON_DISPUTE + "/offers", status_code=201, response_model=OfferCreated)
async def make_offer(body: MakeOffer, call: Call):
    """The party whose move it is proposes a solution (supersedes any open offer)."""
    offer_id = str(uuid4())
    return await run_command(call, roles=PARTIES, body=body, created=new_offer(offer_id), act=(
        lambda d, c: d.make_offer(offer_id=offer_id, offer_type=body.type, amount=body.amount,
                                  currency=body.currency, note=body.note, actor=c.actor,
                                  at=c.at, policy=c.policy)))


@router.post(ON_DISPUTE + "/offers/{offer_id}/accept", response_model=DisputeView)
async def accept_offer(offer_id: str, call: Call, body: AnswerOffer | None = None):
    return await run_command(call, roles=PARTIES, body=body, act=(
        lambda d, c: d.accept_offer(offer_id=offer_id, actor=c.actor, at=c.at, policy=c.policy)))


@router.post(ON_DISPUTE + "/offers/{offer_id}/reject", response_model=DisputeView)
async def reject_offer(offer_id: str, call: Call, body: RejectOffer | None = None):
    """Reject the current offer, optionally with a counter-offer."""
    body = body or RejectOffer()
    counter = terms(body.counter_offer)
    return await run_command(call, roles=PARTIES, body=body, act=(
        lambda d, c: d.reject_offer(offer_id=offer_id, counter_offer=counter, reason=body.reason,
                                    actor=c.actor, at=c.at, policy=c.policy)))


@router.post(ON_DISPUTE + "/accept-claim", response_model=DisputeView)
async def accept_claim(call: Call, body: AnswerOffer | None = None):
    """The seller grants what the buyer asked for."""
    return await run_command(call, roles=SELLER, body=body, act=(
        lambda d, c: d.accept_claim(actor=c.actor, at=c.at, policy=c.policy)))


@router.post(ON_DISPUTE + "/reject-claim", response_model=DisputeView)
async def reject_claim(body: RejectClaim, call: Call):
    """The seller refuses, with evidence already uploaded (evidence_ids) or a counter-offer."""
    counter = terms(body.counter_offer)
    return await run_command(call, roles=SELLER, body=body, act=(
        lambda d, c: d.reject_claim(evidence_ids=body.evidence_ids, counter_offer=counter,
                                    reason=body.reason, actor=c.actor, at=c.at,
                                    policy=c.policy)))


@router.post(ON_DISPUTE + "/escalate", response_model=DisputeView)
async def escalate(call: Call, body: Escalate | None = None):
    body = body or Escalate()
    return await run_command(call, roles=PARTIES, body=body, act=(
        lambda d, c: d.escalate(note=body.note, actor=c.actor, at=c.at)))


@router.post(ON_DISPUTE + "/withdraw", response_model=DisputeView)
async def withdraw(call: Call, body: Withdraw | None = None):
    body = body or Withdraw()
    return await run_command(call, roles=BUYER, body=body, act=(
        lambda d, c: d.withdraw(reason=body.reason, actor=c.actor, at=c.at)))
