"""The dispute center: pages for buyers, sellers and operators (static files under
`center/`, calling this same public API with the caller's own token), the buyer's orders as
the pages need them, and, in local mode only, a sign-in that mints a local token.

No build step: plain HTML, CSS and one ES module; the token lives in the tab's sessionStorage.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParameter
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.common.auth import issue_token
from services.common.conditional import conditional_json
from services.common.problems import Problem
from services.dispute.domain.eligibility import eligibility
from services.dispute.entrypoints.http.deps import Caller, actor_of, require_role
from services.dispute.entrypoints.http.responses import LIST, ORDER_READ
from services.dispute.entrypoints.http.schemas import NO_NUL
from services.dispute.application.disputes import may_act_on
from services.dispute.projections.dispute_index import live_index_table

ASSETS = Path(__file__).resolve().parent / "center"
FILES = {"center.js": "text/javascript", "center.css": "text/css"}
pages = APIRouter(include_in_schema=False)
router = APIRouter(prefix="/v1")
LOCAL_TOKEN_LIFETIME = timedelta(hours=8)


@pages.get("/")
async def center_page() -> FileResponse:
    return FileResponse(ASSETS / "index.html", media_type="text/html")


@pages.get("/console")
async def console_page() -> RedirectResponse:
    """The former operator console is the center's operator desk now."""
    return RedirectResponse("/#/desk")


@pages.get("/app/{name}")
async def center_asset(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404)
    return FileResponse(ASSETS / name, media_type=FILES[name])


class SignIn(BaseModel):
    model_config = {"extra": "forbid"}
    role: Literal["buyer", "seller", "operator"]
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


class SignedIn(BaseModel):
    token: str
    role: str
    id: str
    expires_at: datetime


@router.post("/local/sign-in", response_model=SignedIn, include_in_schema=False)
async def local_sign_in(body: SignIn, request: Request) -> SignedIn:
    """Local mode only (PLATFORM_LOCAL_MODE=true, shared-secret tokens): a token for the
    principal picked on the sign-in page. Anywhere else tokens come from the identity provider
    and this answers 404 LOCAL_MODE_ONLY."""
    settings = request.app.state.settings
    if not settings.local_mode or "HS256" not in settings.jwt_algorithms:
        raise Problem(404, "LOCAL_MODE_ONLY", "sign-in here exists only in local mode; use a "
                                              "token from your identity provider")
    now = datetime.now(timezone.utc)  # tokens are checked against the real time, not the app's clock
    token = issue_token(settings.jwt_secret, body.role, body.id, ttl=LOCAL_TOKEN_LIFETIME,
                        now=now, issuer=settings.jwt_issuer,
                        audience=[settings.jwt_audience, "notification-api"])
    return SignedIn(token=token, role=body.role, id=body.id, expires_at=now + LOCAL_TOKEN_LIFETIME)


class OrderView(BaseModel):
    order_id: str
    buyer_id: str
    seller_id: str
    currency: str
    items: dict[str, Decimal]
    total_amount: Decimal
    placed_at: datetime
    promised_delivery_date: datetime
    delivered_at: datetime | None
    refunded_outside_disputes: Decimal


@router.get("/orders/{order_id}", response_model=OrderView, responses=ORDER_READ, tags=["orders"])
async def order_facts(order_id: Annotated[str, PathParameter(max_length=128, pattern=NO_NUL)],
                      caller: Caller, request: Request) -> Response:
    """The order as the dispute service learnt it from `orders.events` (what an operator
    weighs beside a dispute). Operators read any; a buyer or seller only their own, and any
    other order is answered as one that is not known (404 ORDER_NOT_FOUND): no oracle."""
    facts = await asyncio.to_thread(request.app.state.orders.facts, order_id)
    if facts is None or not may_act_on(facts.buyer_id, facts.seller_id, actor_of(caller)):
        raise Problem(404, "ORDER_NOT_FOUND", f"order {order_id} is not known")
    return conditional_json(request, OrderView(
        order_id=facts.order_id, buyer_id=facts.buyer_id, seller_id=facts.seller_id,
        currency=facts.currency, items=dict(facts.items), total_amount=facts.total_amount,
        placed_at=facts.placed_at, promised_delivery_date=facts.promised_delivery_date,
        delivered_at=facts.delivered_at, refunded_outside_disputes=facts.refunded_outside_disputes))


class ItemOnOrder(BaseModel):
    item_id: str
    amount: Decimal
    dispute_id: str | None
    """The item's dispute, when it has one."""
    dispute_status: str | None
    may_open_for: list[str]
    """The reasons a dispute may be opened for now."""
    refused: dict[str, str]
    """Why each other reason is refused now (its error code)."""


class MyOrder(BaseModel):
    order_id: str
    seller_id: str
    currency: str
    total_amount: Decimal
    placed_at: datetime
    promised_delivery_date: datetime
    delivered_at: datetime | None
    items: list[ItemOnOrder]


@router.get("/my/orders", response_model=list[MyOrder], responses=LIST, tags=["buyers"])
async def my_orders(caller: Caller, request: Request) -> Response:
    """The buyer's orders (newest first), each item with its dispute or why none may be
    opened now (window closed, delivery not due yet, already disputed)."""
    require_role(caller, frozenset({"buyer"}))
    state = request.app.state
    orders = await asyncio.to_thread(state.orders.orders_of_buyer, caller.id)
    disputed = await asyncio.to_thread(_disputes_of, state.engine, caller.id)
    now, actor = state.clock(), actor_of(caller)
    return conditional_json(request, [MyOrder(order_id=o.order_id, seller_id=o.seller_id, currency=o.currency,
                    total_amount=o.total_amount, placed_at=o.placed_at,
                    promised_delivery_date=o.promised_delivery_date, delivered_at=o.delivered_at,
                    items=[_item(o, item_id, amount, disputed, actor, now, state.disputes.policy)
                           for item_id, amount in o.items.items()])
            for o in orders])


def _item(order, item_id, amount, disputed, actor, now, policy) -> ItemOnOrder:
    dispute = disputed.get((order.order_id, item_id))
    if dispute is not None:
        return ItemOnOrder(item_id=item_id, amount=amount, dispute_id=dispute[0],
                           dispute_status=dispute[1], may_open_for=[],
                           refused={"*": "DISPUTE_ALREADY_EXISTS_FOR_ITEM"})
    allowed = eligibility(order, item_id, actor, now, policy)
    return ItemOnOrder(item_id=item_id, amount=amount, dispute_id=None, dispute_status=None,
                       may_open_for=[str(r) for r in allowed.reasons],
                       refused={str(r): code for r, code in allowed.refused.items()})


def _disputes_of(engine, buyer_id: str) -> dict[tuple[str, str], tuple[str, str]]:
    table = live_index_table(engine)
    query = select(table.c.order_id, table.c.item_id, table.c.dispute_id, table.c.status).where(
        table.c.buyer_id == buyer_id)
    with engine.connect() as conn:
        return {(r.order_id, r.item_id): (r.dispute_id, r.status) for r in conn.execute(query)}
