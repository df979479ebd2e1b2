"""A token bucket per principal: `burst` requests at once, then `rate` per second.

In process memory: each process (one API instance) keeps its own buckets, so behind N
instances a principal gets up to N times the rate. Full buckets are forgotten once more than
`max_tracked` principals are known, so memory stays bounded.
"""

from __future__ import annotations

import time
from typing import Callable, Hashable


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_tracked: int = 100_000):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.clock, self.max_tracked = rate, burst, clock, max_tracked
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def take(self, key: Hashable) -> float:
        """0.0 when `key` may go ahead (one token taken); else the seconds until it may."""
        now = self.clock()
        tokens = self._tokens(key, now)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate

    def _tokens(self, key: Hashable, now: float) -> float:
        if key not in self._buckets and len(self._buckets) >= self.max_tracked:
            self._forget_full(now)
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def _forget_full(self, now: float) -> None:
        full = [key for key, (tokens, at) in self._buckets.items()
                if tokens + (now - at) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
