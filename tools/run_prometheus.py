"""Prometheus beside `make run`: scrapes every process of the local system (the ports of
tools/run_local.RunSettings, RUN_* to change them) every 5 s with the alerting rules of ops/prometheus/,
on http://127.0.0.1:9090 (PROMETHEUS_PORT), keeping its data in RUN_DIR/prometheus.

python -m tools.run_prometheus        (needs Debian's prometheus package)
"""

from __future__ import annotations

import os
import signal
import sys

from infra.prometheus import PrometheusServer
from tools.run_local import RUN, RunSettings


def local_jobs(run: RunSettings) -> dict[str, str]:
    ports = {"dispute-api": run.dispute_port, "dispute-relay": run.relay_metrics_port,
             "notification": run.notification_port, "refund": run.refund_port,
             "payment-simulator": run.paysim_port, "smtp-sink": run.smtp_http_port}
    return {job: f"127.0.0.1:{port}" for job, port in ports.items()}


def main() -> int:
    port = int(os.environ.get("PROMETHEUS_PORT", "9090"))
    server = PrometheusServer(RUN.dir / "prometheus", local_jobs(RUN), port=port, interval="5s")
    try:
        server.start()
    except RuntimeError as problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"Prometheus on {server.url} (alerts: {server.url}/alerts), scraping "
          f"{', '.join(local_jobs(RUN))}; Ctrl-C stops it", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main())
