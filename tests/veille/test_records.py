"""The record catalogue: every kind is declared whole, and every stage reads the same entry."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from ingest.base import SourceRecord
from sinks import rows
from sinks.base import SinkError
from sinks.clickhouse import ClickHouseSink
from veille import metrics, records
from veille.settings import ClickHouseSettings, KafkaSettings


def test_every_kind_is_declared_once_with_a_topic_setting() -> None:
    names = [k.name for k in records.KINDS]
    assert sorted(names) == sorted(typing.get_args(records.KindName))
    assert len({k.model for k in records.KINDS}) == len(records.KINDS)
    kafka = KafkaSettings()
    topics = [k.topic(kafka) for k in records.KINDS]
    assert len(set(topics)) == len(topics), "two kinds share a topic"
    assert set(topics) <= set(kafka.all_topics())
    for k in records.KINDS:
        assert k.topic_setting in KafkaSettings.model_fields, k.name


def test_the_kinds_a_source_emits_are_catalogued() -> None:
    for name in typing.get_args(records.SourceKind):
        assert records.kind(name).name == name
    assert typing.get_type_hints(SourceRecord)["kind"] == records.SourceKind
    with pytest.raises(KeyError, match="known: post"):
        records.kind("nope")


def test_a_topic_setting_moves_the_kind_with_it() -> None:
    kafka = KafkaSettings(alerts_topic="acme.alerts")
    assert records.kind("alert").topic(kafka) == "acme.alerts"


def test_every_stored_kind_has_a_row_mapping_and_a_migrated_table(ch: Any) -> None:
    assert set(rows.ROWS) == set(records.TABLES)
    for table in records.TABLES:
        columns, _ = rows.ROWS[table]
        described = {r[0] for r in ch.query(f"DESCRIBE TABLE {table}").result_rows}
        missing = set(columns) - described
        assert not missing, f"{table} lacks columns {missing} (a migration is missing)"


def test_the_writer_and_the_metrics_read_the_catalogue(clickhouse: ClickHouseSettings) -> None:
    sink = ClickHouseSink(clickhouse)  # no I/O before start()
    assert {t.name for t in sink._tables.values()} == set(records.TABLES)
    assert set(sink._tables) == {k.model for k in records.STORED}
    assert metrics.SINK_TABLES == records.TABLES
    from factories import make_post

    with pytest.raises(SinkError, match="Post is not a stored record kind"):
        sink.add(make_post(1))


def test_each_kind_parses_its_own_json() -> None:
    from factories import make_enriched

    enriched = make_enriched(7, "hello @orbital_care")
    back = records.kind("enriched").parse(enriched.model_dump_json().encode())
    assert back == enriched
    with pytest.raises(ValueError):
        records.kind("alert").parse(b'{"not": "an alert"}')
