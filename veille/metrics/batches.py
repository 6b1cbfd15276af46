"""The metrics the hot paths feed: dead letters by reason class, batches, rows the sink wrote.

The stages call these once per batch or per bad record: `dead_lettered()`, `batch()`,
`sink_flushed()`. Reasons become a closed class (`reason_class()`): a dead letter's free text never
becomes a label.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Histogram

from veille import records
from veille.metrics.registry import REGISTRY, Stage

DEAD_LETTERS = Counter(
    "veille_dead_letters",
    "Records the stage sent to the dead-letter topic (sink: also malformed dead letters it "
    "stored as such), by reason class.",
    ["stage", "reason"],
    registry=REGISTRY,
)
BATCH_RECORDS = Histogram(
    "veille_batch_records",
    "Records per batch: process, raw posts per enrich batch; sink, rows per ClickHouse write.",
    ["stage"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000),
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "veille_batch_seconds",
    "Time per batch: process, enrichment of a batch; sink, writing a batch to ClickHouse.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
SINK_ROWS = Counter(
    "veille_sink_rows",
    "Rows the sink wrote to ClickHouse, by table.",
    ["table"],
    registry=REGISTRY,
)

# Dead-letter reasons start with these words (the stages write them); anything else is `other`.
REASONS: tuple[tuple[str, str, Stage], ...] = (
    ("invalid X post payload", "invalid_payload", "ingest"),
    ("invalid post", "invalid_post", "process"),
    ("enrichment failed", "enrichment_failed", "process"),
    ("invalid enriched post", "invalid_enriched_post", "sink"),
    ("invalid record", "invalid_record", "sink"),
    ("malformed dead letter", "malformed_dead_letter", "sink"),
)
SINK_TABLES = records.TABLES


def reason_class(reason: str) -> str:
    """The closed class of a dead letter's reason (its free text never becomes a label)."""
    for prefix, cls, _ in REASONS:
        if reason.startswith(prefix):
            return cls
    return "other"


def dead_lettered(stage: Stage, reason: str) -> None:
    """Count one record `stage` dead-lettered with `reason`."""
    DEAD_LETTERS.labels(stage, reason_class(reason)).inc()


def batch(stage: Stage, records: int, seconds: float) -> None:
    """Observe one batch of `records` that took `seconds`."""
    BATCH_RECORDS.labels(stage).observe(records)
    BATCH_SECONDS.labels(stage).observe(seconds)


def sink_flushed(rows: Mapping[str, int], inserts: int, seconds: float) -> None:
    """Count what one sink flush wrote (rows per table) and observe it as a batch."""
    for table, n in rows.items():
        SINK_ROWS.labels(table).inc(n)
    if inserts:
        batch("sink", sum(rows.values()), seconds)


def start_series(stage: Stage) -> None:
    """Create `stage`'s series at 0, so that rate() sees their first increment."""
    for _, cls, owner in REASONS:
        if owner == stage:
            DEAD_LETTERS.labels(stage, cls)
    if stage in ("process", "sink"):
        BATCH_RECORDS.labels(stage)
        BATCH_SECONDS.labels(stage)
    if stage == "sink":
        for table in SINK_TABLES:
            SINK_ROWS.labels(table)
