"""Prometheus metrics of veille's stages: what each stage did, how far behind it is, its backoff.

A stage process (`veille ingest`, `veille process`, `veille sink`) serves them on
`http://VEILLE_METRICS_ADDR:VEILLE_METRICS_PORT/metrics` when `VEILLE_METRICS_PORT` is set (0, the
default, serves nothing: `veille up` and the tests run several stages on one host).
docs/observability.md lists every metric, its labels and its meaning.

Where the values come from:
- most are read when Prometheus scrapes, from the counters the stages already keep for their
  status files (`veille.stats`), through the reader a `watch_*` function binds for the stage:
  nothing is counted twice and the hot paths do nothing more;
- consumer lag comes from what the Kafka clients already know (librdkafka's statistics for the
  sink, the Faust monitor for the processor): no request to the broker;
- the hot paths only observe their batches (`batch()`, `sink_flushed()`) and count dead letters
  by reason class (`dead_lettered()`), once per batch or per bad record.

One registry per process (`REGISTRY`): a Faust worker is a process of its own and serves its own
port. Label values are closed sets (stages, reason classes, tables, topics, partitions): no post
content, no identifier of a person, no setting, no secret.

A scrape never fails because a stage is starting or stopping: a reader that raises is skipped
(logged at DEBUG) and its samples are left out of that scrape.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from veille import records
from veille.settings import MetricsSettings

logger = logging.getLogger(__name__)

Stage = Literal["ingest", "process", "sink"]
STAGES: tuple[Stage, ...] = ("ingest", "process", "sink")

# `*_created` series double every counter for no use here
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)
"""Every veille metric of this process (and the process's CPU and memory)."""

ProcessCollector(registry=REGISTRY)


# -- metrics read from the stages' counters ---------------------------------------------------


@dataclass(frozen=True)
class Family:
    """A metric whose value is read at scrape time. `name` is without the `_total` suffix,
    which Prometheus' exposition adds to counters."""

    name: str
    type: Literal["counter", "gauge"]
    help: str
    labels: tuple[str, ...] = ()


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "veille_stage_running",
            "gauge",
            "1 while the stage is running (partitions assigned, source open), else 0.",
            ("stage",),
        ),
        Family(
            "veille_records_in",
            "counter",
            "Records the stage read: ingest, post payloads from its source; process, raw posts "
            "consumed; sink, Kafka records consumed (posts, dead letters, alerts, readings).",
            ("stage",),
        ),
        Family(
            "veille_posts_out",
            "counter",
            "Posts the stage passed on: ingest, produced to the raw topic; process, enriched "
            "posts produced; sink, posts written to ClickHouse (and committed).",
            ("stage",),
        ),
        Family(
            "veille_source_records",
            "counter",
            "Records the source made itself (account and usage readings, alerts), produced to "
            "their own topics.",
            ("kind",),
        ),
        Family(
            "veille_observations",
            "counter",
            "Observations (one per post and watch entry) the processor fed the crisis detector.",
        ),
        Family(
            "veille_observations_done",
            "counter",
            "Observations the crisis agent has read and evaluated.",
        ),
        Family(
            "veille_alerts_raised",
            "counter",
            "Alerts the processor raised or updated (impersonation, spikes, sentiment dips).",
        ),
        Family(
            "veille_consumer_lag",
            "gauge",
            "Records between the stage's read position and the end of the partition (the "
            "high watermark its Kafka client last saw).",
            ("stage", "topic", "partition"),
        ),
        Family("veille_sink_inserts", "counter", "ClickHouse inserts the sink made."),
        Family(
            "veille_sink_commits",
            "counter",
            "Offset commits of the sink, each after ClickHouse accepted a batch.",
        ),
        Family(
            "veille_sink_retries",
            "counter",
            "Batches ClickHouse could not take (unavailable), retried after a backoff.",
        ),
        Family(
            "veille_sink_backoff_seconds",
            "gauge",
            "Current wait before the sink retries ClickHouse; 0 while writes succeed.",
        ),
        Family(
            "veille_sink_pending_records",
            "gauge",
            "Records buffered by the sink, not yet written (nor committed).",
        ),
        Family("veille_x_reads_today", "gauge", "Posts read from X this UTC day (billed)."),
        Family("veille_x_reads_month", "gauge", "Posts read from X this UTC month (billed)."),
        Family(
            "veille_x_duplicates_today",
            "gauge",
            "Posts read again from X this UTC day (not billed again).",
        ),
        Family(
            "veille_x_budget_posts",
            "gauge",
            "Monthly budget in posts (X_MONTHLY_BUDGET_USD / X_PRICE_PER_POST_USD); absent "
            "without a budget.",
        ),
        Family("veille_x_cost_month_usd", "gauge", "Cost of this month's X reads, in USD."),
        Family(
            "veille_x_paused",
            "gauge",
            "1 while X ingestion is paused because the monthly budget is reached.",
        ),
        Family(
            "veille_x_stream_connections",
            "counter",
            "Successful connections to X's filtered stream.",
        ),
        Family(
            "veille_x_stream_backoffs",
            "counter",
            "Reconnection waits of the filtered stream, by kind (network, http, rate_limit).",
            ("kind",),
        ),
        Family(
            "veille_x_stream_backoff_seconds",
            "gauge",
            "Current reconnection wait of the filtered stream, by schedule (network: linear "
            "to 16 s; http: exponential to 320 s, 429s included); 0 once connected.",
            ("kind",),
        ),
        Family(
            "veille_x_stream_backoff_at_max",
            "gauge",
            "1 while the filtered stream waits at its longest backoff (needs a person).",
        ),
        Family(
            "veille_x_gap_fill_posts",
            "counter",
            "Posts read by recent search to fill the gaps after reconnections.",
        ),
    )
}

# What each stage's counters (the keys of its status file) feed: key -> (family, label values
# after `stage`).
_KEYS: dict[Stage, dict[str, tuple[str, tuple[str, ...]]]] = {
    "ingest": {
        "ingested": ("veille_records_in", ()),
        "produced": ("veille_posts_out", ()),
        "account_records": ("veille_source_records", ("account",)),
        "alert_records": ("veille_source_records", ("alert",)),
        "usage_records": ("veille_source_records", ("usage",)),
        # the X source's own figures (`XSource.metrics()`)
        "reads_day": ("veille_x_reads_today", ()),
        "reads_month": ("veille_x_reads_month", ()),
        "duplicates_day": ("veille_x_duplicates_today", ()),
        "budget_posts": ("veille_x_budget_posts", ()),
        "cost_month_usd": ("veille_x_cost_month_usd", ()),
        "paused": ("veille_x_paused", ()),
        "connections": ("veille_x_stream_connections", ()),
        "backoff_network": ("veille_x_stream_backoffs", ("network",)),
        "backoff_http": ("veille_x_stream_backoffs", ("http",)),
        "backoff_rate_limit": ("veille_x_stream_backoffs", ("rate_limit",)),
        "backoff_network_s": ("veille_x_stream_backoff_seconds", ("network",)),
        "backoff_http_s": ("veille_x_stream_backoff_seconds", ("http",)),
        "backoff_at_max_now": ("veille_x_stream_backoff_at_max", ()),
        "gap_fill_posts": ("veille_x_gap_fill_posts", ()),
    },
    "process": {
        "consumed": ("veille_records_in", ()),
        "enriched": ("veille_posts_out", ()),
        "observations": ("veille_observations", ()),
        "observations_done": ("veille_observations_done", ()),
        "alerts": ("veille_alerts_raised", ()),
    },
    "sink": {
        "consumed": ("veille_records_in", ()),
        "posts": ("veille_posts_out", ()),
        "inserts": ("veille_sink_inserts", ()),
        "commits": ("veille_sink_commits", ()),
        "retries": ("veille_sink_retries", ()),
        "backoff_s": ("veille_sink_backoff_seconds", ()),
        "pending": ("veille_sink_pending_records", ()),
    },
}

Lag = Mapping[tuple[str, int], int]
"""Records behind, per (topic, partition)."""


@dataclass
class _Binding:
    read: Callable[[], Mapping[str, Any]]
    lag: Callable[[], Lag] | None


class _StageCollector(Collector):
    """Turns the bound stages' counters into metric families, at each scrape."""

    def __init__(self) -> None:
        self.bindings: dict[Stage, _Binding] = {}
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        for f in FAMILIES.values():
            if f.type == "counter":
                families[f.name] = CounterMetricFamily(f.name, f.help, labels=f.labels)
            else:
                families[f.name] = GaugeMetricFamily(f.name, f.help, labels=f.labels)
        with self._lock:
            bindings = dict(self.bindings)
        for stage, b in bindings.items():
            for name, labels, value in _samples(stage, b):
                families[name].add_metric(labels, value)
        yield from families.values()


def _samples(stage: Stage, b: _Binding) -> Iterator[tuple[str, list[str], float]]:
    try:
        counters = dict(b.read())
    except Exception:
        logger.debug("metrics: cannot read stage=%s", stage, exc_info=True)
        counters = {}
    if "state" in counters:
        yield "veille_stage_running", [stage], float(counters["state"] == "running")
    for key, (name, extra) in _KEYS[stage].items():
        value = counters.get(key)
        if isinstance(value, bool | int | float):
            labels = [stage, *extra] if FAMILIES[name].labels[:1] == ("stage",) else [*extra]
            yield name, labels, float(value)
    if b.lag is not None:
        try:
            lag = dict(b.lag())
        except Exception:
            logger.debug("metrics: cannot read the lag of stage=%s", stage, exc_info=True)
            lag = {}
        for (topic, partition), behind in sorted(lag.items()):
            yield "veille_consumer_lag", [stage, topic, str(partition)], float(behind)


_STAGES = _StageCollector()
REGISTRY.register(_STAGES)


# -- metrics the hot paths feed ---------------------------------------------------------------

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
_REASONS: tuple[tuple[str, str, Stage], ...] = (
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
    for prefix, cls, _ in _REASONS:
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


# -- binding stages ---------------------------------------------------------------------------


def bind(
    stage: Stage, read: Callable[[], Mapping[str, Any]], lag: Callable[[], Lag] | None = None
) -> None:
    """Expose `stage`: `read()` returns its counters (status-file keys, `state` included),
    `lag()` its lag per partition; both are called from the server's thread at each scrape.
    Binding a stage again replaces the earlier binding."""
    for _, cls, owner in _REASONS:  # series at 0 from the start: rate() sees the first one
        if owner == stage:
            DEAD_LETTERS.labels(stage, cls)
    if stage in ("process", "sink"):
        BATCH_RECORDS.labels(stage)
        BATCH_SECONDS.labels(stage)
    if stage == "sink":
        for table in SINK_TABLES:
            SINK_ROWS.labels(table)
    with _STAGES._lock:
        _STAGES.bindings[stage] = _Binding(read, lag)


def unbind(stage: Stage) -> None:
    with _STAGES._lock:
        _STAGES.bindings.pop(stage, None)


def watch_ingest(runner: Any) -> None:
    """Expose an `ingest.runner.IngestRunner`: its counters and its source's (X usage, backoff)."""
    bind(
        "ingest",
        lambda: {**runner.counters, **runner.source.metrics(), "state": runner.status.state},
    )


def watch_sink(runner: Any) -> None:
    """Expose a `sinks.runner.SinkRunner`: counters, records buffered, lag of its consumer."""
    bind(
        "sink",
        lambda: {**runner.counters, "pending": runner.sink.pending, "state": runner.status.state},
        runner.lag,
    )


def watch_process(
    status: Any, lag: Callable[[], Lag] | None = None, *live: Mapping[str, Any]
) -> None:
    """Expose a Faust worker: its status counters (`veille.stats.StatusFile`, which the agents
    update after each batch), counters kept `live` elsewhere (the alert feed's), and `lag`
    (`processors.app.lag`)."""
    bind(
        "process",
        lambda: {
            **status.counters,
            **{k: v for c in live for k, v in c.items()},
            "state": status.state,
        },
        lag,
    )


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


# -- serving ----------------------------------------------------------------------------------


class MetricsServer:
    """The /metrics HTTP server of this process, in a daemon thread. `close()` stops it."""

    def __init__(self, addr: str, port: int) -> None:
        self._httpd, self._thread = start_http_server(port, addr, registry=REGISTRY)
        self.addr = addr

    @property
    def port(self) -> int:
        return int(self._httpd.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.addr}:{self.port}/metrics"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def serve(settings: MetricsSettings) -> MetricsServer | None:
    """Serve /metrics on `VEILLE_METRICS_ADDR:VEILLE_METRICS_PORT`; None when the port is 0.

    A port that cannot be bound (already taken) is logged as an error and the stage goes on
    without metrics: losing the metrics must not stop the pipeline.
    """
    if not settings.port:
        return None
    try:
        server = MetricsServer(settings.addr, settings.port)
    except OSError as e:
        logger.error(
            "metrics not served: cannot listen on %s:%d: %s",
            settings.addr,
            settings.port,
            e,
        )
        return None
    logger.info("metrics on %s", server.url)
    return server


def exposed_names(registry: CollectorRegistry = REGISTRY) -> dict[str, set[str]]:
    """Every sample name the registry can expose (`_total`, `_bucket`, ... included) -> the
    labels it carries. What dashboards may query."""
    suffixes = {
        "counter": ("_total",),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("", "_sum", "_count"),
        "info": ("_info",),
    }
    declared = {f.name: set(f.labels) for f in FAMILIES.values()}
    for inst in (DEAD_LETTERS, BATCH_RECORDS, BATCH_SECONDS, SINK_ROWS):
        declared[inst._name] = set(inst._labelnames)
    out: dict[str, set[str]] = {}
    for family in registry.collect():
        labels = declared.get(family.name, set()) | {k for s in family.samples for k in s.labels}
        for suffix in suffixes.get(family.type, ("",)):
            out[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return out
