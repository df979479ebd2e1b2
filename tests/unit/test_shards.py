"""Which shard holds a dispute: a pure function of its id, the same in every process, spread
evenly; and the shard list read from DISPUTE_SHARD_URLS."""

import hashlib
import random
import subprocess
import sys
from collections import Counter
from uuid import UUID

import pytest
from pydantic import ValidationError

from services.dispute.adapters.shards import shard_index, shard_position_name
from services.dispute.settings import DisputeSettings

KNOWN = UUID("8b1f6c2e-3d4a-8e5f-9a0b-1c2d3e4f5a6b")


def ids(count: int, seed: int = 11) -> list[UUID]:
    rng = random.Random(seed)
    return [UUID(int=rng.getrandbits(128)) for _ in range(count)]


def test_the_shard_is_the_sha256_of_the_id_bytes_modulo_the_shard_count():
    expected = int.from_bytes(hashlib.sha256(KNOWN.bytes).digest()[:8], "big")
    assert [shard_index(KNOWN, n) for n in (1, 2, 3, 7)] == [expected % n for n in (1, 2, 3, 7)]


def test_another_process_puts_the_same_dispute_in_the_same_shard():
    # another interpreter (another hash seed): nothing process-local decides the shard
    code = ("from uuid import UUID; from services.dispute.adapters.shards import shard_index; "
            f"print([shard_index(UUID('{KNOWN}'), n) for n in (2, 3, 5)])")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123"})
    assert other.stdout.strip() == str([shard_index(KNOWN, n) for n in (2, 3, 5)])


@pytest.mark.parametrize("count", [2, 3, 4])
def test_disputes_spread_evenly_over_the_shards(count):
    per_shard = Counter(shard_index(dispute_id, count) for dispute_id in ids(12_000))
    assert sorted(per_shard) == list(range(count))
    fair = 12_000 / count
    assert all(abs(n - fair) < 0.05 * fair for n in per_shard.values()), per_shard


def test_one_shard_holds_every_dispute():
    assert {shard_index(dispute_id, 1) for dispute_id in ids(100)} == {0}


def test_a_store_has_at_least_one_shard():
    with pytest.raises(ValueError):
        shard_index(KNOWN, 0)


def test_the_first_shard_keeps_the_position_name_of_an_unsharded_store():
    assert [shard_position_name("dispute_index_v2", i) for i in (0, 1, 2)] == [
        "dispute_index_v2", "dispute_index_v2@1", "dispute_index_v2@2"]


def test_without_shard_urls_the_one_shard_is_the_service_database(monkeypatch):
    monkeypatch.delenv("DISPUTE_SHARD_URLS", raising=False)
    settings = DisputeSettings(database_url="postgresql://db/service")
    assert settings.shard_database_urls() == ["postgresql://db/service"]


def test_shard_urls_are_read_in_order_from_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("DISPUTE_SHARD_URLS", " postgresql://a/s0, postgresql://b/s1 ,")
    assert DisputeSettings().shard_database_urls() == ["postgresql://a/s0", "postgresql://b/s1"]


def test_a_database_named_twice_in_the_shard_list_is_refused(monkeypatch):
    monkeypatch.setenv("DISPUTE_SHARD_URLS", "postgresql://a/s0,postgresql://a/s0")
    with pytest.raises(ValidationError, match="twice"):
        DisputeSettings()


def test_a_lone_application_is_wrapped_in_a_one_shard_facade_and_a_facade_kept(tmp_path):
    from services.dispute.application.shards import ShardedDisputes, sharded
    from services.dispute.bootstrap import build_application

    app = build_application(DisputeSettings(database_url=f"sqlite:///{tmp_path}/d.sqlite"))
    one = sharded(app)
    assert one.shards == [app] and one.app_for(KNOWN) is app and one.index_of(KNOWN) == 0
    assert sharded(one) is one and isinstance(one, ShardedDisputes)


def test_one_shard_is_shard_zero_without_hashing_the_id(monkeypatch):
    import services.dispute.adapters.shards as shards
    monkeypatch.setattr(shards.hashlib, "sha256", lambda data: (_ for _ in ()).throw(AssertionError("hashed")))
    assert shard_index(KNOWN, 1) == 0
