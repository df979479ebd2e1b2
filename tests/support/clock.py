"""A clock the test moves by hand, handed to the services as their `clock`."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.support.orders import NOW


class Clock:
    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)
