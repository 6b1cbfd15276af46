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

The package, by concern: `registry` (the registry, the stages), `families` (the metrics read
from the stages' counters), `stages` (binding a stage), `batches` (what the hot paths feed),
`lag` (consumer lag), `server` (serving /metrics). Import from `veille.metrics`.
"""

from veille.metrics.batches import (
    BATCH_RECORDS,
    BATCH_SECONDS,
    DEAD_LETTERS,
    SINK_ROWS,
    SINK_TABLES,
    batch,
    dead_lettered,
    reason_class,
    sink_flushed,
)
from veille.metrics.families import FAMILIES, Family
from veille.metrics.lag import KafkaLag, Lag
from veille.metrics.registry import REGISTRY, STAGES, Stage
from veille.metrics.server import MetricsServer, exposed_names, serve
from veille.metrics.stages import bind, unbind, watch_ingest, watch_process, watch_sink

__all__ = [
    "BATCH_RECORDS",
    "BATCH_SECONDS",
    "DEAD_LETTERS",
    "FAMILIES",
    "REGISTRY",
    "SINK_ROWS",
    "SINK_TABLES",
    "STAGES",
    "Family",
    "KafkaLag",
    "Lag",
    "MetricsServer",
    "Stage",
    "batch",
    "bind",
    "dead_lettered",
    "exposed_names",
    "reason_class",
    "serve",
    "sink_flushed",
    "unbind",
    "watch_ingest",
    "watch_process",
    "watch_sink",
]
