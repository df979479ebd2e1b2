"""Start a dispute process from the environment (DISPUTE_*):

python -m services.dispute.main serve   HTTP API (+ its Kafka consumers and workers): entrypoints/serve.py
                                        (DISPUTE_HTTP_WORKERS > 1: that many, entrypoints/http_workers.py)
python -m services.dispute.main relay   publish the event store to Kafka: entrypoints/relay_process.py
"""

from __future__ import annotations

import argparse
import sys

if __name__ == "__main__":  # a process of its own: before structlog is imported
    from services.common.lean_process import leave_out_console_extras
    leave_out_console_extras()

import structlog

from services.common.local_mode import UnsafeSettings
from services.common.logging import configure_logging
from services.dispute.settings import DisputeSettings

log = structlog.get_logger("dispute")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.dispute.main")
    parser.add_argument("command", choices=["serve", "relay"])
    args = parser.parse_args(argv)
    settings = DisputeSettings()
    configure_logging(settings.log_level)
    try:
        settings.refuse_unsafe()
    except UnsafeSettings as refusal:
        log.error("refused_to_start", reason=str(refusal))
        return 2
    # Imported here: the supervisor of several API processes needs none of the application.
    if args.command == "relay":
        from services.dispute.entrypoints.relay_process import run_until_signalled
        run_until_signalled(settings)
        return 0
    if settings.http_workers > 1:
        from services.dispute.entrypoints.http_workers import serve_workers
        return serve_workers(settings.http_workers, settings.run_workers)
    sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
    from services.common.http import serve_unless_unsafe
    from services.dispute.entrypoints.serve import create_app
    return serve_unless_unsafe(lambda: create_app(settings), settings)


if __name__ == "__main__":
    sys.exit(main())
