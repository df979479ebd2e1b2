"""`make demo`: one dispute from opening to refund on a running `make run`, as a newcomer would
play it through the HTTP API, then what each part saw.

Publishes three sample orders (as the upstream order service, on orders.events), and on the
first one: the buyer opens a dispute, the seller offers a 30.00 partial refund, the buyer
accepts; waits for the refund service to pay it through the payment simulator; prints the
dispute's timeline, the refund at the simulator and the e-mails the SMTP sink received.

Every address and login comes from RUN_DIR/local.env (written by `make run`; environment
variables win, as for every operator tool). Without a running `make run` it stops at once with
one line saying so. Each run uses parties and orders of its own, so it can be run again.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from decimal import Decimal
from uuid import uuid4

import httpx

from services.common.auth import DEV_SECRET, LOCAL_ISSUER, issue_token
from services.common.kafka import KafkaConnection
from services.common.local_env import load_local_env, local_env_path
from tools.dev import local_audiences, publish_orders, sample_order

OFFER = "30.00"
WAIT = 60.0  # seconds each step may take before the demo gives up, naming the step


class NotUp(Exception):
    """`make run` is not going (one line for the user)."""


class Stalled(Exception):
    """A step did not happen in time (one line naming it)."""


def urls() -> dict[str, str]:
    env = os.environ
    return {"dispute": f"http://127.0.0.1:{env.get('DISPUTE_HTTP_PORT', '8000')}",
            "payments": env.get("REFUND_PROVIDER_URL", "http://127.0.0.1:8003"),
            "mailbox": env.get("SMTP_SINK_URL", "http://127.0.0.1:8026")}


def require_local_settings() -> None:
    if load_local_env() is None:
        raise NotUp(f"make demo needs `make run` going: no {local_env_path()} (start `make run` in another terminal)")


def require_make_run(http: httpx.Client, where: dict[str, str]) -> None:
    try:
        http.get(f"{where['dispute']}/healthz", timeout=3).raise_for_status()
    except httpx.HTTPError:
        raise NotUp(f"make demo needs `make run` going: nothing answers at {where['dispute']} "
                    "(start `make run` in another terminal)") from None


def bearer(role: str, sub: str) -> dict[str, str]:
    token = issue_token(os.environ.get("DISPUTE_JWT_SECRET", DEV_SECRET), role, sub,
                        issuer=LOCAL_ISSUER, audience=local_audiences())
    return {"Authorization": f"Bearer {token}"}


def until(what: str, check, timeout: float = WAIT):
    """check()'s first truthy answer, polled; Stalled naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = check()
        except httpx.TransportError:  # a connection reset on a busy machine: poll again
            answer = None
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise Stalled(f"{what} did not happen within {timeout:.0f} s (see the logs in .run/)")
        time.sleep(0.5)


def publish(order_ids: list[str], buyer: str, seller: str) -> None:
    env = os.environ
    connection = KafkaConnection(env.get("ORDERS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                                 env.get("ORDERS_KAFKA_USERNAME", "orders"), env.get("ORDERS_KAFKA_PASSWORD"))
    events = [event for order_id in order_ids for event in sample_order(order_id, buyer, seller)]
    asyncio.run(publish_orders(connection, events))
    print(f"published {len(order_ids)} paid, delivered orders (100.00 USD each): {', '.join(order_ids)}")


def open_dispute(http: httpx.Client, api: str, order_id: str, buyer: str) -> str:
    body = {"order_id": order_id, "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND",
            "description": "arrived with a cracked screen"}

    def attempt():
        response = http.post(f"{api}/v1/disputes", json=body, headers=bearer("buyer", buyer))
        if response.status_code == 422 and response.json().get("code") == "ORDER_NOT_FOUND":
            return None  # the dispute service has not read the order from Kafka yet
        response.raise_for_status()
        return response.json()["id"]

    dispute_id = until(f"the dispute service learning order {order_id}", attempt)
    print(f"buyer {buyer} opened dispute {dispute_id} on {order_id} (DAMAGED, asks for a full refund)")
    return dispute_id


def negotiate(http: httpx.Client, api: str, dispute_id: str, buyer: str, seller: str) -> None:
    offered = http.post(f"{api}/v1/disputes/{dispute_id}/offers", headers=bearer("seller", seller),
                        json={"type": "PARTIAL_REFUND", "amount": OFFER, "note": "sorry, keep it"})
    offered.raise_for_status()
    offer_id = offered.json()["offer"]["offer_id"]
    print(f"seller {seller} offered a {OFFER} partial refund ({offer_id})")
    accepted = http.post(f"{api}/v1/disputes/{dispute_id}/offers/{offer_id}/accept",
                         headers=bearer("buyer", buyer), json={})
    accepted.raise_for_status()
    print(f"buyer {buyer} accepted: dispute {accepted.json()['status']}")


def wait_for_refund(http: httpx.Client, api: str, dispute_id: str, buyer: str) -> dict:
    def refunded():
        view = http.get(f"{api}/v1/disputes/{dispute_id}", headers=bearer("buyer", buyer)).json()
        return view if Decimal(str(view.get("refunded_total") or 0)) == Decimal(OFFER) else None

    view = until("the refund being paid", refunded)
    print(f"refunded: {view['refunded_total']} of {OFFER} ({view['status']})")
    return view


def print_timeline(http: httpx.Client, api: str, dispute_id: str, buyer: str) -> None:
    def with_refund():  # the timeline is a projection: it may trail the dispute by a moment
        entries = http.get(f"{api}/v1/disputes/{dispute_id}/timeline", headers=bearer("buyer", buyer)).json()["entries"]
        return entries if any(e["event_type"] == "RefundIssued" for e in entries) else None

    print("\ntimeline:")
    for entry in until("the refund reaching the timeline", with_refund):
        print(f"  {entry['at'][:19]}  {entry['actor']['role']:<8} {entry['event_type']:<16} {entry['summary']}")


def print_refunds(http: httpx.Client, payments: str, order_id: str) -> None:
    refunds = http.get(f"{payments}/refunds", params={"order_reference": order_id}).json()["data"]
    print(f"\nrefunds at the payment simulator ({payments}):")
    for refund in refunds:
        print(f"  {refund['id']}  {refund['amount']} {refund['currency']}  {refund['status']}"
              f"  order {refund['order_reference']}")


def print_mails(http: httpx.Client, mailbox: str, parties: list[str]) -> None:
    def received():
        mails = [m for m in http.get(f"{mailbox}/messages").json() if any(p in m["to"] for p in parties)]
        subjects = [m["subject"].lower() for m in mails]
        told = any("resolved" in s for s in subjects) and any("refund" in s and "issued" in s for s in subjects)
        return mails if told else None

    mails = until("the resolution and refund e-mails reaching the SMTP sink", received)
    print(f"\ne-mails received by the SMTP sink ({mailbox}/messages):")
    for mail in mails:
        print(f"  {mail['to']:<32} {mail['subject']}")


def play() -> None:
    run = uuid4().hex[:6]
    buyer, seller = f"B-DEMO-{run}", f"S-DEMO-{run}"
    orders = [f"O-DEMO-{run}-{n}" for n in (1, 2, 3)]
    require_local_settings()
    where = urls()
    with httpx.Client(timeout=10) as http:
        require_make_run(http, where)
        publish(orders, buyer, seller)
        dispute_id = open_dispute(http, where["dispute"], orders[0], buyer)
        negotiate(http, where["dispute"], dispute_id, buyer, seller)
        wait_for_refund(http, where["dispute"], dispute_id, buyer)
        print_timeline(http, where["dispute"], dispute_id, buyer)
        print_refunds(http, where["payments"], orders[0])
        print_mails(http, where["mailbox"], [buyer, seller])


def main() -> int:
    try:
        play()
    except NotUp as refusal:
        print(refusal, file=sys.stderr)
        return 2
    except (Stalled, httpx.HTTPError) as failure:
        print(f"demo stopped: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
