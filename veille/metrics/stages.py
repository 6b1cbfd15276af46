"""Stages bound to the registry: their counters become metrics at each scrape.

Most values are read when Prometheus scrapes, from the counters the stages already keep for their
status files (`veille.stats`), through the reader a `watch_*` function binds for the stage:
nothing is counted twice and the hot paths do nothing more. A reader that raises is skipped
(logged at DEBUG) and its samples are left out of that scrape: a scrape never fails because a
stage is starting or stopping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from veille.metrics.batches import start_series
from veille.metrics.families import FAMILIES, STAGE_KEYS
from veille.metrics.lag import Lag
from veille.metrics.registry import REGISTRY, Stage

logger = logging.getLogger(__name__)


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
    for key, (name, extra) in STAGE_KEYS[stage].items():
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


def bind(
    stage: Stage, read: Callable[[], Mapping[str, Any]], lag: Callable[[], Lag] | None = None
) -> None:
    """Expose `stage`: `read()` returns its counters (status-file keys, `state` included),
    `lag()` its lag per partition; both are called from the server's thread at each scrape.
    Binding a stage again replaces the earlier binding."""
    start_series(stage)
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
