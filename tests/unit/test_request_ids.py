"""Random UUIDs from a pool of kernel randomness (services/common/ids.py)."""

import os
import uuid

from services.common import ids


def test_an_id_is_a_random_uuid_as_uuid4_makes_it():
    made = ids.uuid4()
    assert (made.version, made.variant) == (4, uuid.RFC_4122)


def test_ids_do_not_repeat_across_many_pools():
    made = {ids.uuid4() for _ in range(10 * ids.POOL_BYTES // ids.ID_BYTES)}
    assert len(made) == 10 * ids.POOL_BYTES // ids.ID_BYTES


def test_the_pool_is_refilled_from_the_kernel_once_per_256_ids(monkeypatch):
    fetched = []
    real = os.urandom
    monkeypatch.setattr(ids, "_pool", ids._Pool())
    monkeypatch.setattr(ids.os, "urandom", lambda n: fetched.append(n) or real(n))
    for _ in range(2 * ids.POOL_BYTES // ids.ID_BYTES):
        ids.uuid4()
    assert fetched == [ids.POOL_BYTES, ids.POOL_BYTES]


def test_a_forked_child_does_not_hand_out_its_parents_next_ids():
    ids.uuid4()  # the pool holds unused bytes now
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(writer, ids.uuid4().bytes)
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(reader, 16) != ids.uuid4().bytes
