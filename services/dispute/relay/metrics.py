"""The relay's Prometheus metrics: lag (measured on each scrape), throughput, who is active."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = structlog.get_logger("relay")


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None, measure_lag=None):
        self.registry = registry or CollectorRegistry()
        self.published = Counter("dispute_relay_events_published",
                                 "Events published and acknowledged by Kafka", registry=self.registry)
        self.active = Gauge("dispute_relay_active",
                            "1 while this process holds the relay lock and publishes",
                            registry=self.registry)
        if measure_lag is not None:
            self.registry.register(RelayLagCollector(measure_lag))


class RelayLagCollector:
    """Measures on each scrape, so the figures are never stale."""

    def __init__(self, measure):
        self.measure = measure

    def collect(self):
        try:
            lag = self.measure()
        except Exception as exc:  # a failed scrape must not take the relay down
            log.warning("relay_lag_unavailable", error=repr(exc)[:300])
            return
        yield GaugeMetricFamily("dispute_relay_events_pending",
                                "Stored events not yet published to Kafka", value=lag.events_pending)
        yield GaugeMetricFamily("dispute_relay_oldest_pending_age_seconds",
                                "Age of the oldest stored event not yet published",
                                value=lag.oldest_pending_age_seconds)
        yield GaugeMetricFamily("dispute_relay_position",
                                "Last notification id published and recorded", value=lag.position)
        # The store's highest notification id: ids are never reused, but a rolled-back insert
        # may leave a gap, so this counts at most a few more events than were appended.
        yield CounterMetricFamily("dispute_events_appended",
                                  "Events appended to the event store (its highest notification id)",
                                  value=lag.last_notification_id)


@dataclass(frozen=True)
class ShardRelayMetrics:
    """One shard's children of the labelled metrics (what a Relay updates)."""

    published: Any
    active: Any


class ShardedRelayMetrics:
    """The same metrics with a `shard` label, for one relay per shard in one process."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.published = Counter("dispute_relay_events_published",
                                 "Events published and acknowledged by Kafka", ["shard"],
                                 registry=registry)
        self.active = Gauge("dispute_relay_active",
                            "1 while this process holds the shard's relay lock and publishes",
                            ["shard"], registry=registry)
        self.lags: dict[str, Callable[[], Any]] = {}
        registry.register(ShardLagCollector(self.lags))

    def for_shard(self, shard: int, measure_lag: Callable[[], Any]) -> ShardRelayMetrics:
        label = str(shard)
        self.lags[label] = measure_lag
        return ShardRelayMetrics(self.published.labels(shard=label), self.active.labels(shard=label))


class ShardLagCollector:
    """Each shard's lag, measured on each scrape; a shard that cannot be measured is left out."""

    def __init__(self, lags: dict[str, Callable[[], Any]]):
        self.lags = lags

    def collect(self):
        families = {name: GaugeMetricFamily(name, doc, labels=["shard"]) for name, doc in LAG_GAUGES}
        appended = CounterMetricFamily("dispute_events_appended",
                                       "Events appended to the shard's event store (its highest "
                                       "notification id)", labels=["shard"])
        for shard, measure in sorted(self.lags.items()):
            try:
                lag = measure()
            except Exception as exc:  # a failed scrape must not take the relay down
                log.warning("relay_lag_unavailable", shard=shard, error=repr(exc)[:300])
                continue
            for name, value in zip(families, (lag.events_pending, lag.oldest_pending_age_seconds,
                                              lag.position)):
                families[name].add_metric([shard], value)
            appended.add_metric([shard], lag.last_notification_id)
        yield from families.values()
        yield appended


LAG_GAUGES = (("dispute_relay_events_pending", "Stored events not yet published to Kafka"),
              ("dispute_relay_oldest_pending_age_seconds",
               "Age of the oldest stored event not yet published"),
              ("dispute_relay_position", "Last notification id published and recorded"))
