"""Uploads are staged, then committed to their content address or discarded: nothing is left
in the evidence store by an upload that was not recorded."""

import io
import os
import time

import pytest

from services.dispute.domain.errors import EvidenceRejected
from services.dispute.adapters.evidence_store import EvidenceStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_staged_upload_is_in_the_store_only_once_committed(tmp_path):
    store = EvidenceStore(tmp_path)
    staged = store.stage(io.BytesIO(PNG))
    assert not store.path_for(staged.file.sha256).exists()
    staged.commit()
    staged.discard()
    assert files(tmp_path) == [str(store.path_for(staged.file.sha256).relative_to(tmp_path))]


def test_a_discarded_upload_leaves_nothing(tmp_path):
    store = EvidenceStore(tmp_path)
    store.stage(io.BytesIO(PNG)).discard()
    assert files(tmp_path) == []


def test_a_file_the_store_refuses_leaves_nothing(tmp_path):
    with pytest.raises(EvidenceRejected):
        EvidenceStore(tmp_path).stage(io.BytesIO(b"not an image"))
    assert files(tmp_path) == []


def test_staged_uploads_a_crash_left_are_swept_and_fresh_ones_kept(tmp_path):
    store = EvidenceStore(tmp_path)
    old, fresh = store.stage(io.BytesIO(PNG)), store.stage(io.BytesIO(PNG + b"new"))
    an_hour_ago = time.time() - 3601
    os.utime(old.staging, (an_hour_ago, an_hour_ago))
    assert store.sweep_staged() == 1
    assert (old.staging.exists(), fresh.staging.exists()) == (False, True)
