"""The token bucket behind every write route: `burst` at once, then `rate` per second."""

import pytest

from services.common.rate_limit import RateLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_goes_through_then_the_next_must_wait():
    limiter = RateLimiter(rate=2, burst=3, clock=Clock())
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst():
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("a")
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    clock.now += 3600
    assert [limiter.take("a") for _ in range(4)][-1] > 0


def test_each_key_has_its_own_bucket():
    limiter = RateLimiter(rate=1, burst=1, clock=Clock())
    assert (limiter.take("a"), limiter.take("b")) == (0.0, 0.0)
    assert limiter.take("a") > 0


def test_full_buckets_are_forgotten_when_too_many_keys_are_known():
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=1, clock=clock, max_tracked=2)
    limiter.take("a"), limiter.take("b")
    clock.now += 10
    limiter.take("c")
    assert len(limiter._buckets) == 1


def test_a_zero_rate_is_refused():
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)
