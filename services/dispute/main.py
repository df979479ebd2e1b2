"""Start a dispute process from the environment (DISPUTE_*):

python -m services.dispute.main serve   HTTP API (+ its Kafka consumers and workers): entrypoints/serve.py
python -m services.dispute.main relay   publish the event store to Kafka: entrypoints/relay_process.py
"""

from __future__ import annotations

import argparse
import sys

import structlog

from services.common.http import serve_unless_unsafe
from services.common.local_mode import UnsafeSettings
from services.common.logging import configure_logging
from services.dispute.entrypoints.serve import create_app
from services.dispute.entrypoints.relay_process import run_until_signalled
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
    if args.command == "relay":
        run_until_signalled(settings)
        return 0
    return serve_unless_unsafe(lambda: create_app(settings), settings)


if __name__ == "__main__":
    sys.exit(main())
