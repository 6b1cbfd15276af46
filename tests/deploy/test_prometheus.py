"""Prometheus in the compose stack: its configuration scrapes every veille stage where the stage
serves /metrics, Grafana reads it through a provisioned datasource, and every metric and label
the Pipeline health dashboard's PromQL names is one veille serves (and documents).

No Prometheus runs here: the configuration is read as YAML and checked against the compose
file, and the PromQL is parsed enough to name its metrics, functions and labels.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from types import ModuleType
from typing import Any

import pytest
import yaml
from factories import REPO

from veille import metrics
from veille.settings import MetricsSettings

COMPOSE = REPO / "docker-compose.yml"
PROMETHEUS_YML = REPO / "deploy" / "prometheus" / "prometheus.yml"
DATASOURCES = REPO / "deploy" / "grafana" / "provisioning" / "datasources"
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
OBSERVABILITY = REPO / "docs" / "observability.md"
STAGES = {"ingest", "process", "sink"}  # the services running `veille <stage>`


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    doc = yaml.safe_load(PROMETHEUS_YML.read_text())
    assert isinstance(doc, dict)
    return doc


def _build() -> ModuleType:
    """deploy/grafana/build.py (as tests/deploy/test_grafana.py loads it)."""
    name = "veille_grafana_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "deploy/grafana/build.py")
        assert spec and spec.loader
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def _option(command: list[str], name: str) -> str:
    (value,) = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"--{name}=")]
    return value


# -- the scrape configuration -------------------------------------------------------------------


def test_prometheus_scrapes_every_stage_where_it_serves(
    config: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    assert set(config) <= {"global", "scrape_configs", "rule_files", "alerting"}
    assert re.fullmatch(r"\d+s", config["global"]["scrape_interval"])
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert len(jobs) == len(set(jobs)), jobs
    scraped: dict[str, int] = {}
    for job in config["scrape_configs"]:
        assert set(job) <= {"job_name", "dns_sd_configs", "static_configs", "metrics_path"}, job
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for sd in job.get("dns_sd_configs", []):
            # plain compose: a service's name resolves to each of its containers (`tasks.NAME`
            # is Swarm's); an A query needs the port given here
            assert sd["type"] == "A" and isinstance(sd["port"], int), job
            for name in sd["names"]:
                assert name in services, f"{job['job_name']}: no compose service {name}"
                scraped[name] = sd["port"]
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                if host == "localhost":  # Prometheus itself
                    assert job["job_name"] == "prometheus"
                    assert any(p.endswith(f":{port}") for p in services["prometheus"]["ports"])
                else:
                    assert host in services, f"{job['job_name']}: no compose service {host}"
                    scraped[host] = int(port)
    assert set(scraped) == STAGES
    for name in STAGES:  # each listens where it is scraped, on every interface of its container
        env = services[name]["environment"]
        settings = MetricsSettings(port=env["VEILLE_METRICS_PORT"], addr=env["VEILLE_METRICS_ADDR"])
        assert settings.port == scraped[name], name
        assert settings.addr == "0.0.0.0", name
        # not published: reached by Prometheus on the compose network only
        assert not services[name].get("ports"), name


def test_prometheus_service_reads_this_configuration(services: dict[str, dict[str, Any]]) -> None:
    prom = services["prometheus"]
    assert prom["image"].startswith("prom/prometheus:")
    mounts = {v.split(":")[0]: v.split(":")[1:] for v in prom["volumes"]}
    config_file = _option(prom["command"], "config.file")
    assert mounts["./deploy/prometheus/prometheus.yml"] == [config_file, "ro"]
    assert mounts["prometheus-data"] == [_option(prom["command"], "storage.tsdb.path")]
    assert re.fullmatch(
        r"\$\{PROMETHEUS_RETENTION:-\d+[smhdwy]\}",
        _option(prom["command"], "storage.tsdb.retention.time"),
    )
    assert "/-/healthy" in " ".join(prom["healthcheck"]["test"])


# -- Grafana's datasource -----------------------------------------------------------------------


def test_grafana_reads_prometheus_through_a_provisioned_datasource(
    services: dict[str, dict[str, Any]],
) -> None:
    doc = yaml.safe_load((DATASOURCES / "prometheus.yaml").read_text())
    assert doc["apiVersion"] == 1
    (ds,) = doc["datasources"]
    assert {"uid": ds["uid"], "type": ds["type"]} == _build().PROMETHEUS
    assert ds["url"] == "${PROMETHEUS_URL}" and ds["access"] == "proxy"
    assert ds["isDefault"] is False  # ClickHouse stays the default
    grafana = services["grafana"]
    url = grafana["environment"]["PROMETHEUS_URL"]
    host, port = re.fullmatch(r"http://([a-z-]+):(\d+)", url).groups()  # type: ignore[union-attr]
    assert host == "prometheus" and any(p.endswith(f":{port}") for p in services[host]["ports"])
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    docs = (REPO / "docs" / "dashboards.md").read_text()
    assert "`PROMETHEUS_URL`" in docs


# -- the dashboards' PromQL ---------------------------------------------------------------------

FUNCTIONS = {
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev",
    "rate", "irate", "increase", "delta", "deriv", "histogram_quantile", "clamp_min",
    "clamp_max", "abs", "round", "time", "vector", "scalar", "absent", "max_over_time",
    "min_over_time", "avg_over_time", "last_over_time", "changes", "resets",
}  # fmt: skip
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset"}  # fmt: skip


def _promql_targets() -> list[tuple[str, str, str]]:
    """(panel title, legend, expr) of every Prometheus target of every dashboard."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for t in panel.get("targets", []):
                if t["datasource"]["type"] == "prometheus":
                    out.append((f"{path.stem}: {panel['title']}", t["legendFormat"], t["expr"]))
    return out


def parse(expr: str) -> tuple[set[str], set[str], set[str], set[str]]:
    """(metrics, functions, labels in by/without/matchers, labels kept by the outer `by`)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors: [$__rate_interval], [5m]
    labels: set[str] = set()
    kept: set[str] | None = None
    lists = r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"
    for m in re.finditer(lists, text):
        names = {n.strip() for n in m.group(2).split(",") if n.strip()}
        labels |= names
        if kept is None and m.group(1) in ("by", "without"):
            kept = names
    text = re.sub(lists, " ", text)
    for m in re.finditer(r"\{([^}]*)\}", text):
        labels |= {lm.group(1) for lm in re.finditer(r"(\w+)\s*(=~|!~|!=|=)", m.group(1))}
    text = re.sub(r"\{[^}]*\}", " ", text)
    names, functions = set(), set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = m.group(0)
        if text[m.end() :].lstrip().startswith("("):
            functions.add(word)
        elif word not in KEYWORDS:
            names.add(word)
    return names, functions, labels, kept or set()


def test_the_parser() -> None:
    names, functions, labels, kept = parse(
        "histogram_quantile(0.9, sum by (stage, le) (rate(veille_batch_records_bucket"
        '{stage="sink"}[$__rate_interval]))) / on (stage) group_left max(up)'
    )
    assert names == {"veille_batch_records_bucket", "up"}
    assert functions == {"histogram_quantile", "sum", "rate", "max"}
    assert labels == {"stage", "le"} and kept == {"stage", "le"}


TARGETS = _promql_targets()


def test_pipeline_health_has_live_panels() -> None:
    titles = {title for title, _, _ in TARGETS}
    assert titles and all(t.startswith("pipeline-health: ") for t in titles)
    used = set().union(*(parse(expr)[0] for _, _, expr in TARGETS))
    # ingest/enrich/sink rates, lag, dead letters, batches, backoff, X usage
    for name in (
        "veille_posts_out_total",
        "veille_records_in_total",
        "veille_sink_rows_total",
        "veille_consumer_lag",
        "veille_dead_letters_total",
        "veille_batch_records_bucket",
        "veille_sink_backoff_seconds",
        "veille_x_stream_backoff_seconds",
        "veille_x_reads_month",
        "veille_x_budget_posts",
    ):
        assert name in used, name


@pytest.mark.parametrize(("title", "legend", "expr"), TARGETS, ids=[t[0] for t in TARGETS])
def test_promql_names_what_veille_serves(title: str, legend: str, expr: str) -> None:
    served = metrics.exposed_names()
    names, functions, labels, kept = parse(expr)
    assert names, "no metric"
    unknown = names - set(served)
    assert not unknown, f"not served by veille: {sorted(unknown)}"
    assert functions <= FUNCTIONS | KEYWORDS, functions - FUNCTIONS
    known = set().union(*(served[n] for n in names))
    assert labels <= known, f"labels {sorted(labels - known)} not on {sorted(names)}"
    for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend):  # what the legend shows is kept
        assert label in (kept or known), f"legend {{{{{label}}}}} dropped by the aggregation"


def test_every_metric_is_documented() -> None:
    docs = OBSERVABILITY.read_text()
    for name in metrics.exposed_names():
        if name.startswith("veille_"):
            family = re.sub(r"_(total|bucket|sum|count)$", "", name)
            assert f"`{family}" in docs, f"{name} is not in docs/observability.md"
    for f in metrics.FAMILIES.values():
        for label in f.labels:
            assert f"`{label}`" in docs, label
    assert "9464" in docs and "VEILLE_METRICS_PORT" in docs
    assert "docs/observability.md" in (REPO / "docs" / "deploy.md").read_text()
