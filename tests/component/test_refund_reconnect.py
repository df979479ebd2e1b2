"""Found by `make chaos`: a refund service restarted while the broker was away failed its first
Kafka connect; undoing that attempt closed the payment provider's HTTP client, so the next
attempt's reconcile, and every payment after, failed with "the client has been closed": the
service connected once the broker was back but never paid a refund again."""

import asyncio

from services.refund.main import build_parts
from services.refund.settings import RefundSettings


def test_undoing_a_failed_kafka_connect_keeps_the_provider_client_open(tmp_path):
    async def scenario():
        parts = build_parts(RefundSettings(database_url=f"sqlite:///{tmp_path}/refund.sqlite",
                                           provider_url="http://127.0.0.1:9"))
        await parts.stop()  # what BackgroundConnection runs after a failed attempt, before the next
        still_open = not parts.http.is_closed
        await parts.close()  # at shutdown
        return still_open, parts.http.is_closed

    assert asyncio.run(scenario()) == (True, True)
