"""The ingest stage's cost per post on one core, source by source: `veille bench ingest`.

What `veille ingest` does with each post, timed alone, in CPU time of this process (pinned to one
CPU where the OS allows it, as `veille bench enrich` is), best of `repeat` passes after a warm-up:

- `synthetic_generate`: `SyntheticSource.generate(posts)`, the payloads of the synthetic source
  (fixed seed and start), its set-up included (`synthetic_setup_ms` says how much that is);
- `parse_synthetic`, `parse_sample`: a payload to its Kafka record (key and `Post` JSON, what the
  runner produces: `parse_stream_record`), on those synthetic payloads and on the bundled sample
  file of recorded X payloads (`ingest/samples/`), cycled to `posts`;
- `replay`: a `ReplaySource` reading an NDJSON file of the synthetic payloads, each parsed so;
- `produce`: the records produced with `veille.kafka.Producer` (the runner's settings: acks=all,
  idempotence, compression) to a local Tansu broker this benchmark starts (in memory, kept off
  this process's core where the OS allows it), flushed; `produce_posts_per_s` is its wall-time
  rate.

`parse_ways_us_per_post` compares, on the same payloads, the record (`record`), a `Post` object
then its JSON (`post`: `parse_stream_payload` and `post_json`) and the pydantic reference that
the first two must agree with (`pydantic`: validation of the wire models, `Post.model_validate`,
`model_dump_json`; what ingest did before the fast way).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from itertools import cycle, islice
from pathlib import Path
from typing import Any

from pipeline.bench.enrich import pin_one_core
from veille.settings import Settings
from veille.watch import WatchConfig

START = datetime(2026, 1, 1, tzinfo=UTC)
TOPIC = "bench.ingest.raw"


def _cpu_us(run: Callable[[], Any], count: int, repeat: int) -> float:
    """CPU µs per item of `run()` (which handles `count` items): the best of `repeat` passes."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return round(1e6 * best / max(1, count), 2)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def sample_payloads(posts: int, folder: Path | None = None) -> list[bytes]:
    """The payloads of the bundled sample files (`ingest/samples/*.ndjson`), cycled to `posts`."""
    folder = folder or Path(str(resources.files("ingest") / "samples"))
    lines = [
        line
        for path in sorted(folder.glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
        if line.strip()
    ]
    if not lines:
        raise FileNotFoundError(f"no sample payloads in {folder}")
    return list(islice(cycle(lines), posts))


def run(
    settings: Settings,
    watch: WatchConfig,
    posts: int = 20_000,
    repeat: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The figures (see the module docstring). Raises `ValueError` for fewer than one post,
    `BrokerError` when the local broker cannot start, `DeliveryError` when Kafka refuses
    records; the broker and the temporary files are gone in every case."""
    if posts < 1 or repeat < 1:
        raise ValueError("--posts and --repeat must be at least 1")
    from ingest.replay import ReplaySource
    from ingest.synthetic import SyntheticSource
    from pipeline.embedded import LocalBroker
    from veille.models.x_payload import (
        _validated_post,
        parse_stream_payload,
        parse_stream_record,
        post_json,
    )

    load_before = _load()
    date = datetime.now(UTC).isoformat(timespec="seconds")
    folder = Path(tempfile.mkdtemp(prefix="veille-bench-ingest-"))
    broker = LocalBroker(log_file=folder / "broker.log")
    try:
        progress("starting the local broker")
        broker.start()
        cpu = pin_one_core()
        _keep_off(broker.pid, cpu)

        def source() -> SyntheticSource:
            return SyntheticSource(watch, rate=None, seed=seed, start_time=START)

        progress(f"synthetic source: {posts} payloads")
        source().generate(min(posts, 500))  # warm-up: phrases, imports
        setup_ms = round(_cpu_us(lambda: source().generate(1), 1, repeat) / 1000, 1)
        us: dict[str, float] = {
            "synthetic_generate": _cpu_us(lambda: source().generate(posts), posts, repeat)
        }
        synthetic = source().generate(posts)
        samples = sample_payloads(posts)

        def records(payloads: Sequence[bytes]) -> None:
            for p in payloads:
                parse_stream_record(p, source="bench")

        def objects(payloads: Sequence[bytes]) -> None:
            for p in payloads:
                post_json(parse_stream_payload(p, source="bench"))

        def pydantic(payloads: Sequence[bytes]) -> None:
            for p in payloads:
                _validated_post(p, "bench", None).model_dump_json().encode()

        progress("parsing: records, posts, the pydantic reference")
        ways: dict[str, dict[str, float]] = {}
        for name, payloads in (("synthetic", synthetic), ("sample", samples)):
            records(payloads[:200])  # warm-up
            ways[name] = {
                way: _cpu_us(partial(f, payloads), len(payloads), repeat)
                for way, f in (("record", records), ("post", objects), ("pydantic", pydantic))
            }
            us[f"parse_{name}"] = ways[name]["record"]

        progress("replay: an NDJSON file read, each line parsed")
        feed = folder / "replay.ndjson"
        feed.write_bytes(b"\n".join(synthetic) + b"\n")
        replayed = 0

        def replay() -> None:
            nonlocal replayed
            src = ReplaySource([feed])
            src.start()
            replayed = 0
            for rec in src.records():
                parse_stream_record(rec.payload, source=src.name)
                replayed += 1
            src.close()

        us["replay"] = _cpu_us(replay, posts, repeat)

        progress(f"produce: {posts} records to the local broker, flushed")
        produced = [parse_stream_record(p, source="bench") for p in synthetic]
        with _producer(settings, broker.bootstrap_servers) as producer:
            t0, c0 = time.perf_counter(), time.process_time()
            for n, (key, value) in enumerate(produced, 1):
                producer.produce(TOPIC, value, key=key)
                if n % 256 == 0:  # as the runner does
                    producer.poll(0)
            producer.flush()
            wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0
            delivered = producer.delivered
        us["produce"] = round(1e6 * cpu_s / posts, 2)
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "posts": posts,
        "repeat": repeat,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "date": date,
        "load_avg_1m": {"before": load_before, "after": _load()},
        "synthetic_setup_ms": setup_ms,
        "us_per_post": us,
        "posts_per_s_one_core": {k: round(1e6 / v) if v > 0 else None for k, v in us.items()},
        "parse_ways_us_per_post": ways,
        "replayed": replayed,
        "produced": delivered,
        "produce_posts_per_s": round(posts / wall, 1) if wall > 0 else None,
    }


def _keep_off(pid: int | None, cpu: int | None) -> None:
    """Move every thread of process `pid` (the broker) off `cpu` (this process's), where the OS
    allows it and another CPU is left: the broker's work is not the ingest stage's."""
    if pid is None or cpu is None:
        return
    try:
        others = set(range(os.cpu_count() or 1)) - {cpu}
        if others:
            for tid in os.listdir(f"/proc/{pid}/task"):
                os.sched_setaffinity(int(tid), others)
    except (AttributeError, OSError, ValueError):
        pass


@contextmanager
def _producer(settings: Settings, bootstrap: str) -> Iterator[Any]:
    """A started `veille.kafka.Producer` on `bootstrap`, its topic created; closed after."""
    from veille.kafka import Producer, ensure_topics

    kafka = settings.kafka.model_copy(update={"bootstrap_servers": bootstrap})
    ensure_topics(kafka, [TOPIC])
    producer = Producer(kafka, "veille-bench-ingest")
    producer.start()
    producer.warm([TOPIC])
    try:
        yield producer
    finally:
        producer.close()
