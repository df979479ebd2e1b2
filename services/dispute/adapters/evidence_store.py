"""Evidence files, stored content-addressed: `<root>/ab/cd/<sha256>`.

The type is decided by the file's first bytes (jpg, png, gif, pdf), never by the name or the
declared content type; the name the uploader gave is kept as metadata only, never as a path.
Files are copied in chunks, so no more than one chunk is held in memory and no more than
`max_bytes` + 1 bytes are ever read.

An upload is staged first (a hidden temporary file beside the store) and committed to its
content address only once the dispute has recorded it: a file the domain refuses (a cap, a
closed dispute, a stale version) is discarded and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from services.dispute.domain.errors import EvidenceRejected

MAX_BYTES = 10 * 1024 * 1024
CHUNK = 64 * 1024
SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
              (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"))
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class StagedFile:
    """An upload checked and written aside, not yet in the store."""

    file: StoredFile
    staging: Path
    target: Path

    def commit(self) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.staging, self.target)

    def discard(self) -> None:
        self.staging.unlink(missing_ok=True)


def sniff(head: bytes) -> str | None:
    """The content type the first bytes prove, or None."""
    return next((kind for magic, kind in SIGNATURES if head.startswith(magic)), None)


def safe_filename(name: str | None) -> str:
    """A display name: no directories, no control characters, at most 255 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return base[:255] or "evidence"


class EvidenceStore:
    def __init__(self, root: Path, max_bytes: int = MAX_BYTES):
        self.root, self.max_bytes = Path(root), max_bytes

    def stage(self, source: BinaryIO) -> StagedFile:
        """Copy `source` aside; EvidenceRejected (nothing left) for a wrong type, empty or
        too big. The caller commits or discards the staged file."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                stored = self._copy(source, out)
        except BaseException:
            os.unlink(tmp)
            raise
        return StagedFile(stored, Path(tmp), self.path_for(stored.sha256))

    def save(self, source: BinaryIO) -> StoredFile:
        """Copy `source` into the store at once (for callers with no refusal to wait for)."""
        staged = self.stage(source)
        staged.commit()
        return staged.file

    def sweep_staged(self, older_than_seconds: float = 3600.0) -> int:
        """Remove staged uploads a crashed process left (none takes an hour); how many."""
        cutoff, removed = time.time() - older_than_seconds, 0
        for staged in self.root.glob(".upload-*") if self.root.is_dir() else ():
            if staged.stat().st_mtime < cutoff:
                staged.unlink(missing_ok=True)
                removed += 1
        return removed

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError("not a sha256 digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def _copy(self, source: BinaryIO, out: BinaryIO) -> StoredFile:
        digest, size, head = hashlib.sha256(), 0, b""
        while chunk := source.read(min(CHUNK, self.max_bytes + 1 - size)):
            head = head or chunk[:16]
            size += len(chunk)
            if size > self.max_bytes:
                raise EvidenceRejected("evidence files are at most 10 MB", max_bytes=self.max_bytes)
            digest.update(chunk)
            out.write(chunk)
        if size == 0:
            raise EvidenceRejected("the evidence file is empty")
        content_type = sniff(head)
        if content_type is None:
            raise EvidenceRejected("evidence must be a jpg, png, gif or pdf file")
        return StoredFile(sha256=digest.hexdigest(), size=size, content_type=content_type)
