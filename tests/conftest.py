"""Session fixtures: a real Kafka broker and a real PostgreSQL, started once per run.

Where a Docker engine answers, testcontainers could be used instead; here there is none, so
the project starts both itself (infra/). A server that cannot start fails the run loudly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.kafka import KafkaServer
from infra.postgres import PostgresServer

# A checkout's own `.run/local.env` (what `make run` leaves for the operator tools) must not
# reach the tests: the CLI, run in-process by the tests, loads it into the process's
# environment (local mode, the local ports) for every test after it, so `make run` then
# `make test` in one checkout failed the refusals outside local mode and `make demo`'s test.
# Tests that want a local settings file name their own (PLATFORM_LOCAL_ENV).
os.environ.setdefault("PLATFORM_LOCAL_ENV", str(Path(tempfile.gettempdir()) / f"dispute-tests-{os.getpid()}"
                                                 / "no-local.env"))

@pytest.fixture(scope="session")
def infra_dir():
    path = Path(tempfile.mkdtemp(prefix="dispute-test-"))
    yield path
    if not os.environ.get("KEEP_TEST_INFRA"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def servers(infra_dir, request):
    """Start PostgreSQL and Kafka in parallel; both stop at the end of the session."""
    pg, kafka = PostgresServer(infra_dir / "pg"), KafkaServer(infra_dir / "kafka")
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(pg.start), pool.submit(kafka.start)]
        errors = [f.exception() for f in started if f.exception() is not None]
    if errors:
        pg.stop(), kafka.stop()
        pytest.fail(f"could not start the test servers: {errors}", pytrace=False)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nstarted PostgreSQL {pg.dsn()} (log {pg.log_file}) and Kafka {kafka.bootstrap} "
              f"(log {kafka.log_file})", flush=True)
    yield pg, kafka
    kafka.stop()
    pg.stop()


@pytest.fixture(scope="session")
def postgres(servers) -> PostgresServer:
    return servers[0]


@pytest.fixture(scope="session")
def kafka(servers) -> KafkaServer:
    return servers[1]


@pytest.fixture
def pg_url(postgres, request) -> str:
    """A fresh database per test, named after it (PostgreSQL keeps 63 bytes of a name): a long
    name is cut and a digest of the whole one added, so the parameters of one test, which
    differ at its end, never share a database (the next one dropped it while in use)."""
    return postgres.create_database(database_name(request.node.name))


def database_name(test_name: str) -> str:
    plain = "".join(c if c.isalnum() else "_" for c in test_name.lower())
    if len(plain) <= 50:
        return "t_" + plain
    return "t_" + plain[:41] + "_" + hashlib.sha256(test_name.encode()).hexdigest()[:8]
