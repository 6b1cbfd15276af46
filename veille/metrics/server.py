"""Serving /metrics over HTTP, and the names a scrape can expose (what dashboards may query)."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, start_http_server

from veille.metrics.batches import BATCH_RECORDS, BATCH_SECONDS, DEAD_LETTERS, SINK_ROWS
from veille.metrics.families import FAMILIES
from veille.metrics.registry import REGISTRY
from veille.settings import MetricsSettings

logger = logging.getLogger(__name__)


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
