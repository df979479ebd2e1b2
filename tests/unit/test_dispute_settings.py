"""The dispute service's rule parameters: DisputePolicy nested in the settings, each field read
from the DISPUTE_* variable it always had (return_transit_allowance too, new)."""

from dataclasses import fields
from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.dispute.domain import DisputePolicy
from services.dispute.settings import ENV_PREFIX, POLICY_ENV_NAMES, DisputeSettings

VARIABLES = {f.name: ENV_PREFIX + POLICY_ENV_NAMES.get(f.name, f.name).upper()
             for f in fields(DisputePolicy)}


@pytest.fixture(autouse=True)
def no_policy_in_the_environment(monkeypatch):
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)


def test_without_variables_the_policy_is_the_domains_default():
    assert DisputeSettings().policy == DisputePolicy()


@pytest.mark.parametrize("variable, field, value, expected", [
    ("DISPUTE_SELLER_RESPONSE_WINDOW", "seller_response_window", "PT30S", timedelta(seconds=30)),
    ("DISPUTE_FILING_WINDOW", "filing_window_after_promised_delivery", "P10D", timedelta(days=10)),
    ("DISPUTE_RETURN_TRANSIT_ALLOWANCE", "return_transit_allowance", "P2D", timedelta(days=2)),
    ("DISPUTE_EVIDENCE_REQUEST_WINDOW", "evidence_request_window", "PT1H", timedelta(hours=1)),
    ("DISPUTE_MAX_OFFER_ROUNDS", "max_offer_rounds", "5", 5),
    ("DISPUTE_BUYER_TIMEOUT_ESCALATES", "buyer_timeout_escalates", "true", True),
    ("DISPUTE_MAX_MESSAGES_PER_DISPUTE", "max_messages", "7", 7),
    ("DISPUTE_MAX_EVIDENCE_FILES_PER_DISPUTE", "max_evidence_files", "3", 3),
    ("DISPUTE_MAX_OFFERS_PER_DISPUTE", "max_offers", "4", 4),
])
def test_each_policy_field_is_read_from_its_variable(monkeypatch, variable, field, value, expected):
    monkeypatch.setenv(variable, value)
    policy = DisputeSettings().policy
    assert getattr(policy, field) == expected
    assert policy == DisputePolicy(**{field: expected})  # the others keep their defaults


def test_every_policy_field_has_a_variable(monkeypatch):
    for name, variable in VARIABLES.items():
        default = getattr(DisputePolicy(), name)
        changed = (not default if isinstance(default, bool) else
                   default + 1 if isinstance(default, int) else default + timedelta(seconds=1))
        text = f"PT{int(changed.total_seconds())}S" if isinstance(changed, timedelta) else changed
        monkeypatch.setenv(variable, str(text).lower() if isinstance(changed, bool) else str(text))
    policy = DisputeSettings().policy
    assert all(getattr(policy, name) != getattr(DisputePolicy(), name) for name in VARIABLES)


def test_a_policy_given_in_code_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("DISPUTE_MAX_OFFERS_PER_DISPUTE", "4")
    assert DisputeSettings(policy=DisputePolicy(max_offers=1)).policy.max_offers == 1


@pytest.mark.parametrize("variable", ["DISPUTE_MAX_MESSAGES_PER_DISPUTE",
                                      "DISPUTE_MAX_EVIDENCE_FILES_PER_DISPUTE",
                                      "DISPUTE_MAX_OFFERS_PER_DISPUTE"])
def test_a_cap_below_one_is_refused(monkeypatch, variable):
    monkeypatch.setenv(variable, "0")
    with pytest.raises(ValidationError):
        DisputeSettings()
