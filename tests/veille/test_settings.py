"""Secrets stay secret: never in reprs, only in the client configuration they are meant for."""

from __future__ import annotations

import pytest

from veille.settings import ClickHouseSettings, KafkaSettings, Settings, XSettings


def test_secrets_are_not_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN", "xtoken-s3cret")
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "chpass-s3cret")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "kpass-s3cret")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    s = Settings()
    text = repr(s) + str(s.kafka) + str(s.x) + str(s.clickhouse) + str(s.x.model_dump())
    assert "s3cret" not in text
    assert s.kafka.producer_config("t")["sasl.password"] == "kpass-s3cret"
    assert isinstance(s.x, XSettings) and s.x.bearer_token is not None
    assert s.x.bearer_token.get_secret_value() == "xtoken-s3cret"


def test_producer_is_durable_and_stage_needs_a_broker() -> None:
    k = KafkaSettings(bootstrap_servers="a:1,b:2")
    conf = k.producer_config("x")
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True
    assert k.faust_broker() == "kafka://a:1;kafka://b:2"
    with pytest.raises(ValueError, match="KAFKA_BOOTSTRAP_SERVERS"):
        KafkaSettings(bootstrap_servers=None).servers  # noqa: B018
    assert ClickHouseSettings().database == "veille"
