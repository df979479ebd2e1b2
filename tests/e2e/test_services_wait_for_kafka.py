"""Services started before their broker serve HTTP at once, say they are connecting, and begin
consuming when the broker comes up (as after a broker restart or in a compose start-up)."""

import asyncio

import httpx
import pytest

from infra.kafka import KafkaServer
from infra.ports import free_port
from tests.e2e.conftest import System
from tests.support.dispute_api import Party
from tests.support.kafka import eventually
from tests.support.keys import DISPUTE_KEYS
from tests.support.processes import ServiceProcess
from tests.support.tokens import SECRET

pytestmark = pytest.mark.e2e


async def health(url: str) -> dict | None:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{url}/health")).json()
    except httpx.HTTPError:
        return None


async def readiness(url: str) -> tuple[int, list[str]]:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"{url}/readyz")
    return answer.status_code, answer.json().get("missing", [])


async def test_services_started_before_kafka_serve_then_consume_once_it_is_up(postgres, tmp_path):
    late = KafkaServer(tmp_path / "late-kafka", port=free_port())
    late.data_dir.mkdir(parents=True)
    late.prepare_credentials()  # the services are given theirs before the broker exists
    ports = {name: free_port() for name in ("dispute", "notification", "refund")}
    env = {"DISPUTE_DATABASE_URL": postgres.create_database("late_kafka_dispute"),
           **late.env("DISPUTE", "dispute"), "DISPUTE_HTTP_PORT": str(ports["dispute"]),
           "DISPUTE_JWT_SECRET": SECRET, **DISPUTE_KEYS,
           "NOTIFICATION_DATABASE_URL": postgres.create_database("late_kafka_notification"),
           **late.env("NOTIFICATION", "notification"), "NOTIFICATION_HTTP_PORT": str(ports["notification"]),
           "NOTIFICATION_JWT_SECRET": SECRET,
           "REFUND_DATABASE_URL": postgres.create_database("late_kafka_refund"),
           **late.env("REFUND", "refund"), "REFUND_HTTP_PORT": str(ports["refund"])}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    modules = {"dispute": ("services.dispute.main", ["serve"]),
               "notification": ("services.notification.main", []),
               "refund": ("services.refund.main", [])}
    procs = [ServiceProcess(name, module, args, env, tmp_path, f"{url[name]}/health")
             for name, (module, args) in modules.items()]
    broker = None
    try:
        for proc in procs:
            proc.wait_healthy()
        assert [(await health(url[name]))["kafka"] for name in modules] == ["connecting"] * 3
        assert [await readiness(url[name]) for name in modules] == [(503, ["kafka"])] * 3
        broker = await asyncio.to_thread(late.start)

        async def all_connected():
            states = [await health(url[name]) for name in modules]
            return all(s and s["kafka"] == "connected" for s in states)

        assert await eventually(all_connected, timeout=90)

        async def all_ready():
            return all([(await readiness(url[name]))[0] == 200 for name in modules])

        assert await eventually(all_ready, timeout=60), [await readiness(url[n]) for n in modules]
        await System(url=url, kafka=late.connection("orders"), reader=late.admin, log_dir=tmp_path).publish_order("O-LATE")
        async with httpx.AsyncClient(timeout=10) as http:
            opened = await Party(http, url["dispute"], "buyer", "B-1").open_dispute("O-LATE")
        assert opened.json()["status"] == "AWAITING_SELLER_RESPONSE"
    finally:
        for proc in procs:
            proc.stop()
        if broker:
            broker.stop()
