"""The record kinds: for each, the model that crosses Kafka, its topic and its ClickHouse table.

This catalogue is the one place where a kind of record is declared. The ingest runner reads it to
route what a source emits, the sink runner to know which topics it consumes and how to parse
them, the ClickHouse writer to know where each model goes, and the metrics to name the tables
the sink writes. A new kind of record is one entry here, its model in `veille.models`, a numbered
migration for its table and its row mapping in `sinks/rows.py`; `tests/veille/test_records.py`
fails while an entry is half declared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from veille.models import (
    AccountSnapshot,
    Alert,
    DeadLetter,
    EnrichedPost,
    ObservationBatch,
    Post,
    RuleForecast,
    UsageSnapshot,
)
from veille.settings import KafkaSettings

KindName = Literal[
    "post", "enriched", "dead_letter", "alert", "account", "usage", "forecast", "observation"
]
"""The closed set of record kinds."""

SourceKind = Literal["post", "alert", "account", "usage", "forecast"]
"""The kinds a source may emit (`ingest.base.SourceRecord.kind`)."""


@dataclass(frozen=True, slots=True)
class RecordKind:
    """One kind of record: its model, the `KafkaSettings` field naming its topic, its table.

    `table` is None for a kind that is not stored as such (raw posts are stored once enriched,
    observations feed the crisis detector only).
    """

    name: KindName
    model: type[BaseModel]
    topic_setting: str
    table: str | None = None

    def topic(self, kafka: KafkaSettings) -> str:
        """The topic this kind is written to, as configured."""
        return str(getattr(kafka, self.topic_setting))

    @property
    def parse(self) -> Callable[[bytes], BaseModel]:
        """Bytes of a Kafka value to the model; raises pydantic's `ValidationError`/`ValueError`."""
        if self.model is DeadLetter:
            return DeadLetter.from_json
        return self.model.model_validate_json


KINDS: tuple[RecordKind, ...] = (
    RecordKind("post", Post, "raw_topic"),
    RecordKind("enriched", EnrichedPost, "enriched_topic", "posts"),
    RecordKind("dead_letter", DeadLetter, "dlq_topic", "dead_letters"),
    RecordKind("alert", Alert, "alerts_topic", "alerts"),
    RecordKind("account", AccountSnapshot, "accounts_topic", "account_metrics"),
    RecordKind("usage", UsageSnapshot, "usage_topic", "x_usage"),
    RecordKind("forecast", RuleForecast, "forecasts_topic", "x_forecasts"),
    RecordKind("observation", ObservationBatch, "observations_topic"),
)

BY_NAME: dict[str, RecordKind] = {k.name: k for k in KINDS}
BY_MODEL: dict[type[BaseModel], RecordKind] = {k.model: k for k in KINDS}

STORED: tuple[RecordKind, ...] = tuple(k for k in KINDS if k.table is not None)
"""The kinds the sink writes to ClickHouse, in the order it flushes them."""

TABLES: tuple[str, ...] = tuple(k.table for k in STORED if k.table is not None)
"""The ClickHouse tables the sink writes."""


def kind(name: str) -> RecordKind:
    """The kind called `name`; raises `KeyError` naming the known kinds."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown record kind {name!r}; known: {', '.join(BY_NAME)}") from None
