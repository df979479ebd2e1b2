"""How far the relay is behind the store: events not yet published, and the oldest one's age.
Computed from the store and the recorded position alone, so any process can report it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime


@dataclass(frozen=True)
class RelayLag:
    position: int
    last_notification_id: int
    events_pending: int
    oldest_pending_age_seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def measure_lag(app, position, now: datetime) -> RelayLag:
    """`app` is the eventsourcing application whose log the relay follows."""
    done = position.get()
    last = app.recorder.max_notification_id() or 0
    oldest = app.recorder.select_notifications(done, 1, inclusive_of_start=False)
    age = 0.0
    if oldest:
        age = max(0.0, (now - app.mapper.to_domain_event(oldest[0]).timestamp).total_seconds())
    return RelayLag(position=done, last_notification_id=last, events_pending=max(0, last - done),
                    oldest_pending_age_seconds=round(age, 3))
