"""Which requests the simulator spoils, decided from the settings and a per-key attempt count."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

FAIL, SLOW = "fail", "slow"


@dataclass
class FaultPlan:
    failure_rate: float = 0.0
    fail_first_n: int = 0
    timeout_first_n: int = 0


class Faults:
    def __init__(self, plan: FaultPlan, rng: random.Random | None = None):
        self.plan, self.rng = plan, rng or random.Random()
        self.attempts: Counter[str] = Counter()

    def next_for(self, idempotency_key: str) -> str | None:
        """FAIL (answer 500, store nothing), SLOW (accept, answer after the client gave up) or None."""
        self.attempts[idempotency_key] += 1
        attempt = self.attempts[idempotency_key]
        if attempt <= self.plan.fail_first_n:
            return FAIL
        if attempt <= self.plan.fail_first_n + self.plan.timeout_first_n:
            return SLOW
        if self.plan.failure_rate and self.rng.random() < self.plan.failure_rate:
            return FAIL
        return None
