"""The record a faststream handler is given, resolved on the event loop.

faststream's `KafkaMessage` annotation is a context field whose resolver is a plain function,
and fast_depends runs a plain function in a worker thread (`anyio.to_thread.run_sync`): one
thread hop, with its capacity limiter and two GIL hand-overs, for every record a per-message
handler is given and every batch of a batch handler, only to look a name up in a dict. In the
refund service that hop was ~8% of its samples under the end-to-end bench (py-spy). The same
field, with a coroutine as its resolver, is awaited on the loop instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from faststream._internal.context import Context
from faststream.kafka.message import KafkaMessage as _KafkaMessage


class InLoopContext(Context):
    """faststream's `Context`, resolved without leaving the event loop."""

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return super().use(**kwargs)


KafkaMessage = Annotated[_KafkaMessage, InLoopContext("message")]
"""Use in place of `faststream.kafka.annotations.KafkaMessage`."""
