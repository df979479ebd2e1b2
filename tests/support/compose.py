"""docker-compose files read as data (no Docker engine here): one file, or several merged as
`docker compose -f a.yml -f b.yml` merges them for what these files use (mappings merged key by
key, anything else replaced by the later file)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "docker-compose.yml"
CLUSTER = ROOT / "docker-compose.cluster.yml"


def load(*files: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in files:
        merged = merge(merged, yaml.safe_load(path.read_text()))
    return merged


def merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{key: merge(base.get(key), value) for key, value in override.items()}}
    return override


def command(spec: dict[str, Any]) -> list[str]:
    raw = spec.get("command") or []
    return shlex.split(raw) if isinstance(raw, str) else list(raw)


def environment(spec: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in (spec.get("environment") or {}).items()}


def one_shots(compose: dict[str, Any]) -> set[str]:
    """Services others wait for to have exited 0 (kafka-setup), not to be healthy."""
    return {name for spec in compose["services"].values()
            for name, need in (spec.get("depends_on") or {}).items()
            if need.get("condition") == "service_completed_successfully"}
