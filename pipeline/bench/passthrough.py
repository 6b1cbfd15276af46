"""The raw pass-through reference: consume a topic, produce every message unchanged to another.

It is the limit of the broker and of the Kafka client on this machine for a consume-produce
loop: no parsing, no enrichment, no storage. The consumer is veille's (`consumer_config`, its
own group, from the earliest offset) and the producer is `veille.kafka.Producer` (acks=all,
idempotence, compression and linger of `KafkaSettings`), so only the work in between differs
from the pipeline's.

The clock starts when the first message arrives (after the group join, which this does not
measure) and stops when the producer's flush has confirmed the delivery of the `count`-th
message. It commits no offsets (its group is used once).

Run as its own process: `python -m pipeline.bench.passthrough --source T --out T2
--group G --count N` with `KAFKA_BOOTSTRAP_SERVERS` set; its last stdout line is one JSON
object (`messages`, `seconds`, `msgs_per_s`, `cpu_s` (this process's, in the window),
`peak_rss_mb`).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from pipeline.bench.procfs import own_figures, reference_parser
from veille.settings import KafkaSettings


class PassthroughTimeout(RuntimeError):
    """Fewer than `count` messages arrived before the deadline."""


def run(
    kafka: KafkaSettings,
    source: str,
    out: str,
    group: str,
    count: int,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Copy `count` messages from `source` to `out`; raises `PassthroughTimeout`,
    `veille.kafka.DeliveryError`. The consumer and producer are closed in every case."""
    from confluent_kafka import Consumer

    from veille.kafka import Producer

    consumer = Consumer(kafka.consumer_config(group, "veille-bench-passthrough"))
    producer = Producer(kafka, "veille-bench-passthrough")
    producer.start()
    try:
        consumer.subscribe([source])
        deadline = time.monotonic() + timeout
        n = 0
        t0: float | None = None
        cpu0 = 0.0
        while n < count:
            if time.monotonic() > deadline:
                raise PassthroughTimeout(f"{n} of {count} messages from {source} in {timeout}s")
            msgs = consumer.consume(num_messages=min(10_000, count - n), timeout=0.5)
            for msg in msgs:
                if msg.error() is not None:
                    continue
                if t0 is None:
                    t0, cpu0 = time.perf_counter(), time.process_time()
                producer.produce(out, msg.value() or b"", key=msg.key())
                n += 1
            producer.poll(0)
        producer.flush()
        assert t0 is not None
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    finally:
        try:
            producer.close()
        finally:
            consumer.close()
    return own_figures("messages", "msgs_per_s", n, seconds, cpu)


def main(argv: list[str] | None = None) -> int:
    parser = reference_parser(__doc__ or "")
    parser.add_argument("--timeout", type=float, default=300.0)
    a = parser.parse_args(argv)
    result = run(KafkaSettings(), a.source, a.out, a.group, a.count, a.timeout)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
