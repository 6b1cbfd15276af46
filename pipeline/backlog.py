"""What a drain waits for: records in Kafka that the group reading them has not committed yet.

The stages' own counters cannot say when everything went through once a stage has been started
again (a process that died took its last counts with it, and a new one reads again what the
old one had not committed). Kafka can: every record the processor and the sink must read is
behind its group's committed offset until it went through (outputs are delivered before an
input is acknowledged, and an input is committed only once acknowledged). So the pipeline is
drained when, for every topic and group that reads it, the committed offset is at the end.
"""

from __future__ import annotations

from types import TracebackType

from confluent_kafka import Consumer, KafkaException, TopicPartition

from veille import records
from veille.settings import KafkaSettings, Settings


def readers(settings: Settings) -> dict[str, list[str]]:
    """{consumer group: the topics it reads} of the processor and the sink."""
    k = settings.kafka
    return {
        settings.process.group: [k.raw_topic, k.observations_topic],
        settings.sink.group: sorted({kind.topic(k) for kind in records.STORED} | {k.dlq_topic}),
    }


class Backlog:
    """Counts records not yet committed, per (group, topic). One consumer per group, which
    never joins it (it only reads committed offsets). Use as a context manager."""

    def __init__(self, kafka: KafkaSettings, groups: dict[str, list[str]]) -> None:
        self.kafka = kafka
        self.groups = groups
        self._consumers: dict[str, Consumer] = {}
        self._partitions: dict[str, list[int]] = {}

    def __enter__(self) -> Backlog:
        for group in self.groups:
            self._consumers[group] = Consumer(self.kafka.consumer_config(group, "veille-drain"))
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()

    def _partitions_of(self, consumer: Consumer, topic: str) -> list[int]:
        if topic not in self._partitions:
            meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
            self._partitions[topic] = sorted(meta.partitions) if meta and meta.partitions else []
        return self._partitions[topic]

    def behind(self) -> dict[tuple[str, str], int]:
        """{(group, topic): records after the group's committed offsets}. Raises
        `KafkaException` when the broker does not answer."""
        out: dict[tuple[str, str], int] = {}
        for group, topics in self.groups.items():
            consumer = self._consumers[group]
            for topic in topics:
                parts = [TopicPartition(topic, p) for p in self._partitions_of(consumer, topic)]
                committed = {tp.partition: tp.offset for tp in consumer.committed(parts, 10)}
                total = 0
                for tp in parts:
                    low, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
                    total += max(0, high - max(committed.get(tp.partition, -1), low))
                out[(group, topic)] = total
        return out

    def total(self) -> int | None:
        """All records behind, or None when the broker did not answer this time."""
        try:
            return sum(self.behind().values())
        except KafkaException:
            return None
