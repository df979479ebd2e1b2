"""A private Prometheus server from Debian's `prometheus` package, scraping the jobs it is
given, on 127.0.0.1 and a free port (tests; locally: see the metrics notes in the README).

The config is generated: one job per service, `targets` as host:port, a short scrape
interval, and the alerting rules of ops/prometheus/ loaded, so a rule that does not parse
stops the server at once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from infra.ports import free_port

INSTALL = "apt-get install -y --no-install-recommends prometheus"
RULES = Path(__file__).resolve().parents[1] / "ops" / "prometheus" / "alerts.yml"


def prometheus_binary(name: str = "prometheus") -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: Debian's prometheus package provides it; run: {INSTALL}")
    return found


def scrape_config(jobs: dict[str, str], interval: str = "1s", rules: Path | None = RULES) -> dict[str, Any]:
    """`jobs`: job name -> host:port serving /metrics."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [{"job_name": job, "metrics_path": "/metrics",
                            "static_configs": [{"targets": [target]}]}
                           for job, target in jobs.items()]}
    if rules is not None:
        config["rule_files"] = [str(rules)]
    return config


class PrometheusServer:
    def __init__(self, folder: Path, jobs: dict[str, str], port: int | None = None,
                 interval: str = "1s"):
        self.folder, self.jobs, self.port = Path(folder), jobs, port or free_port()
        self.interval = interval
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def log_file(self) -> Path:
        return self.folder / "prometheus.log"

    def start(self, timeout: float = 60.0) -> "PrometheusServer":
        binary = prometheus_binary()
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "prometheus.yml"
        config.write_text(json.dumps(scrape_config(self.jobs, self.interval), indent=2))  # JSON is YAML
        self._log = open(self.log_file, "wb")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_file.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready in {timeout}s (log {self.log_file})")

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector of `promql` (/api/v1/query): [{"metric": {...}, "value": [t, v]}]."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5).json()
        if answer["status"] != "success":
            raise RuntimeError(f"{promql}: {answer}")
        return answer["data"]["result"]

    def value(self, promql: str) -> float | None:
        """The single value of `promql`, None while it has no series."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
