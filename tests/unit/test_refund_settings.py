"""The refund service's defaults: the platform's topics and group, the local simulator."""

from services.refund.settings import RefundSettings
from contracts.topics import dead_letter_topic


def defaults() -> RefundSettings:
    return RefundSettings()


def test_by_default_the_refund_service_reads_disputes_events_as_group_refund(monkeypatch):
    for name in ("REFUND_DISPUTES_TOPIC", "REFUND_CONSUMER_GROUP"):
        monkeypatch.delenv(name, raising=False)
    settings = defaults()
    assert dead_letter_topic(settings.disputes_topic, settings.consumer_group) == "disputes.events.dlq.refund"


def test_by_default_results_go_to_refunds_events(monkeypatch):
    monkeypatch.delenv("REFUND_REFUNDS_TOPIC", raising=False)
    assert defaults().refunds_topic == "refunds.events"


def test_by_default_the_provider_is_the_local_simulator(monkeypatch):
    monkeypatch.delenv("REFUND_PROVIDER_URL", raising=False)
    assert defaults().provider_url == "http://127.0.0.1:8003"


def test_by_default_the_service_never_crashes_on_purpose(monkeypatch):
    monkeypatch.delenv("REFUND_CRASH_AFTER_PROVIDER_CALL", raising=False)
    assert defaults().crash_after_provider_call is False


def test_by_default_the_refund_service_learns_orders_from_orders_events(monkeypatch):
    from services.common.topics import platform_topics

    for name in ("REFUND_ORDERS_TOPIC", "REFUND_CONSUMER_GROUP", "REFUND_UNKNOWN_ORDER_WAIT"):
        monkeypatch.delenv(name, raising=False)
    settings = defaults()
    assert dead_letter_topic(settings.orders_topic, settings.consumer_group) == "orders.events.dlq.refund"
    assert "orders.events.dlq.refund" in platform_topics()
    assert settings.unknown_order_wait == 120.0


def test_the_service_hands_the_gil_over_every_half_millisecond(monkeypatch):
    """Store calls run in threads that wait for the GIL after each round trip while the event
    loop is busy: Python's 5 ms default was most of a refund's wait under load (README)."""
    import sys

    from services.refund import main as refund_main

    monkeypatch.delenv("REFUND_GIL_SWITCH_INTERVAL_MS", raising=False)
    seen = []
    monkeypatch.setattr(refund_main, "serve_unless_unsafe",
                        lambda build, settings: seen.append(sys.getswitchinterval()) or 0)
    before = sys.getswitchinterval()
    try:
        assert refund_main.main(["serve"]) == 0
        assert seen == [0.0005]
        monkeypatch.setenv("REFUND_GIL_SWITCH_INTERVAL_MS", "2")
        refund_main.main(["serve"])
        assert seen[-1] == 0.002
    finally:
        sys.setswitchinterval(before)
