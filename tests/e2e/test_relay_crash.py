"""The relay as a process on real PostgreSQL and Kafka: killed with SIGKILL mid-stream, restarted,
or started twice at once, it still puts every stored event on Kafka, in order per dispute."""

import asyncio
import random
import signal
import threading
from uuid import uuid4

import httpx
import pytest

from infra.ports import free_port
from services.common.database import sqlalchemy_engine
from services.dispute.bootstrap import build_application
from services.dispute.relay.relay import RelayPosition
from services.dispute.settings import DisputeSettings
from tests.support.kafka import eventually
from tests.support.keys import DISPUTE_KEYS
from tests.support.processes import ServiceProcess
from tests.support.relay_streams import (check_records, open_disputes, read_to_end,
                                         stored_public_event_ids, topic_settings,
                                         write_concurrently)

pytestmark = pytest.mark.e2e


class RelayRig:
    """One store, one topic, and relay processes started on them by name."""

    def __init__(self, postgres, kafka, log_dir, name: str):
        self.topic, self.log_dir = f"disputes.events.{uuid4().hex[:8]}", log_dir
        self.db = postgres.create_database(f"e2e_{name}")
        self.app = build_application(DisputeSettings(database_url=self.db))
        self.position = RelayPosition(sqlalchemy_engine(self.db), self.topic)
        self.position.create_tables()
        self.env = {"DISPUTE_DATABASE_URL": self.db, **DISPUTE_KEYS, **kafka.env("DISPUTE", "admin"),
                    "DISPUTE_EVENTS_TOPIC": self.topic, "DISPUTE_RELAY_BATCH_SIZE": "20",
                    "DISPUTE_RELAY_POLL_INTERVAL": "0.05", "DISPUTE_RELAY_METRICS_PORT": "0"}

    def start(self, name: str, **env) -> ServiceProcess:
        return ServiceProcess(name, "services.dispute.main", ["relay"], {**self.env, **env},
                              self.log_dir).wait_healthy()

    def drained(self) -> bool:
        return self.position.get() == self.app.recorder.max_notification_id()

    async def published_since(self, before: int, timeout: float = 30) -> bool:
        return await eventually(lambda: self.position.get() > before, timeout=timeout, interval=0.05)


def took_over(process: ServiceProcess) -> bool:
    return '"relay_took_over"' in process.log_path.read_text(errors="replace")


def stood_by(process: ServiceProcess) -> bool:
    return '"relay_standby"' in process.log_path.read_text(errors="replace")


def keep_writing(app, disputes, stop) -> None:
    while not stop.is_set():
        write_concurrently(app, disputes, per_dispute=3, threads=6)


async def test_a_relay_killed_mid_batch_again_and_again_loses_and_reorders_nothing(
        postgres, kafka, tmp_path):
    rig = RelayRig(postgres, kafka, tmp_path, "relay_crash")
    disputes, stop_writing = open_disputes(rig.app, 12), threading.Event()
    writing = asyncio.create_task(asyncio.to_thread(keep_writing, rig.app, disputes, stop_writing))
    try:
        for attempt in range(4):
            relay = rig.start(f"relay-{attempt}")
            try:
                assert await rig.published_since(rig.position.get()), relay.log_tail()
                await asyncio.sleep(random.uniform(0, 0.3))
            finally:
                relay.stop(signal.SIGKILL)
    finally:
        stop_writing.set()
        await writing
    metrics_port = free_port()
    last = rig.start("relay-final", DISPUTE_RELAY_METRICS_PORT=str(metrics_port))
    try:
        assert await eventually(rig.drained, timeout=60), last.log_tail()
        metrics = await eventually(lambda: scrape(metrics_port), timeout=10)
    finally:
        last.stop()
    check = check_records(await read_to_end(kafka.admin, rig.topic))
    print(f"relay crash test: {len(check.event_ids)} events, {check.duplicates} re-published")
    assert check.event_ids == stored_public_event_ids(rig.app) and len(check.event_ids) > 100
    assert (check.out_of_order, check.changed_duplicates) == ([], [])
    assert "dispute_relay_events_pending 0.0" in metrics and "dispute_relay_active 1.0" in metrics


async def test_the_relay_makes_its_topic_at_start_up_with_unlimited_retention(
        postgres, kafka, tmp_path):
    rig = RelayRig(postgres, kafka, tmp_path, "relay_topic")
    relay = rig.start("relay", DISPUTE_TOPIC_PARTITIONS="6")
    try:
        assert await eventually(lambda: took_over(relay), timeout=30), relay.log_tail()
    finally:
        relay.stop()
    partitions, configs = await topic_settings(kafka.admin, rig.topic)
    assert (partitions, configs["retention.ms"], configs["retention.bytes"]) == (6, "-1", "-1")


async def test_two_relays_started_at_once_publish_in_order_and_the_standby_takes_over(
        postgres, kafka, tmp_path):
    rig = RelayRig(postgres, kafka, tmp_path, "relay_pair")
    disputes, stop_writing = open_disputes(rig.app, 12), threading.Event()
    writing = asyncio.create_task(asyncio.to_thread(keep_writing, rig.app, disputes, stop_writing))
    pair = [ServiceProcess(f"relay-{n}", "services.dispute.main", ["relay"], rig.env, tmp_path)
            for n in "ab"]
    try:
        assert await eventually(lambda: any(took_over(p) for p in pair), timeout=30)
        active, standby = sorted(pair, key=lambda p: not took_over(p))
        assert await rig.published_since(rig.position.get())
        # the standby may still be starting (a loaded machine): wait for it to stand by
        assert await eventually(lambda: stood_by(standby), timeout=30)
        assert not took_over(standby)
        active.stop(signal.SIGKILL)
        assert await eventually(lambda: took_over(standby), timeout=10), standby.log_tail()
        assert await rig.published_since(rig.position.get())
        stop_writing.set()
        await writing
        assert await eventually(rig.drained, timeout=60), standby.log_tail()
    finally:
        stop_writing.set()
        await writing
        for relay in pair:
            relay.stop()
    check = check_records(await read_to_end(kafka.admin, rig.topic))
    assert check.event_ids == stored_public_event_ids(rig.app)
    assert (check.out_of_order, check.changed_duplicates) == ([], [])


def scrape(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
