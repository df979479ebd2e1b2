"""DISPUTE_HTTP_WORKERS=2: `serve` supervises two API processes on one port. Both answer
(connections spread by the kernel), `/metrics` of either counts the requests of both, a worker
that dies is started again, and stopping the supervisor stops every worker."""

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e


def workers_of(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


def listening(pid: int, port: int) -> bool:
    """Whether `pid` holds a socket listening on 127.0.0.1:`port` (/proc/net/tcp, state 0A)."""
    inodes = {line.split()[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
              if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"}
    links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir() if fd.is_symlink()]
    return any(link == f"socket:[{inode}]" for link in links for inode in inodes)


def counted(url: str) -> int:
    """GET /healthz counted, over all workers, as the worker that answers the scrape sees it."""
    text = httpx.get(f"{url}/metrics").text
    return int(sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
                   if s.name == "http_requests_total" and s.labels.get("handler") == "/healthz"))


def until(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise TimeoutError("not in time")


@pytest.fixture
def api(tmp_path):
    port = free_port()
    env = {"PLATFORM_LOCAL_MODE": "true", "DISPUTE_HTTP_WORKERS": "2", "DISPUTE_HTTP_PORT": str(port),
           "DISPUTE_DATABASE_URL": f"sqlite:///{tmp_path}/dispute.sqlite",
           "DISPUTE_EVIDENCE_DIR": str(tmp_path / "evidence"), "DISPUTE_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    proc = ServiceProcess("dispute-api", "services.dispute.main", ["serve"], env, tmp_path,
                          f"http://127.0.0.1:{port}/healthz").wait_healthy(120)
    proc.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.stop()


def test_two_workers_answer_on_one_port_and_count_together(api):
    workers = until(lambda: len(workers_of(api.process.pid)) == 2 and workers_of(api.process.pid))
    port = int(api.url.rsplit(":", 1)[1])
    # each binds it (SO_REUSEPORT): the first answering /healthz says nothing of the second,
    # which may still be importing on a busy machine
    assert until(lambda: all(listening(worker, port) for worker in workers))
    assert not listening(api.process.pid, port)  # the supervisor only supervises
    before = counted(api.url)
    for _ in range(40):
        with httpx.Client() as fresh:  # a new connection each: the kernel picks a worker
            assert fresh.get(f"{api.url}/healthz").status_code == 200
    assert [counted(api.url) - before for _ in range(5)] == [40] * 5
    assert "http_worker_started" in api.log_tail(200)


def test_a_dead_worker_is_replaced_and_a_stop_stops_every_worker(api):
    first, second = until(lambda: len(workers_of(api.process.pid)) == 2 and workers_of(api.process.pid))
    os.kill(second, signal.SIGKILL)
    replaced = until(lambda: (w := workers_of(api.process.pid)) and len(w) == 2 and second not in w and w)
    assert first in replaced
    until(lambda: httpx.get(f"{api.url}/healthz").status_code == 200)
    api.stop()
    assert api.process.returncode == 0
    assert until(lambda: not any(Path(f"/proc/{w}").exists() for w in replaced), 20)
