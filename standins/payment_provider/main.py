"""The payment-provider simulator as its own process (default http://127.0.0.1:8003).

python -m standins.payment_provider.main
"""

from __future__ import annotations

import sys


from services.common.http import serve
from services.common.logging import configure_logging
from services.common.bulk_gc import serving_heap
from standins.payment_provider.app import create_app
from standins.payment_provider.settings import SimulatorSettings


YOUNG_THRESHOLD = 20_000
"""The stand-in's CPU per refund 2.15 -> 1.40 ms with its heap frozen (benchmarks.refund_stages)."""


def main() -> int:
    settings = SimulatorSettings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    with serving_heap(YOUNG_THRESHOLD):  # its built heap out of the collector's walks, as the refund service's
        return serve(app, settings)


if __name__ == "__main__":
    sys.exit(main())
