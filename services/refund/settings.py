"""Refund service settings (prefix REFUND_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.kafka import KafkaSettings

from contracts.topics import DISPUTES_EVENTS, ORDERS_EVENTS, REFUNDS_EVENTS


class RefundSettings(KafkaSettings):
    model_config = SettingsConfigDict(env_prefix="REFUND_", extra="ignore")

    database_url: str = "sqlite:///var/refund.sqlite"
    http_host: str = "127.0.0.1"
    http_port: int = 8002
    topic_partitions: int = 6
    log_level: str = "INFO"
    disputes_topic: str = DISPUTES_EVENTS
    # Where the refund service learns what each order paid (its own facts, never a dispute's).
    orders_topic: str = ORDERS_EVENTS
    refunds_topic: str = REFUNDS_EVENTS
    consumer_group: str = "refund"
    provider_url: str = "http://127.0.0.1:8003"
    provider_timeout: float = 5.0
    provider_attempts: int = 5
    provider_backoff_initial: float = 0.5
    provider_backoff_max: float = 8.0
    # How long (seconds, from its first delivery) a resolution whose order is not known yet is
    # redelivered, waiting for the order's OrderPlaced, before it is dead-lettered ORDER_UNKNOWN.
    unknown_order_wait: float = Field(120.0, ge=0)
    # How often the service asks again about refunds left PENDING or whose outcome is unknown.
    reconcile_interval: float = Field(60.0, gt=0)
    # Seconds a reservation (taken just before a provider call) is left to its holder: the
    # reconcile (at start-up too) does not drive a PENDING instruction reserved more recently,
    # another replica may be paying it. Above the longest a provider call can take with its
    # retries (provider_attempts x provider_timeout + backoffs, 32.5 s by default). A refund
    # whose holder died is driven once the lease has passed (the periodic reconcile).
    reservation_lease: float = Field(60.0, ge=0)
    # Fault injection for tests only: die with SIGKILL right after the provider answered and
    # before the result is committed, to prove the start-up reconcile pays exactly once.
    crash_after_provider_call: bool = False
    # Dispute events handled at once (records of one dispute always one after another): bounds
    # the provider calls in flight and the database connections the handling holds.
    concurrency: int = Field(32, ge=1, le=256)
    # Records fetched from disputes.events per batch at most, and the backlog: while this many
    # records are fetched and not finished, fetching pauses (services/common/lanes.py). Offsets
    # are committed as records finish (each partition up to its first unfinished record).
    batch_max: int = Field(200, ge=1, le=5000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    gc_young_threshold: int = Field(default=20_000, ge=0)
    """REFUND_GC_YOUNG_THRESHOLD: once the service has started, what start-up built is frozen out
    of the cyclic garbage collector's walks and its youngest generation is collected every this
    many net allocations (Python's: 700); services/common/bulk_gc.py: serving_heap. Unfrozen,
    the collector's walks of the imported modules and schemas were a quarter of the service's
    CPU (CPU per refund 5.6-5.8 -> 4.4-4.6 ms as deployed). 0: the collector as Python sets it."""
    gil_switch_interval_ms: float = Field(default=0.5, gt=0, le=100)
    """REFUND_GIL_SWITCH_INTERVAL_MS: how long the service's busy thread keeps the GIL before
    another may take it (Python's default: 5 ms). Every store call runs in a thread and waits
    up to that long after each of its round trips while the event loop is busy with the other
    lanes (three transactions a refund, a few round trips each)."""
