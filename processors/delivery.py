"""Producing a batch's output from a Faust agent, durably, before the batch is acknowledged.

`deliver()` sends every record and awaits every delivery. If Kafka keeps refusing after
`attempts` tries it exits the worker at once, without acknowledging: the batch is read again
after a restart (at-least-once; storage is idempotent), rather than acknowledged and lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

Record = tuple[Any, bytes | None, bytes] | tuple[Any, bytes | None, bytes, int]
"""(Faust topic, key, value[, partition])."""


async def deliver(records: list[Record], what: str, attempts: int = 5) -> None:
    for attempt in range(1, attempts + 1):
        try:
            futures = [
                await r[0].send(key=r[1], value=r[2], partition=r[3] if len(r) > 3 else None)
                for r in records
            ]
            await asyncio.gather(*futures)
            return
        except Exception as e:  # resend everything: duplicates are harmless downstream
            logger.error("delivery of %s failed (attempt %d/%d): %r", what, attempt, attempts, e)
            await asyncio.sleep(min(2.0**attempt, 30.0))
    logger.critical("cannot deliver %s; exiting without acknowledging the batch", what)
    os._exit(75)
