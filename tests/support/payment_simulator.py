"""The payment-provider simulator served by uvicorn on a free port, in a thread."""

from __future__ import annotations

import threading
import time
from uuid import uuid4

import httpx
import uvicorn

from infra.ports import free_port
from standins.payment_provider.app import create_app as create_simulator
from standins.payment_provider.settings import SimulatorSettings


class Simulator:
    def __init__(self, tmp_path, **faults):
        self.url = f"http://127.0.0.1:{free_port()}"
        settings = SimulatorSettings(database_url=f"sqlite:///{tmp_path}/paysim-{uuid4().hex}.sqlite",
                                     **faults)
        config = uvicorn.Config(create_simulator(settings), host="127.0.0.1",
                                port=int(self.url.rsplit(":", 1)[1]), log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *_):
        self.server.should_exit = True
        self.thread.join(10)

    def refunds(self, order_reference: str) -> list[dict]:
        return httpx.get(f"{self.url}/refunds", params={"order_reference": order_reference}).json()["data"]
