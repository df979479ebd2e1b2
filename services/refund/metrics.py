"""The refund service's business metrics, in the process's one registry (the trust gate's
counters, services/refund/trust.py, are in it too):

- `refund_refunds_issued_total`: refunds the provider paid;
- `refund_refunds_failed_total{reason, retryable}`: results recorded FAILED (the provider's
  error or refusal, or a refusal before paying);
- `refund_ceiling_refusals_total{reason}`: instructions refused before the provider was called
  (over the amount the order paid, or terms the refund service does not trust);
- `refund_refunds_held{status}`: instructions holding their reservation now (PENDING: being
  paid; FAILED: outcome unknown, the provider may have paid), measured on each scrape.
"""

from __future__ import annotations

from typing import Callable

import structlog
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily

log = structlog.get_logger("refund")


class RefundMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.issued = Counter("refund_refunds_issued", "Refunds paid by the provider",
                              registry=self.registry)
        self.failed = Counter("refund_refunds_failed", "Refund results recorded as FAILED",
                              ["reason", "retryable"], registry=self.registry)
        self.ceiling_refusals = Counter(
            "refund_ceiling_refusals", "Refund instructions refused before paying by the ceiling "
            "or trust checks", ["reason"], registry=self.registry)

    def watch_held(self, held_by_status: Callable[[], dict[str, int]]) -> None:
        self.registry.register(HeldRefunds(held_by_status))


class HeldRefunds:
    """Read from the store on each scrape; a failed read yields nothing (and is logged)."""

    def __init__(self, held_by_status: Callable[[], dict[str, int]]):
        self.held_by_status = held_by_status

    def describe(self):  # the name only: registering must not read the store
        yield GaugeMetricFamily("refund_refunds_held", "", labels=["status"])

    def collect(self):
        try:
            held = self.held_by_status()
        except Exception as error:  # a scrape must never fail the service
            log.warning("held_refunds_unavailable", error=repr(error)[:300])
            return
        family = GaugeMetricFamily("refund_refunds_held", "Refund instructions holding their "
                                   "reservation, by status", labels=["status"])
        for status in ("PENDING", "FAILED"):
            family.add_metric([status], held.get(status, 0))
        yield family
