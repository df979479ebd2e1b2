"""The platform's part (operators): evidence requests, decisions, appeals and closing; and the
losing party's appeal."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.ids import uuid4
from services.dispute.application import commands
from services.dispute.entrypoints.http.command_requests import Created, run_command
from services.dispute.entrypoints.http.command_route import CommandRoute
from services.dispute.entrypoints.http.deps import OPERATOR, PARTIES, Call
from services.dispute.entrypoints.http.responses import COMMAND, creating
from services.dispute.entrypoints.http.schemas import (Appeal, AnswerOffer, Decide, DecideAppeal,
                                                      RequestEvidence)
from services.dispute.entrypoints.http.views import (AppealCreated, DisputeView,
                                                    EvidenceRequestCreated)

router = APIRouter(route_class=CommandRoute, tags=["review"])
ON_DISPUTE = "/disputes/{dispute_id}"


@router.post(ON_DISPUTE + "/evidence-requests", status_code=201,
             response_model=EvidenceRequestCreated,
             responses=creating("evidence_request"))
async def request_evidence(body: RequestEvidence, call: Call):
    request_id = str(uuid4())
    created = Created("evidence_request", "evidence-requests", request_id)
    command = commands.RequestEvidence(request_id=request_id, from_party=body.from_party,
                                       note=body.note)
    return await run_command(call, command, roles=OPERATOR, body=body, created=created)


@router.post(ON_DISPUTE + "/decision", response_model=DisputeView,
             responses=COMMAND)
async def decide(body: Decide, call: Call):
    command = commands.Decide(outcome=body.outcome, refund_amount=body.refund_amount,
                              currency=body.currency, return_required=body.return_required,
                              note=body.note)
    return await run_command(call, command, roles=OPERATOR, body=body)


@router.post(ON_DISPUTE + "/appeals", status_code=201, response_model=AppealCreated,
             responses=creating("appeal"))
async def appeal(body: Appeal, call: Call):
    """The losing party appeals, citing evidence it uploaded after the resolution."""
    appeal_id = str(uuid4())
    created = Created("appeal", "appeals", appeal_id)
    command = commands.Appeal(appeal_id=appeal_id, evidence_ids=body.evidence_ids,
                              reason=body.reason)
    return await run_command(call, command, roles=PARTIES, body=body, created=created)


@router.post(ON_DISPUTE + "/appeals/{appeal_id}/decision", response_model=DisputeView,
             responses=COMMAND)
async def decide_appeal(appeal_id: str, body: DecideAppeal, call: Call):
    command = commands.DecideAppeal(appeal_id=appeal_id, outcome=body.outcome,
                                    extra_refund=body.extra_refund, currency=body.currency,
                                    note=body.note)
    return await run_command(call, command, roles=OPERATOR, body=body)


@router.post(ON_DISPUTE + "/close", response_model=DisputeView,
             responses=COMMAND)
async def close(call: Call, body: AnswerOffer | None = None):
    """Close a resolved dispute before its appeal window lapses."""
    return await run_command(call, commands.Close(), roles=OPERATOR, body=body)
