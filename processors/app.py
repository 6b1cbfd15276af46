"""The Faust application: one App, configured from settings, bound to loopback only.

`create_app` makes the App with no agents; `processors.worker.build` declares the agents on it
(the whole topology, in one place). Where veille departs from Faust's own Kafka clients (the
consumer's fetch wait, the agents' confluent-kafka output producer) is said in
`processors.kafka_overrides`.

Delivery is at-least-once (Faust's `exactly_once` needs a transactional aiokafka producer that
the local broker does not support); storage is idempotent, so a reprocessed post counts once.
"""

from __future__ import annotations

import ssl
from collections.abc import Collection
from typing import Any

import faust

from processors.kafka_overrides import limit_fetch_wait, report_gaps, wait_for_holes
from veille.settings import Settings


def _credentials(settings: Settings) -> Any:
    k = settings.kafka
    if not k.sasl_mechanism:
        return (
            faust.SSLCredentials(ssl.create_default_context())
            if k.security_protocol == "SSL"
            else None
        )
    password = k.sasl_password.get_secret_value() if k.sasl_password else ""
    ctx = ssl.create_default_context() if k.security_protocol == "SASL_SSL" else None
    if k.sasl_mechanism == "PLAIN":
        return faust.SASLCredentials(username=k.sasl_username, password=password, ssl_context=ctx)
    return faust.SASLCredentials(
        username=k.sasl_username,
        password=password,
        ssl_context=ctx,
        mechanism=k.sasl_mechanism,
    )


def create_app(settings: Settings) -> faust.App:
    """A Faust App for veille's processors, with no agents yet (`processors.worker.build` declares
    them); caps the aiokafka consumers' fetch wait (`processors.kafka_overrides`)."""
    k = settings.kafka
    v = settings.veille
    limit_fetch_wait(k.fetch_wait_max_ms)
    report_gaps()
    wait_for_holes()
    return faust.App(
        settings.process.group,
        broker=k.faust_broker(),
        broker_credentials=_credentials(settings),
        broker_session_timeout=k.session_timeout_ms / 1000,
        broker_heartbeat_interval=max(0.5, k.session_timeout_ms / 6000),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_compression_type=None if k.compression == "none" else k.compression,
        producer_linger=k.linger_ms / 1000,
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication_factor,
        store="memory://",
        datadir=str(v.data_dir / "faust"),
        web_enabled=False,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        worker_redirect_stdouts=False,
    )


def lag(monitor: Any, topics: Collection[str]) -> dict[tuple[str, int], int]:
    """Records behind per (topic, partition) of `topics`, from the worker's Faust monitor
    (`app.monitor`): the end offset seen at the last fetch minus the last offset read. No broker
    request; called from the metrics server's thread. Partitions not read yet are left out."""
    read = dict(monitor.tp_read_offsets)
    out: dict[tuple[str, int], int] = {}
    for tp, end in dict(monitor.tp_end_offsets).items():
        last = read.get(tp)
        if tp.topic in topics and end is not None and last is not None:
            out[(tp.topic, tp.partition)] = max(0, end - last - 1)
    return out
