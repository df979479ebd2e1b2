"""The writer's memory of disputes and parties is bounded: the least recently used go first."""

from dataclasses import dataclass
from uuid import UUID, uuid4

from services.dispute.application.dispute_cache import DisputeCache, Parties


@dataclass
class Held:
    id: UUID
    buyer_id: str = "B-1"
    seller_id: str = "S-1"


def test_the_least_recently_used_dispute_is_forgotten_past_the_size():
    cache, first, second, third = DisputeCache(2), Held(uuid4()), Held(uuid4()), Held(uuid4())
    cache.put(first, "h1"), cache.put(second, "h2")
    cache.get(first.id)
    cache.put(third, "h3")
    assert (cache.get(second.id), len(cache)) == (None, 2)
    assert cache.get(first.id).head == "h1"


def test_a_cache_of_size_zero_holds_nothing():
    cache, held = DisputeCache(0), Held(uuid4())
    cache.put(held, "h")
    assert cache.get(held.id) is None


def test_forgotten_disputes_are_loaded_again():
    cache, held = DisputeCache(5), Held(uuid4())
    cache.put(held, None)
    cache.forget([held.id])
    assert cache.get(held.id) is None


def test_parties_are_bounded_too():
    parties, first, second = Parties(1), Held(uuid4(), "B-1"), Held(uuid4(), "B-2")
    parties.note(first), parties.note(second)
    assert (parties.get(first.id), parties.get(second.id)) == (None, ("B-2", "S-1"))
