"""What must balance after the run, each check naming what did not: acknowledged commands are
stored; stored events are published once per id, in per-dispute order; every award is paid
exactly once and never beyond what was paid less what was refunded outside; every (event,
recipient) has one inbox entry and at most one e-mail; projections equal a rebuild; the audit
chain verifies; no answer was a 5xx other than 503."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from services.notification.notices import audience
from tools.chaos.client import Answers
from tools.chaos.observed import Observed

AWARDS = {"Resolved", "AppealDecided"}  # the events whose refund_amount the refund service pays
ITEM_FIELDS = ("offer_id", "message_id", "evidence_id", "appeal_id")
SHOWN = 5  # mismatches named per check; the JSON ledger has all


@dataclass
class Check:
    name: str
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def acknowledged_in_store(answers: Answers, seen: Observed) -> Check:
    """Each 2xx: its dispute holds the event it asked for (with the item it named), at or
    before the version the answer gave."""
    check = Check("every acknowledged command is in the event store")
    for ack in answers.acks:
        check.checked += 1
        stream = seen.stored.get(ack.dispute_id, [])
        found = [line for line in stream if line["version"] <= ack.version and line["envelope"]
                 and line["envelope"]["event_type"] == ack.expected_event
                 and (ack.item_id is None or ack.item_id in _items(line["envelope"]["payload"]))]
        if not found:
            check.mismatches.append(f"{ack.action} on {ack.dispute_id} acknowledged at v{ack.version}: "
                                    f"no {ack.expected_event}{' ' + ack.item_id if ack.item_id else ''} "
                                    f"stored (stream has {len(stream)} events)")
    return check


def _items(payload: dict) -> set[str]:
    return {str(payload[name]) for name in ITEM_FIELDS if name in payload} | set(payload.get("evidence_ids", []))


def published_once_in_order(seen: Observed) -> Check:
    check = Check("every stored event is on disputes.events once per event_id, in per-dispute order")
    first: dict[str, tuple[int, dict]] = {}
    order: dict[str, list[int]] = defaultdict(list)
    for partition, envelope in seen.published:
        key, content = str(envelope.event_id), envelope.model_dump(mode="json")
        if key in first:
            if first[key] != (partition, content):
                check.mismatches.append(f"event {key} published twice with other content or partition")
            continue
        first[key] = (partition, content)
        order[str(envelope.dispute_id)].append(envelope.dispute_version)
    for dispute_id, lines in seen.public().items():
        check.checked += len(lines)
        missing = [line["version"] for line in lines if line["envelope"]["event_id"] not in first]
        if missing:
            check.mismatches.append(f"dispute {dispute_id}: versions {missing} stored, never published")
        differ = [line["version"] for line in lines if line["envelope"]["event_id"] in first
                  and first[line["envelope"]["event_id"]][1] != line["envelope"]]
        if differ:
            check.mismatches.append(f"dispute {dispute_id}: versions {differ} published unlike stored")
        if order[dispute_id] != sorted(order[dispute_id]):
            check.mismatches.append(f"dispute {dispute_id}: published out of order {order[dispute_id]}")
    partitions = defaultdict(set)
    for partition, envelope in seen.published:
        partitions[str(envelope.dispute_id)].add(partition)
    check.mismatches += [f"dispute {d} on partitions {sorted(p)}" for d, p in partitions.items() if len(p) > 1]
    stored_ids = {line["envelope"]["event_id"] for lines in seen.public().values() for line in lines}
    check.mismatches += [f"event {e} published, not stored" for e in first if e not in stored_ids]
    return check


def awards(seen: Observed) -> dict[str, list[Decimal]]:
    return {d: sorted(Decimal(line["envelope"]["payload"]["refund_amount"]) for line in lines
                      if line["envelope"]["event_type"] in AWARDS
                      and Decimal(line["envelope"]["payload"]["refund_amount"]) > 0)
            for d, lines in seen.public().items()}


def paid(seen: Observed) -> dict[str, list[Decimal]]:
    by_dispute: dict[str, list[Decimal]] = defaultdict(list)
    for refund in seen.refunds:
        by_dispute[refund["metadata"].get("dispute_id", "?")].append(Decimal(str(refund["amount"])))
    return {d: sorted(amounts) for d, amounts in by_dispute.items()}


def refunds_exactly_once(seen: Observed) -> Check:
    check = Check("every award with a refund is paid exactly once, within paid less outside refunds")
    awarded, refunded = awards(seen), paid(seen)
    for dispute_id, amounts in awarded.items():
        check.checked += len(amounts)
        if refunded.get(dispute_id, []) != amounts:
            check.mismatches.append(f"dispute {dispute_id}: awarded {_money(amounts)}, "
                                    f"paid {_money(refunded.get(dispute_id, []))}")
        opened = seen.stored[dispute_id][0]["envelope"]["payload"]
        outside = max([Decimal(opened.get("refunded_before", "0"))] + [
            Decimal(line["envelope"]["payload"]["refunded_before"]) for line in seen.public()[dispute_id]
            if line["envelope"]["event_type"] == "RefundedOutsideDispute"])
        if sum(refunded.get(dispute_id, []), Decimal(0)) > Decimal(opened["paid_amount"]) - outside:
            check.mismatches.append(f"dispute {dispute_id}: refunded {_money(refunded[dispute_id])} of "
                                    f"{opened['paid_amount']} paid, {outside} refunded outside")
    check.mismatches += [f"dispute {d}: paid {_money(a)}, nothing awarded" for d, a in refunded.items()
                         if d not in awarded and a]
    learned = {line["envelope"]["payload"]["refund_id"] for lines in seen.public().values() for line in lines
               if line["envelope"]["event_type"] == "RefundIssued"}
    check.mismatches += [f"refund {r['metadata'].get('refund_id')} of dispute {r['metadata'].get('dispute_id')} "
                         f"paid, never recorded on it (RefundIssued)" for r in seen.refunds
                         if r["metadata"].get("refund_id") not in learned]
    return check


def _money(amounts: list[Decimal]) -> str:
    return "[" + ", ".join(str(a) for a in amounts) + "]"


def expected_recipients(seen: Observed) -> set[tuple[str, str, str]]:
    expected = set()
    for lines in seen.public().values():
        opened = lines[0]["envelope"]["payload"]
        ids = {"buyer": opened["buyer_id"], "seller": opened["seller_id"], "operators": "operators"}
        for line in lines:
            e = line["envelope"]
            expected |= {(e["event_id"], role, ids[role])
                         for role in audience(e["event_type"], e["payload"], e["actor"]["role"])}
    return expected


def notified_once(seen: Observed) -> Check:
    check = Check("every (event, recipient) has exactly one inbox entry and at most one e-mail")
    expected = expected_recipients(seen)
    check.checked = len(expected)
    check.mismatches += [f"no inbox entry for {key}" for key in sorted(expected - set(seen.inbox))]
    check.mismatches += [f"{count} inbox entries for {key}" for key, count in seen.inbox.items() if count > 1]
    check.mismatches += [f"inbox entry nobody should have: {key}" for key in set(seen.inbox) - expected]
    check.mismatches += [f"{count} e-mails for {key}" for key, count in seen.mails.items() if count > 1]
    unsent = [e for e, sent, failed, _ in seen.outbox if not sent and not failed]
    if unsent:
        check.mismatches.append(f"{len(unsent)} e-mails never left the outbox")
    sent = sum(1 for _, was_sent, _, _ in seen.outbox if was_sent)
    unknown = sum(1 for _, _, failed, error in seen.outbox if failed and "stopped during delivery" in error)
    if not sent <= sum(seen.mails.values()) <= sent + unknown:
        check.mismatches.append(f"{sum(seen.mails.values())} e-mails received, {sent} sent "
                                f"(+{unknown} whose sender stopped during delivery)")
    return check


def no_server_errors(answers: Answers) -> Check:
    check = Check("no answer was a 5xx other than 503 (outages are answered as outages)")
    check.checked = sum(n for status, n in answers.statuses.items() if isinstance(status, int))
    check.mismatches = list(answers.server_errors)
    return check


def counts(answers: Answers, seen: Observed, faults: Counter) -> dict:
    return {"commands acknowledged": len(answers.acks),
            "commands by action": dict(Counter(a.action for a in answers.acks)),
            "answers by status": {str(k): v for k, v in answers.statuses.items()},
            "retried": dict(answers.retried), "refused": dict(answers.refused),
            "gave up": len(answers.gave_up),
            "disputes": len(seen.stored), "events stored": seen.stored_events,
            "records on disputes.events": len(seen.published),
            "distinct events published": len({str(e.event_id) for _, e in seen.published}),
            "awards with a refund": sum(len(a) for a in awards(seen).values()),
            "refunds at the provider": len(seen.refunds),
            "inbox entries": sum(seen.inbox.values()), "e-mails": sum(seen.mails.values()),
            "faults injected": dict(faults)}
