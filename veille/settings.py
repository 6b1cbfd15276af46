"""Validated settings of every component, read from the environment (and a `.env` file).

One class per component, each with its own prefix (`KAFKA_`, `CLICKHOUSE_`, `X_`, `VEILLE_`,
`VEILLE_SENTIMENT_`, `VEILLE_PROCESS_`, `VEILLE_SINK_`, `VEILLE_ALERT_`, `VEILLE_COMPLIANCE_`,
`VEILLE_METRICS_`); `Settings` holds one of each.
Secrets are `SecretStr`: they never appear in reprs, logs or exceptions; only the methods that
render a client configuration reveal them, and only into that configuration.

No connection is opened here: settings are data. Clients open in the stages' `start()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from veille import kafkalog

# an empty variable (`X_BEARER_TOKEN=` in a copied .env.example) means "not set"
_ENV = {
    "env_file": ".env",
    "env_file_encoding": "utf-8",
    "extra": "ignore",
    "env_ignore_empty": True,
}


class KafkaSettings(BaseSettings):
    """The Kafka cluster and the topics the pipeline uses.

    `bootstrap_servers` unset means "start the embedded local broker" (`veille up` only);
    a stage started alone (`veille ingest|process|sink`) requires it.
    """

    model_config = SettingsConfigDict(env_prefix="KAFKA_", **_ENV)  # type: ignore[typeddict-item]

    bootstrap_servers: str | None = None
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    raw_topic: str = "tweets.raw"
    enriched_topic: str = "tweets.enriched"
    dlq_topic: str = "tweets.dlq"
    alerts_topic: str = "veille.alerts"
    accounts_topic: str = "x.accounts"
    usage_topic: str = "x.usage"
    forecasts_topic: str = "x.forecasts"
    observations_topic: str = "veille.observations"
    partitions: int = Field(4, ge=1, description="partitions of the topics veille creates")
    replication_factor: int = Field(1, ge=1)
    # Tansu answers a group join only after about half of the session timeout: keep it short.
    session_timeout_ms: int = Field(6000, ge=1000)
    compression: Literal["none", "gzip", "lz4", "zstd", "snappy"] = "lz4"
    linger_ms: int = Field(20, ge=0)
    idempotence: bool = Field(
        True,
        description="idempotent producers (librdkafka's enable.idempotence); off, a producer "
        "keeps one request in flight so that a retry keeps the order, and a retry after a "
        "broker crash may store a record twice (storage is idempotent). The durable local "
        "broker turns it off: docs/local-broker.md says why",
    )
    message_max_bytes: int = Field(
        1_000_000,
        ge=10_000,
        description="largest record veille produces (librdkafka's message.max.bytes; the "
        "broker's limit must be as large): a bigger output is dead-lettered",
    )
    startup_wait_s: float = Field(
        30.0, gt=0, description="how long a stage starting waits for Kafka before it gives up"
    )
    fetch_wait_max_ms: int = Field(
        50, ge=0, description="longest a consumer fetch waits for records (latency)"
    )

    def all_topics(self) -> list[str]:
        """Every topic veille reads or writes: the value of each `*_topic` setting."""
        return [getattr(self, name) for name in type(self).model_fields if name.endswith("_topic")]

    @property
    def servers(self) -> str:
        """The bootstrap servers; raises `ValueError` when none are configured."""
        if not self.bootstrap_servers:
            raise ValueError(
                "KAFKA_BOOTSTRAP_SERVERS is not set (veille up starts a local broker; "
                "a stage started alone needs a broker)"
            )
        return self.bootstrap_servers

    def _security(self) -> dict[str, Any]:
        conf: dict[str, Any] = {"security.protocol": self.security_protocol}
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username or ""
            conf["sasl.password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else ""
            )
        return conf

    def producer_config(self, client_id: str) -> dict[str, Any]:
        """librdkafka configuration of a durable producer: acks=all, idempotence (or one
        request in flight, see `idempotence`), compression."""
        order: dict[str, Any] = (
            {"enable.idempotence": True}
            if self.idempotence
            else {"enable.idempotence": False, "max.in.flight.requests.per.connection": 1}
        )
        return {
            "bootstrap.servers": self.servers,
            "client.id": client_id,
            "acks": "all",
            **order,
            "compression.type": self.compression,
            "linger.ms": self.linger_ms,
            "batch.num.messages": 10_000,
            "message.timeout.ms": 120_000,
            "message.max.bytes": self.message_max_bytes,
            **self._security(),
            "logger": kafkalog.LOGGER,
        }

    def consumer_config(self, group_id: str, client_id: str) -> dict[str, Any]:
        """librdkafka configuration of a consumer that commits offsets explicitly."""
        return {
            "bootstrap.servers": self.servers,
            "group.id": group_id,
            "client.id": client_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": self.session_timeout_ms,
            "heartbeat.interval.ms": max(500, self.session_timeout_ms // 6),
            # answer as soon as records are there: a waiting fetch is latency
            "fetch.wait.max.ms": self.fetch_wait_max_ms,
            **self._security(),
            "logger": kafkalog.LOGGER,
        }

    def admin_config(self) -> dict[str, Any]:
        return {"bootstrap.servers": self.servers, **self._security(), "logger": kafkalog.LOGGER}

    def faust_broker(self) -> str:
        """Faust's broker URL list (`kafka://host:port;kafka://...`)."""
        return ";".join(f"kafka://{hp.strip()}" for hp in self.servers.split(","))


class ClickHouseSettings(BaseSettings):
    """Where posts are stored. `url` unset means chDB (in process) under the data directory."""

    model_config = SettingsConfigDict(env_prefix="CLICKHOUSE_", **_ENV)  # type: ignore[typeddict-item]

    url: str | None = Field(None, description="http(s)://host:8123 of a ClickHouse server")
    user: str = "default"
    password: SecretStr = SecretStr("")
    database: str = Field("veille", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    connect_timeout_s: float = 10.0
    cluster: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$",
        description="cluster of the servers' remote_servers to create tables on; "
        "unset: one server (docs/scaling.md)",
    )


class XSettings(BaseSettings):
    """The X API v2 account."""

    model_config = SettingsConfigDict(env_prefix="X_", **_ENV)  # type: ignore[typeddict-item]

    bearer_token: SecretStr | None = None
    api_base_url: str = "https://api.x.com"
    stream_stall_timeout_s: float = Field(
        30.0,
        gt=0,
        description="reconnect when the stream is silent longer (X sends a keep-alive every "
        "20 s, often a little late)",
    )
    gap_fill_margin_s: float = Field(
        60.0,
        ge=0,
        description="recent search after a reconnect starts this long before the last post",
    )
    search_max_results: int = Field(100, ge=10, le=100)
    search_query_max_length: int = Field(
        512,
        ge=64,
        le=4096,
        description="longest recent-search query of your access level (X: 512 Basic, "
        "1024 Pro, 4096 Enterprise); gap fills pack the rules into as few queries as fit",
    )
    audience_interval_s: float = Field(3600.0, gt=0, description="audience poll interval")
    billing_check_interval_s: float = Field(
        86400.0,
        gt=0,
        description="how often X's own usage count is read and compared with veille's, and "
        "the cost forecast taken again",
    )
    price_per_post_usd: float = Field(
        0.005, ge=0, description="X's pay-per-use price per post read"
    )
    monthly_budget_usd: float | None = Field(
        None, ge=0, description="pause ingestion when the month's reads would cost more"
    )

    def budget_posts(self) -> int | None:
        """The monthly budget in posts, or None when there is no budget."""
        if self.monthly_budget_usd is None:
            return None
        if self.price_per_post_usd == 0:
            return None
        return int(self.monthly_budget_usd / self.price_per_post_usd + 1e-9)


class VeilleSettings(BaseSettings):
    """Where veille keeps its data and its watch configuration, and how much it logs."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_", **_ENV)  # type: ignore[typeddict-item]

    data_dir: Path = Path(".veille")
    watch_file: Path | None = Field(
        None, description="watch configuration; default ./watch.yaml, else the bundled example"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_max_mb: float = Field(
        10.0,
        gt=0,
        description="`veille up`: MB at which each process log in <data-dir>/run rotates",
    )
    log_backups: int = Field(5, ge=1, description="`veille up`: rotated log files kept per process")
    status_interval_s: float = Field(
        60.0,
        gt=0,
        description="`veille up` with stderr not a terminal: seconds between status lines",
    )

    def clickhouse_path(self) -> Path:
        """The chDB data directory used when no ClickHouse server is configured."""
        return self.data_dir / "clickhouse"


class BrokerSettings(BaseSettings):
    """The local broker `veille up` starts when `KAFKA_BOOTSTRAP_SERVERS` is unset
    (docs/local-broker.md)."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_BROKER_", **_ENV)  # type: ignore[typeddict-item]

    storage: Literal["s3", "memory"] = Field(
        "s3",
        description="s3: durable under VEILLE_DATA_DIR/broker (SeaweedFS); memory: lost on stop",
    )
    retention_hours: float = Field(
        6.0,
        gt=0,
        description="longest a record is kept; records every consumer has read go sooner",
    )


class SentimentSettings(BaseSettings):
    """Which sentiment model the processors run, and the transformer backend's options."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_SENTIMENT_", **_ENV)  # type: ignore[typeddict-item]

    backend: Literal["fast", "accurate", "transformer"] = "fast"
    model_dir: Path | None = Field(
        None, description="transformer backend: a local sequence-classification model folder"
    )
    device: str = Field(
        "auto", description="transformer backend: torch device; auto = CUDA when there is one"
    )
    batch_size: int = Field(32, ge=1, description="transformer backend: posts per pass")


class ProcessSettings(BaseSettings):
    """The processors (Faust): a batch is taken from the stream when full or when the window
    ends."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_PROCESS_", **_ENV)  # type: ignore[typeddict-item]

    batch_size: int = Field(1000, ge=1)
    batch_window_s: float = Field(0.1, gt=0)
    group: str = "veille-process"
    workers: int = Field(
        0, ge=0, description="Faust workers `veille up` starts; 0: one per core, at most 2"
    )


class SinkSettings(BaseSettings):
    """The ClickHouse sink's batches (ClickHouse advises 10k-100k rows per insert, about one
    insert per second) and its retries."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_SINK_", **_ENV)  # type: ignore[typeddict-item]

    batch_rows: int = Field(10_000, ge=1)
    flush_interval_s: float = Field(0.3, gt=0)
    group: str = "veille-sink"
    retry_max_s: float = Field(30.0, gt=0, description="longest backoff between retries")
    fault_control: Path | None = Field(
        None,
        description="fault injection, never set in use: a folder whose files make ClickHouse "
        "refuse the sink's calls (`veille bench chaos`, the fault tests; "
        "sinks/clickhouse/faults.py)",
    )


class AlertSettings(BaseSettings):
    """When the processors raise an alert, and where the sink notifies it."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_ALERT_", **_ENV)  # type: ignore[typeddict-item]

    sensitivity: float = Field(
        4.0, gt=0, description="standard deviations above the baseline that make a spike or dip"
    )
    min_volume: int = Field(20, ge=1, description="least posts for a spike or dip alert")
    cooldown_min: int = Field(
        60, ge=1, description="quiet minutes before a new alert episode for the same entry"
    )
    webhook_url: SecretStr | None = Field(
        None, description="Slack-compatible incoming webhook the sink posts alerts to"
    )
    webhook_cooldown_s: float = Field(
        600.0, ge=0, description="least seconds between two notifications of the same alert"
    )


class ComplianceSettings(BaseSettings):
    """The X compliance runs of the sink (removing posts X reports deleted)."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_COMPLIANCE_", **_ENV)  # type: ignore[typeddict-item]

    interval_h: float = Field(
        24.0, ge=0, description="X compliance run by the sink when X_BEARER_TOKEN is set; 0: never"
    )


class MetricsSettings(BaseSettings):
    """Where each stage serves its Prometheus /metrics."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_METRICS_", **_ENV)  # type: ignore[typeddict-item]

    port: int = Field(
        0, ge=0, le=65535, description="port of each stage's Prometheus /metrics; 0: not served"
    )
    addr: str = Field(
        "127.0.0.1", description="address /metrics listens on (0.0.0.0 in a container)"
    )


COMPONENTS: tuple[type[BaseSettings], ...] = (
    KafkaSettings,
    ClickHouseSettings,
    XSettings,
    VeilleSettings,
    BrokerSettings,
    SentimentSettings,
    ProcessSettings,
    SinkSettings,
    AlertSettings,
    ComplianceSettings,
    MetricsSettings,
)
"""Every settings class: each variable of `.env.example` belongs to exactly one."""


class Settings:
    """All component settings together, read once (the CLI builds one and passes it down).

    Each component is an attribute named for its prefix: `kafka`, `clickhouse`, `x`, `veille`,
    `sentiment`, `process`, `sink`, `alert`, `compliance`, `metrics`, `broker`. One not given is
    read from the environment.
    """

    def __init__(
        self,
        kafka: KafkaSettings | None = None,
        clickhouse: ClickHouseSettings | None = None,
        x: XSettings | None = None,
        veille: VeilleSettings | None = None,
        *,
        sentiment: SentimentSettings | None = None,
        process: ProcessSettings | None = None,
        sink: SinkSettings | None = None,
        alert: AlertSettings | None = None,
        compliance: ComplianceSettings | None = None,
        metrics: MetricsSettings | None = None,
        broker: BrokerSettings | None = None,
    ) -> None:
        self.kafka = kafka or KafkaSettings()
        self.clickhouse = clickhouse or ClickHouseSettings()
        self.x = x or XSettings()
        self.veille = veille or VeilleSettings()
        self.sentiment = sentiment or SentimentSettings()
        self.process = process or ProcessSettings()
        self.sink = sink or SinkSettings()
        self.alert = alert or AlertSettings()
        self.compliance = compliance or ComplianceSettings()
        self.metrics = metrics or MetricsSettings()
        self.broker = broker or BrokerSettings()

    _PARTS = (
        "kafka",
        "clickhouse",
        "x",
        "veille",
        "sentiment",
        "process",
        "sink",
        "alert",
        "compliance",
        "metrics",
        "broker",
    )

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._PARTS)
        return f"Settings({parts})"
