"""Running schemathesis against a dispute API process: its config file and auth file.

The run draws `order_id` of an opening from orders the test seeded (else every opening is
ORDER_NOT_FOUND) and `dispute_id` from disputes it opened (else every dispute route is a
404), and speaks as one role; `peers` are principals of that role that must not see each
other's disputes (schemathesis' object_level_authorization check).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.tokens import SECRET, bearer

HOOKS = Path(__file__).with_name("contract_hooks.py")
ROOT = Path(__file__).resolve().parents[2]
# Statuses a schema-valid request may get: the domain refuses by its rules (409, 422, 403...)
# and a stale or foreign If-Match is 412; see contract_hooks for what a 422 may not be.
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429"]
# ... and a schema-invalid one: refused, never accepted (412/413: the header or size came first).
NEGATIVE_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "412", "413", "415",
                     "422", "428", "429"]


# Who speaks each operation in the cast run (the rest: the run's own role, an operator).
CAST = {"buyer": ["POST /v1/disputes", "POST /v1/disputes/{dispute_id}/offers/{offer_id}/accept",
                  "POST /v1/disputes/{dispute_id}/offers/{offer_id}/reject",
                  "POST /v1/disputes/{dispute_id}/escalate", "POST /v1/disputes/{dispute_id}/withdraw",
                  "POST /v1/disputes/{dispute_id}/return-shipment",
                  "POST /v1/disputes/{dispute_id}/replacement-receipt",
                  "POST /v1/disputes/{dispute_id}/feedback", "POST /v1/disputes/{dispute_id}/appeals"],
        "seller": ["POST /v1/disputes/{dispute_id}/offers", "POST /v1/disputes/{dispute_id}/accept-claim",
                   "POST /v1/disputes/{dispute_id}/reject-claim",
                   "POST /v1/disputes/{dispute_id}/return-receipt",
                   "POST /v1/disputes/{dispute_id}/replacement-shipment",
                   "POST /v1/disputes/{dispute_id}/evidence",
                   "POST /v1/disputes/{dispute_id}/messages"]}
PARTIES = {"buyer": "B-1", "seller": "S-1"}


def cast_env(role: str, sub: str, secret: str = SECRET) -> dict[str, str]:
    by_operation = {label: bearer(party, PARTIES[party], secret=secret)["Authorization"]
                    for party, labels in CAST.items() for label in labels}
    return {"CONTRACT_CAST": json.dumps({"speaker": bearer(role, sub, secret=secret)["Authorization"],
                                         "by_operation": by_operation})}


@dataclass(frozen=True)
class ContractRun:
    base_url: str
    role: str
    principals: tuple[str, ...]  # the first speaks; all of them are peers
    order_ids: tuple[str, ...]
    dispute_ids: tuple[str, ...]
    max_examples: int = 5
    stateful_examples: int = 40
    stateful_steps: int = 20
    phases: str = "examples,coverage,fuzzing,stateful"
    cast: bool = False
    secret: str = SECRET  # the API's DISPUTE_JWT_SECRET (by hand against `make run`: its own)
    seed: int = 12

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        auth = folder / f"auth-{self.name}.json"
        auth.write_text(json.dumps({"auth": [
            {"name": sub, "fixedHeaders": [{"name": "Authorization",
                                            "value": self._bearer(self.role, sub)}]}
            for sub in self.principals]}))
        config = folder / f"schemathesis-{self.name}.toml"
        config.write_text(self._toml(auth))
        return config

    def _toml(self, auth: Path) -> str:
        peers = list(self.principals) if len(self.principals) > 1 else None
        lines = [f"hooks = {json.dumps(str(HOOKS))}", f"seed = {self.seed}", "workers = 1",
                 "[cache]", "enabled = false",  # no state kept in the repository between runs
                 "[generation]", f"max-examples = {self.max_examples}", 'database = ":memory:"',
                 "[phases.stateful]", f"max-steps = {self.stateful_steps}",
                 "[phases.stateful.inference]", "algorithms = []",
                 "[phases.stateful.generation]", f"max-examples = {self.stateful_examples}",
                 "[checks.positive_data_acceptance]", f"expected-statuses = {json.dumps(POSITIVE_STATUSES)}",
                 "[checks.negative_data_rejection]", f"expected-statuses = {json.dumps(NEGATIVE_STATUSES)}",
                 *self._drawn("body.order_id", "orders", self.order_ids, 0.9),
                 *self._drawn("body.item_id", "items", ("I-1",), 0.9),
                 *self._drawn("path.dispute_id", "disputes", self.dispute_ids, 0.8),
                 "[auth.wfc]", f"path = {json.dumps(str(auth))}",
                 f"user = {json.dumps(self.principals[0])}"]
        if peers:
            lines.append(f"peers = {json.dumps(peers)}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _drawn(parameter: str, name: str, values: tuple[str, ...], probability: float) -> list[str]:
        """A dictionary schemathesis draws `parameter` from (none when there are no values)."""
        if not values:
            return []
        return [f"[dictionaries.{name}]", f"values = {json.dumps(list(values))}",
                f'[parameters."{parameter}"]', f'dictionary = "{name}"', f"probability = {probability}"]

    def _bearer(self, role: str, sub: str) -> str:
        return bearer(role, sub, secret=self.secret)["Authorization"]

    def command(self, folder: Path) -> list[str]:
        config = self.write(folder)
        st = str(Path(sys.executable).with_name("st"))
        return [st, "--config-file", str(config), "run", f"{self.base_url}/openapi.json",
                "--checks", "all", "--phases", self.phases, "--no-color", "--report", "junit",
                "--report-dir", str(folder / f"report-{self.name}")]

    def env(self) -> dict[str, str]:
        return cast_env(self.role, self.principals[0], self.secret) if self.cast else {}

    def start(self, folder: Path) -> subprocess.Popen:
        output = open(folder / f"schemathesis-{self.name}.log", "w")
        return subprocess.Popen(self.command(folder), stdout=output, stderr=subprocess.STDOUT,
                                env={**os.environ, **self.env()}, cwd=ROOT)

    @property
    def name(self) -> str:
        return f"{self.role}-cast" if self.cast else self.role
