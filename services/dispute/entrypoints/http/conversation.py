"""What the parties say along the way: messages, and feedback at the end."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from services.common.ids import uuid4
from services.dispute.application import commands
from services.dispute.entrypoints.http.command_requests import Created, run_command
from services.dispute.entrypoints.http.command_route import CommandRoute
from services.dispute.entrypoints.http.deps import PARTIES, Call
from services.dispute.entrypoints.http.responses import COMMAND, creating
from services.dispute.entrypoints.http.schemas import LeaveFeedback, PostMessage, ReplyToFeedback
from services.dispute.entrypoints.http.views import DisputeView, MessageCreated

router = APIRouter(route_class=CommandRoute, tags=["conversation"])
ON_DISPUTE = "/disputes/{dispute_id}"


@router.post(ON_DISPUTE + "/messages", status_code=201, response_model=MessageCreated,
             responses=creating("message"))
async def post_message(body: PostMessage, call: Call):
    """PLATFORM_ONLY messages are shown to operators and to their author only."""
    message_id = str(uuid4())
    created = Created("message", "messages", message_id)
    command = commands.PostMessage(message_id=message_id, text=body.text,
                                   visibility=body.visibility)
    return await run_command(call, command, roles=PARTIES | {"operator"}, body=body,
                             created=created)


@router.post(ON_DISPUTE + "/feedback", response_model=DisputeView,
             responses=COMMAND)
async def leave_feedback(body: LeaveFeedback, call: Call):
    """Once per party, after the dispute ended; it cannot be edited."""
    command = commands.LeaveFeedback(rating=body.rating, comment=body.comment)
    return await run_command(call, command, roles=PARTIES, body=body)


@router.post(ON_DISPUTE + "/feedback/{feedback_of}/reply", response_model=DisputeView,
             responses=COMMAND)
async def reply_to_feedback(feedback_of: Literal["buyer", "seller"], body: ReplyToFeedback,
                            call: Call):
    """The party the feedback is about answers it, once; the reply cannot be edited."""
    command = commands.ReplyToFeedback(feedback_of=feedback_of, text=body.text)
    return await run_command(call, command, roles=PARTIES, body=body)
