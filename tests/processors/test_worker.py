"""The processor's topology as `processors.worker.build` declares it (no broker: nothing starts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.bench.naive_faust import naive_agent
from processors.enrich.enricher import Enricher
from processors.worker import Topology, build, faust_loglevel
from veille.settings import ClickHouseSettings, KafkaSettings, Settings, VeilleSettings
from veille.watch import load_watch


@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    return Settings(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        clickhouse=ClickHouseSettings(url=None),
        veille=VeilleSettings(data_dir=tmp_path),
    )


def _reads(t: Topology) -> dict[str, tuple[str, ...]]:
    """Each agent's name and the topics it reads."""
    return {name: tuple(agent.channel.topics) for name, agent in t.app.agents.items()}  # type: ignore[attr-defined]


def test_process_topology_has_the_enrich_and_crisis_agents(offline: Settings) -> None:
    k = offline.kafka
    t = build(offline, Enricher(load_watch()))
    assert _reads(t) == {
        "veille.enrich": (k.raw_topic,),
        "veille.alerts.crisis": (k.observations_topic,),
    }
    assert t.app.conf.id == offline.process.group
    # the alert feed's live counters, which `veille up` waits on, are the CLI's handle
    assert dict(t.counters) == {"observations": 0, "alerts": 0, "observations_done": 0}
    assert t.input_topics == {k.raw_topic, k.observations_topic}
    assert t.lag_reader()() == {}  # nothing read yet


def test_naive_topology_has_only_its_agent(offline: Settings, tmp_path: Path) -> None:
    t = build(
        offline,
        Enricher(load_watch()),
        agents=lambda app, enricher: naive_agent(
            app, enricher, source="bench.raw", out="bench.out", count=10, result=tmp_path / "r"
        ),
    )
    assert _reads(t) == {"bench.naive_enrich": ("bench.raw",)}
    assert dict(t.counters) == {} and t.input_topics == frozenset()


def test_faust_loglevel_follows_the_root_logger() -> None:
    import logging

    root = logging.getLogger()
    saved = root.level
    try:
        for level, name in (
            (logging.WARNING, "warn"),
            (logging.INFO, "info"),
            (logging.DEBUG, "debu"),
        ):
            root.setLevel(level)
            assert faust_loglevel() == name
    finally:
        root.setLevel(saved)
