"""The dispute API on real PostgreSQL and a real (SASL) Kafka is ready once its consumers
have joined their groups and been given partitions; before the broker connects it is not."""

from __future__ import annotations

import httpx

from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.support.kafka import eventually
from tests.support.tokens import SECRET


async def readyz(app) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://d") as http:
        return await http.get("/readyz")


async def test_the_dispute_api_is_ready_once_its_consumers_are_assigned(kafka, pg_url, tmp_path):
    settings = DisputeSettings(database_url=pg_url, jwt_secret=SECRET, run_workers=False,
                               evidence_dir=str(tmp_path / "evidence"), **kafka.settings("dispute"))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async def ready():
            answer = await readyz(app)
            return answer if answer.status_code == 200 else None

        answer = await eventually(ready, timeout=60, interval=0.5)
        assert answer is not None, (await readyz(app)).json()
        assert answer.json() == {"status": "ready"}
        broker = app.state.broker
        assert broker.subscribers and all(s.consumer.assignment() for s in broker.subscribers)
