"""A party speaking to the dispute API over HTTP, as a browser or app would."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.kafka import eventually
from tests.support.tokens import bearer


class Party:
    def __init__(self, http: httpx.AsyncClient, base_url: str, role: str, sub: str):
        self.http, self.base, self.role, self.id = http, base_url, role, sub

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.role, self.id)

    async def post(self, path: str, body: dict | None = None, expect: int | None = None,
                   **headers: str) -> httpx.Response:
        response = await self.http.post(f"{self.base}{path}", json=body or {},
                                        headers={**self.headers, **headers})
        if expect is not None:
            assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
        return response

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(f"{self.base}{path}", params=params, headers=self.headers)

    async def dispute(self, dispute_id: str) -> dict:
        response = await self.get(f"/v1/disputes/{dispute_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def open_dispute(self, order_id: str, expect: int = 201, headers: dict | None = None,
                           **body: Any) -> httpx.Response:
        """Open once the dispute service has learned the order from orders.events."""
        payload = {"order_id": order_id, "item_id": "I-1", "reason": "DAMAGED",
                   "request": "FULL_REFUND", **body}

        async def attempt():
            response = await self.post("/v1/disputes", payload, **(headers or {}))
            unknown = response.status_code == 422 and response.json()["code"] == "ORDER_NOT_FOUND"
            return None if unknown else response

        response = await eventually(attempt, timeout=30)
        assert response is not None, f"the dispute service never learned order {order_id}"
        assert response.status_code == expect, response.text
        return response

    async def wait_for(self, dispute_id: str, predicate, timeout: float = 30.0) -> dict:
        """The dispute once `predicate(view)` holds (timers, refunds and relays are async)."""
        async def check():
            view = await self.dispute(dispute_id)
            return view if predicate(view) else None

        view = await eventually(check, timeout=timeout, interval=0.3)
        assert view is not None, f"dispute {dispute_id} never reached the expected state"
        return view
