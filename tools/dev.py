"""Developer helpers for a local system.

python -m tools.dev token --role buyer --sub B-1
python -m tools.dev order --order-id O-1 --buyer B-1 --seller S-1 --item I-1 --amount 100.00
python -m tools.dev kafka-env --principal ops   # export lines for a local Kafka principal
python -m tools.dev tail disputes.events        # print a topic's records, read as `ops`
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import typer

from contracts.orders import OrderDelivered, OrderItem, OrderPlaced
from contracts.topics import ORDERS_EVENTS
from services.common.auth import DEV_SECRET, LOCAL_ISSUER, issue_token
from services.common.kafka import KafkaConnection, idempotent_producer
from services.common.local_env import load_local_env
from services.dispute.settings import DisputeSettings
from services.notification.settings import NotificationSettings

LOCAL_CREDENTIALS = Path(".run/kafka/credentials.json")

cli = typer.Typer(add_completion=False, help="Local helpers: tokens and sample orders.")


@cli.callback()
def _local_settings() -> None:
    """Environment variables first, then .run/local.env (written by `make run`), then defaults."""
    load_local_env()


def local_audiences() -> list[str]:
    """The audiences the local dispute and notification services check (their settings)."""
    return [DisputeSettings().jwt_audience, NotificationSettings().jwt_audience]


@cli.command()
def token(role: str = typer.Option(..., help="buyer, seller, operator or service"),
          sub: str = typer.Option(..., help="the principal's id, e.g. B-1"),
          secret: str = typer.Option(DEV_SECRET, envvar="DISPUTE_JWT_SECRET"),
          issuer: str = typer.Option(LOCAL_ISSUER, envvar="DISPUTE_JWT_ISSUER"),
          aud: list[str] = typer.Option(None, help="audience (repeatable); default: every local service"),
          hours: int = typer.Option(12, min=1, max=24, help="lifetime; the services accept 24 h at most")) -> None:
    """Print an HS256 bearer token for the local services (make run); one token serves both APIs."""
    typer.echo(issue_token(secret, role, sub, ttl=timedelta(hours=hours), issuer=issuer,
                           audience=aud or local_audiences()))


@cli.command()
def order(order_id: str = "O-1", buyer: str = "B-1", seller: str = "S-1", item: str = "I-1",
          amount: str = "100.00", currency: str = "USD", delivered: bool = True,
          bootstrap: str = typer.Option("127.0.0.1:9092", envvar="ORDERS_KAFKA_BOOTSTRAP"),
          username: str = typer.Option("orders", envvar="ORDERS_KAFKA_USERNAME",
                                       help="the upstream order service's Kafka principal"),
          password: str = typer.Option(None, envvar="ORDERS_KAFKA_PASSWORD",
                                       help="default: the local one from `make run`")) -> None:
    """Publish OrderPlaced (placed 10 days ago, promised 3 days ago) and OrderDelivered."""
    events = sample_order(order_id, buyer, seller, item, amount, currency, delivered)
    connection = KafkaConnection(bootstrap, username, password or local_password(username))
    asyncio.run(publish_orders(connection, events))
    typer.echo(f"published {', '.join(e.event_type for e in events)} for {order_id} on {ORDERS_EVENTS}")


def sample_order(order_id: str, buyer: str, seller: str, item: str = "I-1", amount: str = "100.00",
                 currency: str = "USD", delivered: bool = True) -> list:
    """An order paid 10 days ago, promised 3 days ago and (if `delivered`) delivered 2 days ago."""
    now = datetime.now(timezone.utc)
    events: list = [OrderPlaced(event_id=uuid4(), order_id=order_id, buyer_id=buyer, seller_id=seller,
                                currency=currency, items=[OrderItem(item_id=item, amount=Decimal(amount))],
                                total_amount=Decimal(amount), placed_at=now - timedelta(days=10),
                                promised_delivery_date=now - timedelta(days=3))]
    if delivered:
        events.append(OrderDelivered(event_id=uuid4(), order_id=order_id,
                                     delivered_at=now - timedelta(days=2)))
    return events


@cli.command("kafka-env")
def kafka_env(principal: str = typer.Option("ops", help="orders, ops, dispute, refund, ..."),
              prefix: str = typer.Option("DISPUTE", help="the settings prefix to print")) -> None:
    """Print `export` lines with a local principal's Kafka credentials (from `make run`)."""
    typer.echo(f"export {prefix}_KAFKA_USERNAME={principal}\n"
               f"export {prefix}_KAFKA_PASSWORD={local_password(principal)}")


@cli.command()
def tail(topic: str = typer.Argument("disputes.events"),
         bootstrap: str = typer.Option("127.0.0.1:9092", envvar="OPS_KAFKA_BOOTSTRAP"),
         username: str = typer.Option("ops", envvar="OPS_KAFKA_USERNAME",
                                      help="a principal that may read the topic"),
         password: str = typer.Option(None, envvar="OPS_KAFKA_PASSWORD",
                                      help="default: the local one from `make run`"),
         seconds: float = typer.Option(3.0, help="stop after this long without a new record")) -> None:
    """Print every record of a topic from its start (key, headers, value), as `ops` reads it."""
    connection = KafkaConnection(bootstrap, username, password or local_password(username))
    asyncio.run(_tail(connection, topic, seconds))


async def _tail(connection: KafkaConnection, topic: str, seconds: float) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, **connection.client_options(), group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        while batch := await consumer.getmany(timeout_ms=int(seconds * 1000)):
            for records in batch.values():
                for r in records:
                    typer.echo(f"{r.key} {r.headers} {r.value.decode(errors='replace')}")
    finally:
        await consumer.stop()


def local_password(principal: str) -> str:
    """`make run` keeps the local broker's credentials beside its data (mode 0600)."""
    path = Path(os.environ.get("LOCAL_KAFKA_CREDENTIALS", LOCAL_CREDENTIALS))
    try:
        return json.loads(path.read_text())[principal]
    except (OSError, KeyError, ValueError):
        raise typer.BadParameter(f"no local Kafka credentials for {principal!r} in {path}: "
                                 "is `make run` going? (or set ORDERS_KAFKA_PASSWORD)") from None


async def publish_orders(connection: KafkaConnection, events) -> None:
    producer = idempotent_producer(connection, client_id="dev-cli")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(ORDERS_EVENTS, event.model_dump_json().encode(),
                                         key=event.order_id.encode())
    finally:
        await producer.stop()


if __name__ == "__main__":
    cli()
