"""Outside local mode no process starts on a development key or as an anonymous Kafka client
(issue 9.3/9.8): each refusal names the variable to set."""

import pytest

from services.common.local_mode import UnsafeSettings
from services.dispute.adapters.audit_chain import DEV_AUDIT_KEY
from services.dispute.settings import DEV_ID_KEY, DisputeSettings
from services.notification.settings import NotificationSettings
from services.refund.settings import RefundSettings
from tests.support.keys import DISPUTE_KEYS

SAFE = {"id_key": DISPUTE_KEYS["DISPUTE_ID_KEY"], "audit_key": DISPUTE_KEYS["DISPUTE_AUDIT_KEY"],
        "kafka_username": "dispute", "kafka_password": "pw", "local_mode": False}


def refusal(settings) -> str:
    with pytest.raises(UnsafeSettings) as refused:
        settings.refuse_unsafe()
    return str(refused.value)


def test_production_settings_with_keys_and_a_principal_start():
    DisputeSettings(**SAFE).refuse_unsafe()


@pytest.mark.parametrize(("field", "value", "variable"), [
    ("id_key", DEV_ID_KEY, "DISPUTE_ID_KEY is the development default"),
    ("audit_key", DEV_AUDIT_KEY, "DISPUTE_AUDIT_KEY is the development default"),
    ("id_key", "short", "DISPUTE_ID_KEY is shorter than 32 bytes"),
    ("audit_key", "short", "DISPUTE_AUDIT_KEY is shorter than 32 bytes"),
])
def test_a_development_or_short_key_is_refused_naming_its_variable(field, value, variable):
    assert variable in refusal(DisputeSettings(**{**SAFE, field: value}))


def test_an_anonymous_kafka_client_is_refused_outside_local_mode():
    message = refusal(DisputeSettings(**{**SAFE, "kafka_username": None}))
    assert "DISPUTE_KAFKA_USERNAME and DISPUTE_KAFKA_PASSWORD are required" in message


@pytest.mark.parametrize("settings_class, prefix", [(NotificationSettings, "NOTIFICATION"),
                                                    (RefundSettings, "REFUND")])
def test_the_consumer_services_need_their_principal_too(settings_class, prefix):
    from services.common.local_mode import require_kafka_principal

    with pytest.raises(UnsafeSettings, match=f"{prefix}_KAFKA_USERNAME"):
        require_kafka_principal(settings_class(local_mode=False))
    require_kafka_principal(settings_class(local_mode=False, kafka_username="x", kafka_password="y"))


def test_local_mode_allows_the_development_defaults():
    DisputeSettings(local_mode=True).refuse_unsafe()
