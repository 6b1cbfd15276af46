"""Secrets stay secret: never in reprs, only in the client configuration they are meant for."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from veille.settings import (
    COMPONENTS,
    ClickHouseSettings,
    KafkaSettings,
    Settings,
    VeilleSettings,
    XSettings,
)


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
    assert "max.in.flight.requests.per.connection" not in conf
    # without idempotence (the durable local broker), one request in flight keeps the order
    loose = KafkaSettings(bootstrap_servers="a:1", idempotence=False).producer_config("x")
    assert loose["enable.idempotence"] is False
    assert loose["max.in.flight.requests.per.connection"] == 1 and loose["acks"] == "all"
    assert k.faust_broker() == "kafka://a:1;kafka://b:2"
    with pytest.raises(ValueError, match="KAFKA_BOOTSTRAP_SERVERS"):
        KafkaSettings(bootstrap_servers=None).servers  # noqa: B018
    assert ClickHouseSettings().database == "veille"


def test_each_component_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEILLE_DATA_DIR", "/tmp/veille-data")
    monkeypatch.setenv("VEILLE_SINK_BATCH_ROWS", "123")
    monkeypatch.setenv("VEILLE_SINK_GROUP", "my-sink")
    monkeypatch.setenv("VEILLE_PROCESS_GROUP", "my-process")
    monkeypatch.setenv("VEILLE_PROCESS_BATCH_SIZE", "77")
    monkeypatch.setenv("VEILLE_SENTIMENT_BACKEND", "accurate")
    monkeypatch.setenv("VEILLE_SENTIMENT_BATCH_SIZE", "8")
    monkeypatch.setenv("VEILLE_ALERT_MIN_VOLUME", "5")
    monkeypatch.setenv("VEILLE_COMPLIANCE_INTERVAL_H", "0")
    monkeypatch.setenv("VEILLE_METRICS_PORT", "9464")
    s = Settings()
    assert str(s.veille.data_dir) == "/tmp/veille-data"
    assert s.veille.clickhouse_path() == s.veille.data_dir / "clickhouse"
    assert (s.sink.batch_rows, s.sink.group) == (123, "my-sink")
    assert (s.process.group, s.process.batch_size) == ("my-process", 77)
    assert (s.sentiment.backend, s.sentiment.batch_size) == ("accurate", 8)
    assert s.alert.min_volume == 5 and s.compliance.interval_h == 0
    assert s.metrics.port == 9464 and s.metrics.addr == "127.0.0.1"
    # the batch size of the sink is not the processors', nor the sentiment model's
    assert s.process.batch_size != s.sink.batch_rows != s.sentiment.batch_size


def test_every_variable_belongs_to_one_component() -> None:
    names = [
        f"{cls.model_config['env_prefix']}{field}".upper()
        for cls in COMPONENTS
        for field in cls.model_fields
    ]
    assert len(names) == len(set(names))
    assert {"VEILLE_SINK_BATCH_ROWS", "VEILLE_ALERT_WEBHOOK_URL", "VEILLE_DATA_DIR"} <= set(names)
    # what is left in the general class: where data and the watch file are, logs and run status
    assert set(VeilleSettings.model_fields) == {
        "data_dir",
        "watch_file",
        "log_level",
        "log_max_mb",
        "log_backups",
        "status_interval_s",
    }


def test_the_webhook_url_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEILLE_ALERT_WEBHOOK_URL", "https://hooks.example/T0/s3cret")
    s = Settings()
    assert isinstance(s.alert.webhook_url, SecretStr)
    assert "s3cret" not in repr(s) + str(s.alert) + str(s.alert.model_dump())
    assert s.alert.webhook_url.get_secret_value().endswith("/s3cret")


def test_all_topics_are_every_topic_setting() -> None:
    assert KafkaSettings().all_topics() == [
        "tweets.raw",
        "tweets.enriched",
        "tweets.dlq",
        "veille.alerts",
        "x.accounts",
        "x.usage",
        "x.forecasts",
        "veille.observations",
    ]
