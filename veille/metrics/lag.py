"""Consumer lag: its shape and its reader for confluent-kafka consumers (librdkafka statistics).

The Faust processor reads its lag from Faust's monitor instead (`processors.app.lag`); both give
a `Lag`, which `veille.metrics.stages.bind` exposes as `veille_consumer_lag`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Lag = Mapping[tuple[str, int], int]
"""Records behind, per (topic, partition)."""


class KafkaLag:
    """Lag of a confluent-kafka consumer per assigned partition, from librdkafka's statistics:
    the partition's end (high watermark, or last stable offset) minus the consumer's committed
    offset, i.e. records not yet durably handled. Pass `config()` into the consumer's
    configuration; librdkafka then calls back every `interval_ms` from the consuming thread
    (within `poll()`/`consume()`), so nothing is asked of the consumer from another thread
    (confluent-kafka serializes calls on one consumer: another thread would wait for the
    consuming one). Partitions whose lag is unknown yet are left out."""

    def __init__(self, interval_ms: int = 5000) -> None:
        self.interval_ms = interval_ms
        self._lag: dict[tuple[str, int], int] = {}

    def config(self) -> dict[str, Any]:
        return {"statistics.interval.ms": self.interval_ms, "stats_cb": self.on_stats}

    def on_stats(self, text: str) -> None:
        try:
            topics = json.loads(text).get("topics", {})
        except ValueError:
            return
        lag = {}
        for topic, t in topics.items():
            for partition, p in t.get("partitions", {}).items():
                behind = p.get("consumer_lag", -1)
                if int(partition) >= 0 and isinstance(behind, int) and behind >= 0:
                    lag[(topic, int(partition))] = behind
        self._lag = lag

    def __call__(self) -> Lag:
        return self._lag
