"""vegeta (Go, open loop: requests go out at the offered rate whether or not answers came back)
as the load generator: a compiled client, so on 2 cores the client is not the bottleneck.

Installed once with the Go toolchain into BENCH_TOOLS_DIR (~/.cache/dispute-bench/bin),
outside the repository; BENCH_VEGETA may name another binary.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

VERSION = "v12.12.0"
TOOLS_DIR = Path(os.environ.get("BENCH_TOOLS_DIR", Path.home() / ".cache/dispute-bench/bin"))
GO = os.environ.get("BENCH_GO", "/usr/local/go/bin/go")


def vegeta_binary() -> Path:
    """The vegeta binary: BENCH_VEGETA, the cached one, or `go install` it (once)."""
    if given := os.environ.get("BENCH_VEGETA"):
        return Path(given)
    cached = TOOLS_DIR / "vegeta"
    if cached.exists():
        return cached
    go = GO if Path(GO).exists() else shutil.which("go")
    if go is None:
        raise RuntimeError("vegeta is needed and Go is not installed: install Go or set BENCH_VEGETA")
    print(f"installing vegeta {VERSION} into {TOOLS_DIR} (once) ...", flush=True)
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([go, "install", f"github.com/tsenart/vegeta/v12@{VERSION}"], check=True,
                   env={**os.environ, "GOBIN": str(TOOLS_DIR)}, cwd=TOOLS_DIR)
    return cached


@dataclass(frozen=True)
class Target:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""

    def json_line(self) -> str:
        line: dict[str, Any] = {"method": self.method, "url": self.url,
                                "header": {name: [value] for name, value in self.headers.items()}}
        if self.body:
            line["body"] = base64.b64encode(self.body).decode()
        return json.dumps(line)


def write_targets(path: Path, targets: Iterable[Target]) -> int:
    count = 0
    with path.open("w") as out:
        for target in targets:
            out.write(target.json_line() + "\n")
            count += 1
    return count


def attack(targets_file: Path, rate: int, seconds: float, results_file: Path,
           timeout: float = 5.0) -> None:
    """`rate` requests a second for `seconds`, the targets taken in order (the file must hold
    at least rate x seconds of them: each is sent once, so no Idempotency-Key repeats)."""
    cmd = [str(vegeta_binary()), "attack", "-format=json", f"-targets={targets_file}",
           f"-rate={rate}/s", f"-duration={seconds}s", f"-timeout={timeout}s",
           f"-output={results_file}"]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"vegeta attack failed ({done.returncode}): {done.stderr[-1000:]}")


def report(results_file: Path) -> dict[str, Any]:
    out = subprocess.run([str(vegeta_binary()), "report", "-type=json", str(results_file)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@dataclass(frozen=True)
class Answer:
    """One request as vegeta saw it: when the answer arrived (epoch seconds), its status."""

    url: str
    code: int
    answered_at: float
    latency_ms: float


def parse_timestamp(text: str) -> float:
    """RFC 3339 with up to nanoseconds (Go's format) to epoch seconds."""
    text = text.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def parse_answer(line: Mapping[str, Any]) -> Answer:
    latency_s = int(line["latency"]) / 1e9
    return Answer(url=line["url"], code=int(line["code"]),
                  answered_at=parse_timestamp(line["timestamp"]) + latency_s, latency_ms=latency_s * 1e3)


def answers(results_file: Path) -> Iterator[Answer]:
    """Every request of a results file (`vegeta encode --to json`)."""
    proc = subprocess.Popen([str(vegeta_binary()), "encode", "--to", "json", str(results_file)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip():
            yield parse_answer(json.loads(line))
    proc.wait()
