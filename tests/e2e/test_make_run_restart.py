"""`make run`, Ctrl-C, `make run` again on the same folder: the first run's disputes are still
there, and a new one flows to Kafka and to the seller's inbox (tools/run_local.py as a process,
on a temporary RUN_DIR and free ports; the tools find it through RUN_DIR/local.env)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer

from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS
from infra.ports import free_port
from services.common.kafka import KafkaConnection
from tests.support.kafka import eventually
from services.common.auth import DEV_SECRET
from tests.support import tokens

ROOT = Path(__file__).resolve().parents[2]
SERVICE_PREFIXES = ("DISPUTE_", "NOTIFICATION_", "REFUND_", "PAYSIM_", "ORDERS_", "OPS_", "PLATFORM_")
PORTS = ["KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "DISPUTE_PORT", "RELAY_METRICS_PORT", "NOTIFICATION_PORT",
         "REFUND_PORT", "PAYSIM_PORT", "SMTP_PORT", "SMTP_HTTP_PORT"]


class LocalRun:
    """One `python -m tools.run_local` on a folder; started, then stopped with Ctrl-C (SIGINT)."""

    def __init__(self, run_dir: Path):
        self.dir = run_dir
        self.ports = {name: free_port() for name in PORTS}
        self.env = {**clean_shell(), "RUN_DIR": str(run_dir), **{f"RUN_{k}": str(v) for k, v in self.ports.items()}}
        self.process: subprocess.Popen | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service + '_PORT']}"

    def start(self, timeout: float = 150) -> None:
        output = open(self.dir.parent / f"run-{time.monotonic_ns()}.out", "w+")
        self.process = subprocess.Popen([sys.executable, "-m", "tools.run_local"], cwd=ROOT, env=self.env,
                                        stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while "is up" not in Path(output.name).read_text():
            assert self.process.poll() is None and time.monotonic() < deadline, Path(output.name).read_text()
            time.sleep(0.3)

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(60) == 0

    def tool(self, *args: str) -> subprocess.CompletedProcess:
        """An operator tool run elsewhere, told only where the local settings file is."""
        return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                              env={**clean_shell(), "PLATFORM_LOCAL_ENV": str(self.dir / "local.env")}, timeout=60)


def clean_shell() -> dict[str, str]:
    """A newcomer's shell: none of the services' settings set."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES)}


def bearer(role: str, sub: str) -> dict[str, str]:
    return tokens.bearer(role, sub, secret=DEV_SECRET)  # what local mode accepts


async def open_dispute(http: httpx.AsyncClient, run: LocalRun, order_id: str) -> str:
    async def open_when_order_known():
        response = await http.post(f"{run.url('DISPUTE')}/v1/disputes", headers=bearer("buyer", "B-1"),
                                   json={"order_id": order_id, "item_id": "I-1", "reason": "DAMAGED",
                                         "request": "FULL_REFUND", "description": "cracked"})
        unknown = response.status_code == 422 and response.json()["code"] == "ORDER_NOT_FOUND"
        return None if unknown else response

    opened = await eventually(open_when_order_known, timeout=30)
    assert opened is not None and opened.status_code == 201, opened and opened.text
    return opened.json()["id"]


async def seller_notices(http: httpx.AsyncClient, run: LocalRun, dispute_id: str) -> list:
    async def notified():
        inbox = await http.get(f"{run.url('NOTIFICATION')}/v1/notifications", headers=bearer("seller", "S-1"))
        return [n for n in inbox.json()["items"] if n["dispute_id"] == dispute_id]

    return await eventually(notified, timeout=30)


async def disputes_on_kafka_as_ops(run: LocalRun, expect: int) -> set[str]:
    password = json.loads((run.dir / "kafka" / "credentials.json").read_text())["ops"]
    connection = KafkaConnection(f"127.0.0.1:{run.ports['KAFKA_PORT']}", "ops", password)
    consumer = AIOKafkaConsumer(DISPUTES_EVENTS, **connection.client_options(), group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    try:
        while len(seen) < expect and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen |= {str(EventEnvelope.model_validate_json(r.value).dispute_id) for r in records}
    finally:
        await consumer.stop()
    return seen


async def test_a_second_make_run_keeps_the_first_runs_disputes_and_new_ones_flow(tmp_path):
    run = LocalRun(tmp_path / "run")
    run.start()
    try:
        ordered = run.tool("tools.dev", "order", "--order-id", "O-1")
        assert ordered.returncode == 0, ordered.stderr
        ordered = run.tool("tools.dev", "order", "--order-id", "O-2")
        assert ordered.returncode == 0, ordered.stderr
        async with httpx.AsyncClient(timeout=10) as http:
            first = await open_dispute(http, run, "O-1")
            assert await seller_notices(http, run, first)
    finally:
        run.interrupt()

    run.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            again = await http.get(f"{run.url('DISPUTE')}/v1/disputes/{first}", headers=bearer("buyer", "B-1"))
            assert again.status_code == 200 and again.json()["order_id"] == "O-1", again.text
            second = await open_dispute(http, run, "O-2")
            assert len(await seller_notices(http, run, second)) == 1
        assert {first, second} <= await disputes_on_kafka_as_ops(run, expect=2)
        verified = run.tool("services.dispute.entrypoints.cli", "audit", "verify")  # checkpoints read as ops
        assert verified.returncode == 0 and "OK: " in verified.stdout and " of 2 disputes" in verified.stdout, \
            verified.stdout + verified.stderr
        status = run.tool("services.dispute.entrypoints.cli", "projections", "status")
        assert status.returncode == 0 and "dispute_index" in status.stdout, status.stdout + status.stderr
    finally:
        run.interrupt()


def children_running(parent: int, module: str) -> list[int]:
    """The pids of `parent`'s children that run `python -m <module>` (from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and module.encode() in cmdline:
            found.append(int(proc.name))
    return found


async def test_a_service_killed_under_make_run_is_started_again_and_the_rest_keeps_running(tmp_path):
    """Issue 12: one crash used to stop everything ("stopped because refund exited")."""
    run = LocalRun(tmp_path / "run")
    run.dir.mkdir()
    run.start()
    try:
        [refund] = children_running(run.process.pid, "services.refund.main")
        os.kill(refund, signal.SIGKILL)

        async def back() -> bool:
            pids = children_running(run.process.pid, "services.refund.main")
            if not pids or pids == [refund]:
                return False
            async with httpx.AsyncClient(timeout=2) as http:
                try:
                    return (await http.get(f"{run.url('REFUND')}/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

        assert await eventually(back, timeout=60)
        assert run.process.poll() is None  # make run itself goes on
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"{run.url('DISPUTE')}/healthz")).status_code == 200
    finally:
        run.interrupt()
    outputs = "".join(p.read_text() for p in tmp_path.glob("run-*.out"))
    assert "refund exited with -9; restarting it" in outputs and "refund restarted" in outputs
