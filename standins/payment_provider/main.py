"""The payment-provider simulator as its own process (default http://127.0.0.1:8003).

python -m standins.payment_provider.main
"""

from __future__ import annotations

import sys


from services.common.http import serve
from services.common.logging import configure_logging
from services.common.service_gc import freeze_built_service
from standins.payment_provider.app import create_app
from standins.payment_provider.settings import SimulatorSettings


def main() -> int:
    settings = SimulatorSettings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    freeze_built_service()
    return serve(app, settings)


if __name__ == "__main__":
    sys.exit(main())
