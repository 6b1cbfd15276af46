"""Shared fixtures: the real local Kafka broker and chDB, started once per test session.

Tests are isolated by naming: each test gets its own topics, consumer groups and ClickHouse
database, on the one broker and the one chDB directory of the session (chDB serves a single
directory per process).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.embedded import LocalBroker
from veille.settings import (
    ClickHouseSettings,
    KafkaSettings,
    ProcessSettings,
    Settings,
    SinkSettings,
    VeilleSettings,
)


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap servers of the session's broker: KAFKA_BOOTSTRAP_SERVERS, else a local Tansu."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    with LocalBroker() as b:
        yield b.bootstrap_servers


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def kafka(broker: str, uid: str) -> KafkaSettings:
    # every topic of its own (`raw-<uid>`, ...): a test never reads what another one wrote
    topics = {
        name: f"{name.removesuffix('_topic')}-{uid}"
        for name in KafkaSettings.model_fields
        if name.endswith("_topic")
    }
    return KafkaSettings(
        bootstrap_servers=broker,
        **topics,
        partitions=2,
        linger_ms=5,
    )


@pytest.fixture
def clickhouse(uid: str) -> ClickHouseSettings:
    return ClickHouseSettings(url=None, database=f"t_{uid}")


@pytest.fixture
def settings(
    kafka: KafkaSettings, clickhouse: ClickHouseSettings, chdb_dir: Path, uid: str, tmp_path: Path
) -> Settings:
    return Settings(
        kafka=kafka,
        clickhouse=clickhouse,
        veille=VeilleSettings(data_dir=tmp_path / "data"),
        process=ProcessSettings(group=f"process-{uid}", batch_window_s=0.2),
        sink=SinkSettings(group=f"sink-{uid}", flush_interval_s=0.2, retry_max_s=1.0),
    )


@pytest.fixture
def ch(clickhouse: ClickHouseSettings, chdb_dir: Path) -> Iterator[Any]:
    """A migrated ClickHouse database of this test's own, in the session's chDB."""
    from sinks.clickhouse import connect
    from sinks.migrate import migrate

    client = connect(clickhouse, chdb_dir)
    migrate(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{clickhouse.database}`")
    client.close()
