"""The garbage collector tuned for a long-running service on the event path (the refund
service, the payment-provider stand-in, the relay).

Every record handled allocates thousands of short-lived objects that reference counting
frees at once; CPython's cyclic collector still runs every 700 net allocations, and its older
generations walk every object the process holds: the imported modules, pydantic's and
SQLAlchemy's compiled schemas, the application. Under load that was a large share of the
refund service's CPU, charged to whatever line allocated (a profile showed yarl building a URL
and the JSON parser among the hottest lines). Once the service is built, what exists is frozen
out of the collector's sight (it lives as long as the process anyway), and the youngest
generation collects every SERVICE_THRESHOLD allocations: cyclic garbage is still collected,
less often, so memory stays flat (the same tuning as a replay's, services/common/bulk_gc.py,
for the whole life of the process).
"""

from __future__ import annotations

import gc

SERVICE_THRESHOLD = 20_000


def freeze_built_service(threshold: int = SERVICE_THRESHOLD) -> None:
    """Call once the service is built (its modules imported, its app made), before it serves."""
    gc.collect()  # what start-up left as garbage is not frozen with the rest
    gc.freeze()
    gc.set_threshold(threshold, *gc.get_threshold()[1:])
