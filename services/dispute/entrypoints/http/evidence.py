"""Evidence files: upload (multipart, one file: jpg, png, gif or pdf by content, up to 10 MB)
and download by the parties, operators and services."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, Response

from services.common.problems import Problem
from services.dispute.application import commands
from services.dispute.entrypoints.http.command_requests import Created, run_command
from services.dispute.entrypoints.http.command_route import CommandRoute
from services.dispute.entrypoints.http.deps import (
    PARTIES, Call, Caller, dispute_to_read, require_role, run_domain,
)
from services.common.conditional import CACHE_CONTROL, VARY, matches
from services.dispute.entrypoints.http.responses import ITEM_READ, creating
from services.dispute.entrypoints.http.schemas import Command, EvidenceUpload
from services.dispute.entrypoints.http.views import EvidenceCreated
from services.dispute.adapters.evidence_store import safe_filename

router = APIRouter(route_class=CommandRoute, tags=["evidence"])
ON_DISPUTE = "/disputes/{dispute_id}"
FORM_FIELDS = {"file", "description", "expected_version"}


@router.post(ON_DISPUTE + "/evidence", status_code=201, response_model=EvidenceCreated,
             responses=creating("evidence"))
async def add_evidence(call: Call,
                       form: Annotated[EvidenceUpload, Form(media_type="multipart/form-data")]):
    """Add one file; the type is read from its first bytes, the name is kept for display only."""
    require_role(call.caller, PARTIES)  # before the file is staged
    await _refuse_a_second_file(call.request)
    file, description, expected_version = form.file, form.description, form.expected_version
    staged = await run_domain(call.request.app.state.evidence.stage, file.file)
    stored, evidence_id, filename = staged.file, str(uuid4()), safe_filename(file.filename)
    payload = {"description": description, "expected_version": expected_version,
               "filename": filename, "sha256": stored.sha256}
    created = Created("evidence", "evidence", evidence_id)
    command = commands.AddEvidence(evidence_id=evidence_id, sha256=stored.sha256,
                                   content_type=stored.content_type, size=stored.size,
                                   filename=filename, description=description)
    try:
        response = await run_command(call, command, roles=PARTIES, payload=payload,
                                     body=Command(expected_version=expected_version),
                                     created=created)
        if response.status_code < 300:  # recorded: the file joins the store
            await asyncio.to_thread(staged.commit)
        return response
    finally:
        await asyncio.to_thread(staged.discard)


@router.get(ON_DISPUTE + "/evidence/{evidence_id}", response_class=FileResponse,
            responses={**ITEM_READ, 200: {**ITEM_READ[200], "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def download_evidence(dispute_id: UUID, evidence_id: str, caller: Caller, request: Request):
    """The file as uploaded; its ETag is its SHA-256 (a file never changes once added)."""
    dispute = await dispute_to_read(request, dispute_id, caller)
    evidence = dispute.evidence.get(evidence_id)
    path = evidence and request.app.state.evidence.path_for(evidence.sha256)
    if path is None or not path.is_file():
        raise Problem(404, "NOT_FOUND", f"no evidence {evidence_id} on this dispute")
    headers = {"ETag": f'"{evidence.sha256}"', "Cache-Control": CACHE_CONTROL, "Vary": VARY}
    if matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=evidence.content_type, filename=evidence.filename,
                        headers={**headers, "X-Content-Type-Options": "nosniff"})


async def _refuse_a_second_file(request: Request) -> None:
    """Unknown fields are refused by the form's model; a repeated `file` here."""
    form = await request.form()
    if len(form.getlist("file")) != 1:
        raise Problem(422, "VALIDATION_FAILED", "one `file`, and only the fields "
                      f"{sorted(FORM_FIELDS)}, are accepted")
