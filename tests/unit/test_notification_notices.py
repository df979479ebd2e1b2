"""Who is told what about each public dispute event, and deadlines in the reader's time zone."""

import ast
from string import Template

import pytest

from contracts.disputes import REGISTRY
from services.notification.notices import (AUDIENCES, MalformedEvent, Parties, Recipient,
                                           UnknownEvent, audience, is_known, notices_for)
from services.notification.rendering import template_values, when
from services.notification.template_files import TEMPLATE_DIR, load_templates

TEMPLATES = load_templates()
PARTIES = Parties(buyer_id="B-1", seller_id="S-1")
OPENED = {"order_id": "O-1", "item_id": "I-1", "buyer_id": "B-1", "seller_id": "S-1",
          "reason": "NOT_AS_DESCRIBED", "request": "FULL_REFUND", "request_amount": "100.00",
          "description": "wrong colour", "paid_amount": "100.00", "currency": "USD",
          "deadlines": {"SELLER_RESPONSE": "2026-12-03T14:00:00Z",
                        "NEGOTIATION_MAX": "2026-12-13T14:00:00Z"},
          "escalation_allowed_from": "2026-12-01T14:00:00Z"}
PAYLOADS = {
    "DisputeOpened": OPENED,
    "SellerResponded": {},
    "OfferMade": {"offer_id": "F-1", "offer_type": "PARTIAL_REFUND", "amount": "30.00",
                  "currency": "USD", "round_number": 1, "made_by": "seller",
                  "respond_by": "2026-12-08T09:30:00Z", "note": "sorry"},
    "OfferSuperseded": {"offer_id": "F-1"},
    "OfferWithdrawn": {"offer_id": "F-1"},
    "OfferAccepted": {"offer_id": "F-1", "remedy": "PARTIAL_REFUND", "refund_amount": "30.00"},
    "OfferRejected": {"offer_id": "F-1", "reason": "too little", "respond_by": "2026-12-08T09:30:00Z"},
    "OfferExpired": {"offer_id": "F-1"},
    "ClaimAccepted": {"remedy": "FULL_REFUND", "refund_amount": "100.00"},
    "ClaimRejected": {"evidence_ids": ["E-1"], "reason": "as described",
                      "respond_by": "2026-12-08T09:30:00Z"},
    "EvidenceAdded": {"evidence_id": "E-1", "sha256": "ab" * 32, "content_type": "image/png",
                      "size": 10, "filename": "photo.png", "description": "the box"},
    "EvidenceRequested": {"request_id": "R-1", "from_party": "buyer", "note": "photos please",
                          "due": "2026-12-04T12:00:00Z"},
    "MessagePosted": {"message_id": "M-1", "visibility": "PARTIES"},
    "DeadlineMissed": {"deadline": "SELLER_RESPONSE", "due": "2026-12-03T14:00:00Z"},
    "Escalated": {"trigger": "MAX_ROUNDS_REACHED", "automatic": True, "note": ""},
    "ReturnRequested": {"refund_amount": "100.00", "outcome": "AGREED", "resolved_by": "AGREEMENT",
                        "ship_by": "2026-12-13T14:00:00Z"},
    "ReturnShipped": {"carrier": "DHL", "tracking_number": "T-1",
                      "acknowledge_by": "2026-12-20T14:00:00Z"},
    "ReturnReceived": {"condition": "ITEM_RECEIVED"},
    "ReplacementShipped": {"carrier": "DHL", "tracking_number": "T-2"},
    "ReplacementReceived": {},
    "Resolved": {"outcome": "AGREED", "resolved_by": "AGREEMENT", "remedy": "PARTIAL_REFUND",
                 "refund_amount": "30.00", "currency": "USD",
                 "appeal_until": "2026-12-20T14:00:00Z", "note": ""},
    "RefundIssued": {"refund_id": "RF-1", "amount": "30.00", "currency": "USD"},
    "RefundFailed": {"refund_id": "RF-1", "reason": "card expired", "retryable": False},
    "RefundedOutsideDispute": {"order_event_id": "OR-1", "refunded_before": "30.00"},
    "DisputeWithdrawn": {"reason": "parcel arrived"},
    "Appealed": {"appeal_id": "A-1", "evidence_ids": ["E-2"], "reason": "unfair"},
    "AppealDecided": {"appeal_id": "A-1", "outcome": "UPHELD", "refund_amount": "0",
                      "currency": "USD", "note": ""},
    "DisputeClosed": {"reason": "APPEAL_WINDOW_ELAPSED"},
    "FeedbackLeft": {"rating": 5, "comment": "quick"},
    "FeedbackReplied": {"feedback_of": "buyer", "text": "thank you"},
}
ACTORS = {"OfferAccepted": "buyer", "OfferRejected": "buyer", "ClaimAccepted": "seller",
          "ClaimRejected": "seller", "EvidenceAdded": "buyer", "MessagePosted": "buyer",
          "Appealed": "seller", "FeedbackLeft": "buyer", "FeedbackReplied": "seller", "DisputeWithdrawn": "buyer"}


def told(event_type, payload=None, parties=PARTIES, actor=None, zones=None):
    payload = PAYLOADS[event_type] if payload is None else payload
    return notices_for(event_type, payload, "D-1", parties, templates=TEMPLATES,
                       actor_role=actor or ACTORS.get(event_type, "service"), time_zones=zones)


def recipients(event_type, **kwargs):
    return [n.recipient for n in told(event_type, **kwargs)]


@pytest.mark.parametrize("event_type", sorted(AUDIENCES))
def test_every_public_event_type_renders_for_each_of_its_recipients(event_type):
    for notice in told(event_type):
        assert notice.subject and "\n" not in notice.subject
        assert "$" not in notice.subject + notice.body and "D-1" in notice.body


def test_every_template_file_belongs_to_a_known_event_and_role():
    for path in TEMPLATE_DIR.glob("*.txt"):
        event_type, role = path.stem.split(".")
        assert event_type in {*AUDIENCES, "PartiesUnknown"} and role in {"buyer", "seller", "operators"}


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_a_template_uses_only_fields_its_event_carries(key):
    event_type = key.split(".")[0]
    payload = PAYLOADS.get(event_type, {})
    known = {*template_values(payload, "D-1", "buyer", None), "event_type"}
    template = TEMPLATES[key]
    used = {*Template(template.subject).get_identifiers(), *Template(template.body).get_identifiers()}
    assert used <= known


def test_a_lean_payload_renders_with_blanks_instead_of_failing():
    [notice] = told("DisputeWithdrawn", payload={})
    assert notice.recipient == "S-1" and "()" in notice.body


def test_an_opened_dispute_tells_the_seller_what_to_do_by_when_and_the_buyer_it_is_open():
    seller, buyer = told("DisputeOpened")
    assert (seller.recipient, buyer.recipient) == ("S-1", "B-1")
    assert "O-1" in seller.subject and "respond by 3 Dec 14:00 UTC" in seller.body
    assert "until 3 Dec 14:00 UTC" in buyer.body


def test_a_deadline_reads_in_the_recipients_time_zone_when_known():
    seller, buyer = told("DisputeOpened", zones={Recipient("seller", "S-1"): "Europe/Berlin"})
    assert "3 Dec 15:00 CET" in seller.body and "3 Dec 14:00 UTC" in buyer.body


def test_an_unknown_time_zone_falls_back_to_utc():
    assert when("2026-07-01T10:00:00Z", "Mars/Olympus") == "1 Jul 10:00 UTC"


def test_a_summer_deadline_reads_in_daylight_saving_time():
    assert when("2026-07-01T10:00:00Z", "Europe/Berlin") == "1 Jul 12:00 CEST"


def test_the_seller_responding_tells_nobody():
    assert told("SellerResponded") == []


def test_a_seller_offer_goes_to_the_buyer_with_its_amount_and_answer_deadline():
    [notice] = told("OfferMade")
    assert notice.recipient == "B-1" and "partial refund of 30.00 USD" in notice.subject
    assert "by 8 Dec 09:30 UTC" in notice.body


def test_a_buyer_counter_offer_goes_to_the_seller():
    assert recipients("OfferMade", payload={**PAYLOADS["OfferMade"], "made_by": "buyer"}) == ["S-1"]


def test_an_accepted_offer_tells_the_party_who_made_it():
    assert recipients("OfferAccepted", actor="buyer") == ["S-1"]


def test_a_message_between_parties_goes_only_to_the_other_party():
    assert recipients("MessagePosted", actor="seller") == ["B-1"]


def test_a_platform_only_message_goes_to_operators():
    payload = {**PAYLOADS["MessagePosted"], "visibility": "PLATFORM_ONLY"}
    assert recipients("MessagePosted", payload=payload, actor="buyer") == ["operators"]


def test_an_escalation_tells_operators_and_both_parties():
    assert sorted(recipients("Escalated")) == ["B-1", "S-1", "operators"]


def test_a_failed_refund_tells_only_operators():
    assert recipients("RefundFailed") == ["operators"]


def test_an_evidence_request_goes_to_the_party_asked_with_its_due_time():
    [notice] = told("EvidenceRequested", zones={Recipient("buyer", "B-1"): "America/New_York"})
    assert notice.recipient == "B-1" and "by 4 Dec 07:00 EST" in notice.body


def test_a_resolution_tells_both_parties_until_when_they_may_appeal():
    notices = told("Resolved")
    assert [n.recipient for n in notices] == ["B-1", "S-1"]
    assert all("appeal until 20 Dec 14:00 UTC" in n.body for n in notices)


def test_without_known_parties_only_operators_are_told():
    [notice] = told("OfferMade", parties=None)
    assert notice.recipient == "operators" and "OfferMade" in notice.subject


def test_an_unknown_event_type_is_refused():
    with pytest.raises(UnknownEvent):
        audience("DisputeTeleported", {}, "buyer")


def test_every_public_contract_event_has_an_audience_decided():
    assert set(REGISTRY) == set(AUDIENCES) and is_known("OfferMade")


def test_a_payload_missing_who_is_told_is_malformed():
    with pytest.raises(MalformedEvent):
        told("OfferMade", payload={"offer_type": "REPLACEMENT"})


def test_a_deadline_that_is_not_a_time_is_malformed():
    with pytest.raises(MalformedEvent):
        told("OfferMade", payload={**PAYLOADS["OfferMade"], "respond_by": "soon"})


def test_the_notice_modules_import_no_io():
    forbidden = {"os", "socket", "faststream", "aiokafka", "structlog", "httpx", "sqlalchemy",
                 "fastapi", "pathlib", "logging", "time", "aiosmtplib"}
    for name in ("notices.py", "rendering.py"):
        tree = ast.parse((TEMPLATE_DIR.parent / name).read_text())
        roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        roots |= {n.module.split(".")[0] for n in ast.walk(tree)
                  if isinstance(n, ast.ImportFrom) and n.module}
        assert not roots & forbidden, name


def test_a_buyer_who_is_also_the_seller_is_told_once_in_each_role():
    seller, buyer = told("DisputeOpened", parties=Parties(buyer_id="P-1", seller_id="P-1"))
    assert (seller.to, buyer.to) == (Recipient("seller", "P-1"), Recipient("buyer", "P-1"))
    assert "respond by" in seller.body and "respond by" not in buyer.body


def test_a_party_named_like_the_operators_inbox_is_told_apart_from_that_inbox():
    notices = told("Escalated", parties=Parties(buyer_id="operators", seller_id="S-1"))
    assert [n.to for n in notices] == [Recipient("buyer", "operators"), Recipient("seller", "S-1"),
                                       Recipient("operators", "operators")]


def test_a_recipient_key_is_its_role_and_id():
    assert Recipient("seller", "S:1").key == "seller:S:1"
    assert Recipient.parse("seller:S:1") == Recipient("seller", "S:1")


@pytest.mark.parametrize("key", ["S-1", "operators:operators", "operator:OP-1", "buyer:", ":B-1"])
def test_a_configured_recipient_must_be_a_buyer_or_seller_with_an_id(key):
    with pytest.raises(ValueError):
        Recipient.parse(key)


def test_line_breaks_and_control_characters_in_a_payload_never_reach_a_subject():
    payload = {**PAYLOADS["ReturnShipped"], "carrier": "DHL\r\nBcc: x@evil.example\x00\t\u2028X"}
    [notice] = told("ReturnShipped", payload=payload)
    assert notice.subject == "The return is on its way (DHL Bcc: x@evil.example X)"


SHARED_PHRASES = {"dispute_id", "actor", "offer", "remedy_text", "event_type"}


def test_every_payload_these_tests_use_is_one_its_contract_accepts():
    for event_type, payload in PAYLOADS.items():
        REGISTRY[event_type][1].model_validate(payload)


@pytest.mark.parametrize("key", sorted(k for k in TEMPLATES if k.split(".")[0] in REGISTRY))
def test_a_template_names_only_fields_its_event_carries(key):
    """A field no event has would read as blank in every notice."""
    template, fields = TEMPLATES[key], set(REGISTRY[key.split(".")[0]][1].model_fields)
    names = {m.group("named") or m.group("braced")
             for m in Template.pattern.finditer(f"{template.subject}\n{template.body}")}
    names -= {None} | SHARED_PHRASES | fields
    assert {n for n in names if not (n.startswith("deadline_") and "deadlines" in fields)} == set()


def test_an_appeal_award_tells_both_parties_the_extra_refund():
    award = {**PAYLOADS["AppealDecided"], "outcome": "OVERTURNED", "refund_amount": "15.00"}
    assert all("Extra refund: 15.00 USD." in notice.body for notice in told("AppealDecided", award))


def _one_line_by_every_character(text: str) -> str:
    """one_line as it was written before its fast path: each control character and line
    break a space, then runs of whitespace one space."""
    import unicodedata
    return " ".join("".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
                            for c in text).split())


@pytest.mark.parametrize("text", ["A buyer wrote on dispute 1", "  two  spaces\tand a tab ",
                                  "DHL\r\nBcc: x@evil.example\x00", "no\u00a0break space",
                                  "line\u2028separator", "über café \u200b", "\x1f\x85end", ""])
def test_a_subject_line_is_the_same_with_or_without_the_fast_path(text):
    from services.notification.rendering import one_line
    assert one_line(text) == _one_line_by_every_character(text)


def test_a_subject_line_is_the_same_with_or_without_the_fast_path_for_any_text():
    from hypothesis import given, settings, strategies as st

    from services.notification.rendering import one_line

    @settings(max_examples=500, deadline=None)
    @given(st.text())
    def same(text: str) -> None:
        assert one_line(text) == _one_line_by_every_character(text)
    same()
