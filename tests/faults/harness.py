"""What the fault tests share: veille's stages as separate processes on the session's broker,
killed and restarted at will, and the final state of their chDB read back for checking.

Each test runs its own `veille ingest|process|sink` processes (the commands docker-compose
runs) with its own topics, consumer groups and data directory, so a SIGKILL hits one real stage
and nothing else. chDB serves one directory per process: the sink's directory is read by a
separate probe process (`probe.py`) once the sink has stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from veille.kafka import ensure_topics
from veille.models import EnrichedPost
from veille.settings import KafkaSettings, Settings
from veille.stats import read_status
from veille.watch import default_watch_path

HERE = Path(__file__).resolve().parent
PROBE = HERE / "probe.py"


def wait_for(what: str, done: Callable[[], bool], timeout: float, tick: float = 0.2) -> None:
    """Poll `done()` until true; fail with `what` after `timeout` s (a hang, not a speed check)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(tick)


class Stage:
    """One stage process with its status file and log; `kill()` is SIGKILL, no cleanup."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], run_dir: Path) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env
        self.run_dir = run_dir
        self.status_path = run_dir / f"{name}.json"
        self.log_path = run_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Stage:
        self.status_path.unlink(missing_ok=True)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [*self.cmd, "--status-file", str(self.status_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.run_dir,
                start_new_session=True,
            )
        return self

    def status(self) -> dict[str, Any]:
        return read_status(self.status_path)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        assert self.alive(), f"{self.name} exited ({self.returncode}):\n{self.log_tail()}"

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def wait_running(self, timeout: float = 90) -> None:
        def running() -> bool:
            self.check_alive()
            return self.status().get("state") == "running"

        wait_for(f"{self.name} running", running, timeout)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush, commit or leave its group."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait; returns the exit code (SIGKILL after `timeout`)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Rig:
    """The stages of one test: environment, data directory, processes; `close()` stops all."""

    def __init__(self, settings: Settings, root: Path, **env: str) -> None:
        self.settings = settings
        self.root = root
        self.data_dir = root / "data"
        self.run_dir = root / "run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.chdb_dir = self.data_dir / "clickhouse"
        self.stages: list[Stage] = []
        k = settings.kafka
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("KAFKA_", "CLICKHOUSE_", "VEILLE_", "X_"))
        }
        self.env = {
            **base,
            "KAFKA_BOOTSTRAP_SERVERS": k.servers,
            "KAFKA_PARTITIONS": str(k.partitions),
            "KAFKA_RAW_TOPIC": k.raw_topic,
            "KAFKA_ENRICHED_TOPIC": k.enriched_topic,
            "KAFKA_DLQ_TOPIC": k.dlq_topic,
            "KAFKA_ALERTS_TOPIC": k.alerts_topic,
            "KAFKA_ACCOUNTS_TOPIC": k.accounts_topic,
            "KAFKA_USAGE_TOPIC": k.usage_topic,
            "KAFKA_OBSERVATIONS_TOPIC": k.observations_topic,
            "VEILLE_DATA_DIR": str(self.data_dir),
            "VEILLE_WATCH_FILE": str(default_watch_path().resolve()),
            "VEILLE_PROCESS_GROUP": settings.process.group,
            "VEILLE_SINK_GROUP": settings.sink.group,
            "VEILLE_PROCESS_BATCH_WINDOW_S": "0.2",
            "VEILLE_SINK_FLUSH_INTERVAL_S": "0.5",
            "VEILLE_LOG_LEVEL": "INFO",
            **env,
        }

    def _stage(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Stage:
        st = Stage(name, cmd, {**self.env, **(env or {})}, self.run_dir)
        self.stages.append(st)
        return st

    def ingest(self, *args: str) -> Stage:
        return self._stage("ingest", [sys.executable, "-m", "pipeline", "ingest", *args])

    def process(self) -> Stage:
        cmd = [sys.executable, "-m", "pipeline", "process", "--data-dir", str(self.data_dir)]
        return self._stage("process", cmd)

    def sink(self, control: Path | None = None) -> Stage:
        """`veille sink`; with `control`, its ClickHouse client fails as files there say
        (`sinks.clickhouse.faults`)."""
        env = {"VEILLE_SINK_FAULT_CONTROL": str(control)} if control is not None else {}
        cmd = [sys.executable, "-m", "pipeline", "sink", "--data-dir", str(self.data_dir)]
        return self._stage("sink", cmd, env)

    def check_alive(self, *stages: Stage) -> None:
        for st in stages:
            st.check_alive()

    def close(self) -> None:
        for st in reversed(self.stages):
            st.stop(30)

    def probe(self, reference: Path | None = None) -> dict[str, Any]:
        """Read the sink's chDB (the sink must have stopped): see probe.py."""
        cmd = [sys.executable, str(PROBE), str(self.chdb_dir)]
        if reference is not None:
            cmd.append(str(reference))
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=180, cwd=self.run_dir, env=self.env
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        result: dict[str, Any] = json.loads(proc.stdout)
        return result


@contextmanager
def rig(settings: Settings, root: Path, **env: str) -> Iterator[Rig]:
    r = Rig(settings, root, **env)
    try:
        yield r
    finally:
        r.close()


# -- Kafka ------------------------------------------------------------------------------


def committed(kafka: KafkaSettings, group: str, topic: str) -> int:
    """Offsets `group` has committed on `topic`, summed over partitions (records done)."""
    c = Consumer(kafka.consumer_config(group, "fault-probe"))
    try:
        parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        return sum(max(tp.offset, 0) for tp in c.committed(parts, timeout=10))
    finally:
        c.close()


class TopicReader:
    """Reads a topic from the beginning in a thread, keeping every record (copies included)
    and counting the distinct keys (post ids, for the enriched topic)."""

    def __init__(self, kafka: KafkaSettings, topic: str, group: str) -> None:
        self._consumer = Consumer(kafka.consumer_config(group, "fault-reader"))
        self._consumer.subscribe([topic])
        self.values: list[bytes] = []
        self.keys: set[bytes] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(1000, timeout=0.2):
                if msg.error() is None:
                    with self._lock:
                        self.values.append(msg.value() or b"")
                        self.keys.add(msg.key() or b"")

    def count(self) -> int:
        with self._lock:
            return len(self.values)

    def distinct(self) -> int:
        with self._lock:
            return len(self.keys)

    def close(self) -> list[bytes]:
        self._stop.set()
        self._thread.join(30)
        self._consumer.close()
        return list(self.values)


def wait_drained(
    kafka: KafkaSettings,
    settings: Settings,
    produced: int,
    enriched: TopicReader,
    stages: Iterable[Stage],
    timeout: float = 120,
) -> None:
    """Wait until everything ingested is written and acknowledged: the processor has committed
    every raw record (so every enriched record, copies included, is in Kafka), the reader has
    seen every post and no new record for a second (the local broker's high watermarks cannot
    be trusted), and the sink has committed every enriched record."""
    process_group, sink_group = settings.process.group, settings.sink.group
    stages = list(stages)
    last = (-1, time.monotonic())

    def drained() -> bool:
        nonlocal last
        for st in stages:
            st.check_alive()
        if committed(kafka, process_group, kafka.raw_topic) < produced:
            return False
        seen = enriched.count()
        if seen != last[0]:
            last = (seen, time.monotonic())
        if enriched.distinct() < produced or time.monotonic() - last[1] < 1.0:
            return False
        return committed(kafka, sink_group, kafka.enriched_topic) >= seen

    wait_for("the pipeline to drain", drained, timeout, tick=0.5)


# -- posts and what the queries must say about them -------------------------------------


def synthetic_payloads(count: int, seed: int, volume: float = 30.0) -> list[bytes]:
    """`count` valid X payloads of the synthetic generator (watch file of the stages)."""
    from ingest.synthetic import SyntheticSource
    from veille.watch import load_watch

    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    src = SyntheticSource(
        load_watch(), rate=None, seed=seed, count=count, start_time=start, volume=volume
    )
    return src.generate(count)


def replay_speed(payloads: list[bytes], seconds: float) -> float:
    """The replay speed factor that spreads `payloads` over about `seconds` of wall time."""
    times = [json.loads(p)["data"]["created_at"] for p in payloads]
    first = datetime.fromisoformat(min(times).replace("Z", "+00:00"))
    last = datetime.fromisoformat(max(times).replace("Z", "+00:00"))
    return max((last - first) / timedelta(seconds=seconds), 1.0)


def payload_ids(payloads: Iterable[bytes]) -> set[str]:
    return {json.loads(p)["data"]["id"] for p in payloads}


def distinct_posts(values: Iterable[bytes]) -> dict[str, EnrichedPost]:
    """The enriched posts by id (the last copy of each); every copy must agree on what the
    queries count (its time, language, sentiment, entries, topics)."""
    posts: dict[str, EnrichedPost] = {}
    for value in values:
        p = EnrichedPost.model_validate_json(value)
        before = posts.get(p.id)
        if before is not None:
            assert _counted(before) == _counted(p), f"post {p.id} enriched two ways"
        posts[p.id] = p
    return posts


def _counted(p: EnrichedPost) -> tuple[Any, ...]:
    return (p.created_at, p.lang, p.sentiment, p.entries, p.entry_kinds, p.topics, p.intent)


def expected_mentions_over_time(posts: Iterable[EnrichedPost]) -> list[list[Any]]:
    """mentions_over_time with its defaults (hourly buckets): time, posts, negative, positive."""
    buckets: dict[datetime, list[int]] = {}
    for p in posts:
        hour = p.created_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        row = buckets.setdefault(hour, [0, 0, 0])
        row[0] += 1
        row[1] += p.sentiment == "negative"
        row[2] += p.sentiment == "positive"
    return [[h.replace(tzinfo=None).isoformat(), *buckets[h]] for h in sorted(buckets)]


def expected_sentiment_by_brand(posts: Iterable[EnrichedPost]) -> dict[str, list[int]]:
    """sentiment_by_brand's counts per entry: posts, positive, neutral, negative."""
    out: dict[str, list[int]] = {}
    labels = ("positive", "neutral", "negative")
    for p in posts:
        for entry in set(p.entries):
            row = out.setdefault(entry, [0, 0, 0, 0])
            row[0] += 1
            row[1 + labels.index(p.sentiment)] += 1
    return out


def check_counted_once(
    result: dict[str, Any], posts: dict[str, EnrichedPost], ids: set[str]
) -> None:
    """Every post of `ids` stored and counted once by every query (see the module docs)."""
    assert set(posts) == ids, "the enriched topic lacks posts or has strangers"
    assert result["posts_final"] == len(ids)
    assert result["posts_uniq"] == len(ids)
    assert set(result["post_ids"]) == ids
    q = result["queries"]
    over_time = [row[:4] for row in q["mentions_over_time"]["faulted"]]
    assert over_time == expected_mentions_over_time(posts.values())
    assert sum(row[1] for row in over_time) == len(ids)
    by_brand = {row[0]: row[2:6] for row in q["sentiment_by_brand"]["faulted"]}
    assert by_brand == expected_sentiment_by_brand(posts.values())
    compared = set(q)
    assert compared >= {"mentions_over_time", "sentiment_by_brand", "share_of_voice"}
    for name, both in q.items():
        assert both["faulted"] == both["reference"], f"{name} differs from a clean write"
    assert result["dead_letters"] == []


def write_reference(posts: dict[str, EnrichedPost], path: Path) -> Path:
    """The distinct posts as NDJSON, for the probe's clean reference database."""
    with path.open("w") as fh:
        for p in posts.values():
            fh.write(p.model_dump_json() + "\n")
    return path


# -- the fault-injecting sink (sinks.clickhouse.faults) ----------------------------------


def insert_log(control: Path) -> list[tuple[float, str, str, int]]:
    """(monotonic time, ok|refused, table, rows) of every insert the faulty sink tried."""
    path = control / "inserts.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        at, outcome, table, rows = line.split()
        out.append((float(at), outcome, table, int(rows)))
    return out


def inserts(control: Path, outcome: str, table: str) -> list[int]:
    """Rows of each insert into `table` that ended with `outcome` (ok or refused)."""
    return [rows for _, o, t, rows in insert_log(control) if o == outcome and t == table]


# -- the crash and outage tests' scenario -----------------------------------------------


class Stream:
    """4,000 synthetic posts replayed over about `seconds` through `veille ingest`, `veille
    process` and `veille sink` (its ClickHouse client steered from `control`, when `faulty_sink`
    is set), with a reader keeping every enriched record. Entering starts it all; `finish()`
    lets the stream end and checks the outcome; leaving stops whatever still runs."""

    def __init__(
        self,
        settings: Settings,
        root: Path,
        uid: str,
        seed: int,
        seconds: float,
        faulty_sink: bool = False,
        **env: str,
    ) -> None:
        self.settings = settings
        self.kafka = settings.kafka
        self.root = root
        self.uid = uid
        self.seconds = seconds
        self.control = root / "control" if faulty_sink else None
        self.payloads = synthetic_payloads(4000, seed)
        self.ids = payload_ids(self.payloads)
        assert len(self.ids) == len(self.payloads)
        self.rig = Rig(settings, root, **env)
        self.values: list[bytes] = []
        self._reader: TopicReader | None = None

    @property
    def reader(self) -> TopicReader:
        assert self._reader is not None
        return self._reader

    def __enter__(self) -> Stream:
        k = self.kafka
        ensure_topics(k, k.all_topics())
        feed = self.root / "posts.ndjson"
        feed.write_bytes(b"\n".join(self.payloads) + b"\n")
        self._reader = TopicReader(k, k.enriched_topic, f"reader-{self.uid}")
        try:
            self.sink = self.rig.sink(self.control).start()
            self.process = self.rig.process().start()
            self.sink.wait_running()
            self.process.wait_running()
            speed = str(replay_speed(self.payloads, self.seconds))
            replay = ("--source", "replay", "--input", str(feed), "--speed", speed)
            self.ingest = self.rig.ingest(*replay).start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.rig.close()
        finally:
            if self._reader is not None:
                self.values = self._reader.close()
                self._reader = None

    def finish(self) -> dict[str, EnrichedPost]:
        """Let the stream end, wait until it has drained, stop the stages (each must exit 0),
        and check that every post is counted once. Returns the distinct enriched posts;
        `values` then holds every enriched record, copies included."""
        wait_for("the end of the stream", lambda: not self.ingest.alive(), 120)
        assert self.ingest.returncode == 0, self.ingest.log_tail()
        stages = [self.sink, self.process]
        wait_drained(self.kafka, self.settings, len(self.payloads), self.reader, stages)
        assert self.process.stop() == 0 and self.sink.stop() == 0
        self.__exit__()
        posts = distinct_posts(self.values)
        result = self.rig.probe(write_reference(posts, self.root / "reference.ndjson"))
        check_counted_once(result, posts, self.ids)
        return posts
