"""The Compose Specification's JSON Schema, fetched once (not kept in this repository).

compose-go, the reference implementation of the specification that `docker compose` is
built on, ships the schema in its module (schema/compose-spec.json). The Go module proxy
serves that module as a zip over HTTPS, like Maven serves the Kafka jars (infra/kafka.py):
pinned to one version, checked against its sha256, cached under ~/.cache. No Go toolchain is
needed. A machine that cannot reach the proxy fails the schema test loudly, naming the URL.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import urllib.request
import zipfile
from pathlib import Path

MODULE, VERSION = "github.com/compose-spec/compose-go/v2", "v2.17.0"
URL = f"https://proxy.golang.org/{MODULE}/@v/{VERSION}.zip"
SHA256 = "3af3c020ea6875a44c6663755650439aa4749cf3f036095e23c115e25ba6051e"
MEMBER = f"{MODULE}@{VERSION}/schema/compose-spec.json"
CACHE = Path(os.environ.get("COMPOSE_SCHEMA_CACHE", Path.home() / ".cache/dispute-platform/compose-spec"))


def compose_schema() -> dict:
    cached = CACHE / f"compose-spec-{VERSION}.json"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(URL, timeout=60) as response:
            archive = response.read()
        digest = hashlib.sha256(archive).hexdigest()
        if digest != SHA256:
            raise RuntimeError(f"{URL} has sha256 {digest}, not the pinned {SHA256}")
        with zipfile.ZipFile(io.BytesIO(archive)) as module:
            data = module.read(MEMBER)
        partial = cached.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(cached)
    return json.loads(cached.read_text())
