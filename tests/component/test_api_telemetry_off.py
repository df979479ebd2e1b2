"""The dispute API leaves FastAPI's native OpenTelemetry off: nothing configures a provider,
and looking for one on every request cost CPU on every command."""

import opentelemetry.trace

from tests.component.test_api_support import *  # noqa: F403 (fixtures)


def test_a_command_does_not_look_for_a_tracer_provider(api_with_dispute_awaiting_seller, monkeypatch):
    api, looked = api_with_dispute_awaiting_seller, []
    real = opentelemetry.trace.get_tracer_provider
    monkeypatch.setattr(opentelemetry.trace, "get_tracer_provider", lambda: looked.append(1) or real())
    assert api.post("/messages", json={"text": "hi"}).status_code == 201
    assert looked == []
