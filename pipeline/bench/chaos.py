"""`veille bench chaos`: the whole pipeline under a seeded schedule of faults, against ground truth.

One run of `veille up`'s `Pipeline` as a user leaves it running (each stage its own process, the
durable local broker, chDB), fed by a replay file whose every line is known: `posts` good X
payloads of the synthetic generator and, mixed in at seeded places, `bad` lines of every kind
the entry point refuses (cut JSON, not JSON, a post without its time, a post from year 1, a
JSON nested beyond reason), and, for 1 % of the posts, a later copy carrying another rule tag
(as a gap fill's copy does), which enriched may name other entries or topics than the first.
Bad records are also written straight to the raw and the enriched topics (as a foreign or broken
producer would), a few every 3 to 8 s: each must become a dead letter of the Faust workers or of
the sink, with its reason, and nothing else. While the file is replayed over about `minutes`,
a fault is drawn every 10 to 30 s (seeded) against a random stage (ingest, a Faust worker, the
sink) or the broker (Tansu and its S3 server): SIGKILL, after which the supervisor starts it
again (only what has run 20 s is killed: sooner, repeated kills would be a crash loop, which the
supervisor stops after a few); or, for a share `pauses` of the faults, SIGSTOP for 5 to 15 s,
then SIGCONT: a frozen worker loses its partitions to the other and comes back to a group that
moved on, a frozen sink or broker makes every client wait and time out (slow, flapping
deliveries); or ClickHouse refuses the sink's calls for 5 to 20 s (`sinks.clickhouse.faults`;
for half of the outages the first insert lands and only its answer is lost). At the end, after
the drain:

- every good post is stored exactly once: `posts FINAL` holds exactly the good ids;
- every bad line is a dead letter of the ingest stage with its reason (`dead_letters`), and
  every bad record one of the stage that reads its topic (`process` for raw, `sink` for
  enriched; a record the broker stored twice after a kill may be two dead letters of one
  payload);
- every named query that reads the posts returns what it returns on a clean database where the
  same enriched posts (the last copy of each, read back from Kafka) were written once;
- no stage is left stopped.

It reports the faults injected, how long each stage took to run again, and the checks.
Raises `BenchError` when a check fails (after writing the figures to `out`).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from pydantic import ValidationError

from pipeline.bench.phases import (
    OWN_STACK_ENV,
    BenchError,
    WarmPipeline,
    check_data_dir,
    environ,
    own_stack,
    run_data_dir,
)
from pipeline.sources import SourceName, SourceOptions
from pipeline.supervisor import STABLE_S, UpOptions
from veille.models import EnrichedPost
from veille.settings import Settings

__all__ = ["BenchError", "ChaosOptions", "run"]

NOT_FROM_POSTS = {"alerts", "audience_growth", "x_usage", "x_forecast"}
"""Named queries reading tables the posts do not feed."""

TARGETS = ("ingest", "process", "process-2", "sink", "broker", "clickhouse")


def _running_since(p: WarmPipeline, name: str) -> float:
    """Seconds `name` (a stage, or `broker`: Tansu and its S3 server) has run; -1 when not.
    ClickHouse is always there (its outages are the sink's client refusing calls)."""
    if name == "clickhouse":
        return float("inf")
    if name == "broker":
        b = p.broker
        return time.monotonic() - p.broker_started if b is not None and b.alive() else -1.0
    st = p.stages.get(name)
    return time.monotonic() - st.started if st is not None and st.alive() else -1.0


def _pids(p: WarmPipeline, name: str) -> list[int]:
    """The processes of `name`: a stage's, or the broker's (Tansu, then its S3 server)."""
    if name == "broker":
        assert p.broker is not None
        pids = [p.broker.pid, p.broker.storage_pid]
    else:
        pids = [p.stages[name].proc.pid]
    return [pid for pid in pids if pid is not None]


def _signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _outage(control: Path, rng: random.Random, t_s: float, now: float) -> dict[str, Any]:
    """Start a ClickHouse outage as the sink sees it (`sinks.clickhouse.faults`): 5 to 20 s of
    refused calls; for half of them the first insert lands before its answer is lost."""
    ambiguous = rng.random() < 0.5
    control.mkdir(parents=True, exist_ok=True)
    (control / "down").write_text("ambiguous" if ambiguous else "refused")
    return {
        "kind": "refuse",
        "stage": "clickhouse",
        "t_s": t_s,
        "at_mono": now,
        "down_s": round(rng.uniform(5, 20), 1),
        "ambiguous": ambiguous,
    }


def _recovered(p: WarmPipeline, f: dict[str, Any]) -> bool:
    """The killed stage (or broker) runs again as a new process, a worker or the sink saying so
    in its status; a paused one was resumed and runs (as the same process, or a new one when it
    exited on resuming)."""
    if f["kind"] == "sigstop":
        if "resumed" not in f:
            return False
        return _running_since(p, f["stage"]) >= 0
    if f["kind"] == "refuse":  # the sink committed a batch since ClickHouse came back
        return "resumed" in f and p.stages["sink"].status().get("commits", 0) > f["commits"]
    if f["stage"] == "broker":
        b = p.broker
        return b is not None and b.alive() and b.pid != f["pid"]
    st = p.stages[f["stage"]]
    if not st.alive() or st.proc.pid == f["pid"]:
        return False
    return f["stage"] == "ingest" or st.status().get("state") == "running"


BAD_LINES: tuple[Callable[[int], bytes], ...] = (
    lambda i: b'{"data": {"id": "' + str(i).encode() + b'", "text": "cut',
    lambda i: b"not json at all " + str(i).encode(),
    lambda i: json.dumps({"data": {"id": str(i), "text": "no time", "author_id": "1"}}).encode(),
    lambda i: json.dumps(
        {
            "data": {
                "id": str(i),
                "text": "year one",
                "author_id": "1",
                "created_at": "0001-01-01T00:00:00.000Z",
            },
            "includes": {"users": [{"id": "1", "username": "someone"}]},
        }
    ).encode(),
    lambda i: b'{"a":' * 5000 + str(i).encode() + b"}" * 5000,
)


POISON: tuple[Callable[[str], bytes], ...] = (
    lambda tag: b"not json " + tag.encode(),
    lambda tag: json.dumps({"id": tag, "text": "no author, no time"}).encode(),
    lambda tag: b'{"a":' * 5000 + json.dumps(tag).encode() + b"}" * 5000,
    lambda tag: json.dumps({"id": tag, "created_at": ["not", "a", "time"], "lang": 7}).encode(),
)
"""Records no veille producer writes, put on the raw and enriched topics directly; `tag` makes
each one unique and findable in its dead letter's payload."""


class Poison:
    """Writes bad records to the raw and the enriched topics, a few at a time (`inject`), and
    remembers each one's payload by topic. Not idempotent, as the stages' producers on the
    durable broker: a record the broker stored twice is two dead letters of one payload."""

    def __init__(self, s: Settings, seed: int) -> None:
        k = s.kafka.model_copy(update={"idempotence": False})
        self.topics = {k.raw_topic: "process", k.enriched_topic: "sink"}
        self.producer = Producer(k.producer_config("veille-chaos-poison"))
        self.rng = random.Random(seed)
        self.sent: dict[str, set[bytes]] = {t: set() for t in self.topics}
        self.failed: list[str] = []
        self.n = 0

    def inject(self) -> None:
        for topic in self.topics:
            for _ in range(2):
                self.n += 1
                payload = self.rng.choice(POISON)(f"chaos-poison-{self.n}")
                self.sent[topic].add(payload)
                self.producer.produce(
                    topic, payload, key=str(self.n).encode(), on_delivery=self._delivered
                )
        self.producer.poll(0)

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.failed.append(str(err))

    def flush(self) -> bool:
        """Every record delivered (the broker may be starting again: 120 s at most)."""
        return self.producer.flush(120) == 0 and not self.failed

    def expected(self) -> dict[str, set[bytes]]:
        """The payloads each stage must dead-letter."""
        return {self.topics[t]: p for t, p in self.sent.items()}


@dataclass
class ChaosOptions:
    """What `veille bench chaos` was asked to run."""

    minutes: float = 5.0
    seed: int = 0
    posts: int | None = None  # None: 150 a second of the run
    bad: int | None = None  # None: 1 % of the posts
    out: Path = Path("chaos")
    data_dir: Path | None = None
    targets: tuple[str, ...] = TARGETS  # what may be killed
    pauses: float = 0.25  # the share of faults that are pauses (SIGSTOP, 5-15 s, SIGCONT)

    def validate(self) -> None:
        if self.minutes <= 0:
            raise ValueError("--minutes must be positive")
        unknown = sorted(set(self.targets) - set(TARGETS))
        if unknown or not self.targets:
            raise ValueError(
                f"--targets: {', '.join(unknown) or 'none'} not among {', '.join(TARGETS)}"
            )
        if not 0 <= self.pauses <= 1:
            raise ValueError("--pauses must be between 0 and 1")
        check_data_dir(self.data_dir)

    def counts(self) -> tuple[int, int]:
        posts = self.posts or int(self.minutes * 60 * 150)
        return posts, self.bad if self.bad is not None else max(1, posts // 100)


def _differing_copy(payload: bytes, tag: str) -> bytes:
    """`payload` again as a gap fill would bring it: the one rule tag its search matched."""
    from ingest.synthetic.population import rule_item

    item = json.loads(payload)
    item["matching_rules"] = [json.loads(rule_item(tag))]
    return json.dumps(item, ensure_ascii=False).encode()


def write_input(path: Path, posts: int, bad: int, seed: int) -> tuple[set[str], int, int, float]:
    """The replay file: good synthetic payloads, with `bad` lines at seeded places and, for 1 %
    of the posts, a later copy carrying another rule tag (as a gap fill's copy does: enriched, it
    may name other entries than the first). Returns the good ids, the bad lines and the
    differing copies written, and the post-time span in seconds."""
    from ingest.synthetic import SyntheticSource
    from veille.watch import load_watch
    from veille.watch.rules import rule_tag

    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    watch = load_watch()
    good = SyntheticSource(
        watch, rate=None, seed=seed, count=posts, start_time=start, volume=30.0
    ).generate(posts)
    tags = [rule_tag(kind, name) for kind, name in watch.entry_names()]
    rng = random.Random(seed)
    lines = list(good)
    changed = max(1, posts // 100)
    for n in sorted(rng.sample(range(len(good)), changed), reverse=True):
        copy = _differing_copy(good[n], rng.choice(tags))
        lines.insert(rng.randrange(n + 1, len(good) + 1), copy)
    for n in range(bad):
        lines.insert(rng.randrange(len(lines) + 1), BAD_LINES[n % len(BAD_LINES)](10**9 + n))
    path.write_bytes(b"\n".join(lines) + b"\n")
    times = [json.loads(p)["data"]["created_at"] for p in good]
    first, last = (
        datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (min(times), max(times))
    )
    ids = {json.loads(p)["data"]["id"] for p in good}
    return ids, bad, changed, max((last - first).total_seconds(), 1.0)


class Copies:
    """Reads the enriched topic through the run, in a consumer group of its own that commits
    (so that the local broker's retention keeps what it has not read), keeping the last copy of
    each post: what a clean single write is made of. The consumer is used by its own thread
    only."""

    def __init__(self, s: Settings) -> None:
        k = s.kafka
        self.topic = k.enriched_topic
        self.config = k.consumer_config("veille-chaos-copies", "veille-chaos")
        self.posts: dict[str, EnrichedPost] = {}
        self._stop = threading.Event()
        self._want_end = threading.Event()
        self._at_end = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos-copies", daemon=True)

    def start(self) -> Copies:
        self._thread.start()
        return self

    def _loop(self) -> None:
        consumer = Consumer(self.config)
        consumer.subscribe([self.topic])
        try:
            while not self._stop.is_set():
                msgs = consumer.consume(5000, 0.5)
                for m in msgs:
                    if m.error() is None:
                        try:
                            p = EnrichedPost.model_validate_json(m.value() or b"")
                        except ValidationError:  # a bad record (`Poison`): the sink's to refuse
                            continue
                        self.posts[p.id] = p
                if msgs:
                    consumer.commit(asynchronous=True)
                if not msgs and self._want_end.is_set() and _read_to_end(consumer):
                    self._at_end.set()
                    return
        finally:
            consumer.close()

    def finish(self, timeout: float = 120.0) -> dict[str, EnrichedPost]:
        """Read up to the end of the topic, then stop; the copies by post id."""
        self._want_end.set()
        self._at_end.wait(timeout)
        self.close()
        return self.posts

    def close(self) -> None:
        """Stop reading and leave the group (idempotent); before the broker stops, or leaving
        would wait for it."""
        self._stop.set()
        self._thread.join(60)


def _read_to_end(consumer: Consumer) -> bool:
    parts = consumer.assignment()
    if not parts:
        return False
    for tp in consumer.position(parts):
        low, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
        if max(tp.offset, low) < high:
            return False
    return True


def _named_queries(client: Any) -> dict[str, list[list[Any]]]:
    from sinks import queries

    names = [n for n in queries.available() if n not in NOT_FROM_POSTS]
    return {n: [list(r) for r in queries.run(client, n)[1]] for n in names}


def check(
    s: Settings,
    good: set[str],
    bad: int,
    copies: dict[str, EnrichedPost],
    poison: dict[str, set[bytes]],
) -> dict[str, Any]:
    """The end state against the ground truth (see the module docstring); `poison`: the bad
    records written to the topics, by the stage that must dead-letter them."""
    from sinks.clickhouse import ClickHouseSink, connect

    client = connect(s.clickhouse, s.veille.clickhouse_path())
    try:
        ids = {r[0] for r in client.query("SELECT toString(id) FROM posts FINAL").result_rows}
        rows = int(client.command("SELECT count() FROM posts FINAL"))  # type: ignore[arg-type]
        dead = client.query(
            "SELECT stage, reason FROM dead_letters FINAL WHERE stage = 'ingest'"
        ).result_rows
        later = client.query(
            "SELECT stage, payload, reason FROM dead_letters FINAL WHERE stage != 'ingest'"
        ).result_rows
        faulted = _named_queries(client)
        ref = ClickHouseSink(
            s.clickhouse.model_copy(update={"database": "chaos_reference"}),
            s.veille.clickhouse_path(),
        )
        ref.start()
        for p in copies.values():
            ref.add(p)
        ref.flush()
        reference = _named_queries(ref.client)
        ref.client.command("DROP DATABASE IF EXISTS chaos_reference")
        ref.close()
    finally:
        client.close()
    differ = sorted(n for n in faulted if faulted[n] != reference.get(n))
    caught: dict[str, set[bytes]] = {stage: set() for stage in poison}
    unexplained = 0
    for stage, payload, reason in later:
        raw = payload.encode() if isinstance(payload, str) else payload
        if stage in caught and raw in poison[stage] and reason:
            caught[stage].add(raw)
        else:
            unexplained += 1
    bad_records = {stage: len(p) for stage, p in poison.items()}
    first = differ[0] if differ else None
    return {
        "posts_expected": len(good),
        "posts_stored": rows,
        "posts_missing": len(good - ids),
        "posts_unexpected": len(ids - good),
        "stored_once": rows == len(ids) == len(good) and ids == good,
        "dead_letters_expected": bad,
        "dead_letters_stored": len(dead),
        "dead_letters_with_reason": sum(1 for _, r in dead if r),
        "bad_dead_lettered": len(dead) == bad and all(r for _, r in dead),
        "bad_records": bad_records,
        "bad_records_dead_lettered": {stage: len(c) for stage, c in caught.items()},
        "dead_letters_unexplained": unexplained,
        "bad_records_caught": caught == poison and unexplained == 0,
        "queries_compared": len(faulted),
        "queries_differing": differ,
        "first_difference": None
        if first is None
        else {
            "query": first,
            "faulted": faulted[first][:5],
            "reference": reference.get(first, [])[:5],
        },
        "queries_equal": not differ and set(copies) == good,
    }


def run(
    base: Settings, options: ChaosOptions, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Run the benchmark and return its figures (see the module docstring)."""
    options.validate()
    date = datetime.now(UTC).isoformat(timespec="seconds")
    data_dir, temporary = run_data_dir(options.data_dir, "veille-chaos-")
    posts, bad = options.counts()
    stream = data_dir / "chaos-input.ndjson"
    good, bad, changed, span_s = write_input(stream, posts, bad, options.seed)
    s = own_stack(base, data_dir)
    env = OWN_STACK_ENV
    speed = max(span_s / (options.minutes * 60), 1.0)
    up = UpOptions(
        source=SourceOptions(source=SourceName.replay, inputs=[stream], speed=speed),
        http_port=None,
    )
    rng = random.Random(options.seed)
    kinds = random.Random(options.seed + 1)  # kill or pause: the schedule stays the seed's
    faults: list[dict[str, Any]] = []
    paused: list[dict[str, Any]] = []
    outages: list[dict[str, Any]] = []
    control = data_dir / "clickhouse-faults"
    env = {**env, "VEILLE_SINK_FAULT_CONTROL": str(control)}
    p = WarmPipeline(s, up, None)
    copies_reader: Copies | None = None
    progress(
        f"{posts} posts, {changed} differing copies and {bad} bad lines replayed over "
        f"~{options.minutes:g} min; a stage killed or paused every 10-30 s (seed {options.seed})"
    )
    try:
        with environ(env):
            try:
                p.start()
                t0 = time.monotonic()
                copies_reader = Copies(p.settings).start()
                poison = Poison(p.settings, options.seed)
                next_fault = time.monotonic() + rng.uniform(10, 30)
                next_poison = time.monotonic() + 2.0
                pending: list[dict[str, Any]] = []

                def tick(_: object = None) -> None:
                    nonlocal next_fault, next_poison
                    now = time.monotonic()
                    for f in paused:
                        if "resumed" not in f and now >= f["at_mono"] + f["paused_s"]:
                            _signal(f["pids"], signal.SIGCONT)
                            f["resumed"], f["at_mono"] = True, now
                    for f in outages:
                        if "resumed" not in f and now >= f["at_mono"] + f["down_s"]:
                            (control / "down").unlink(missing_ok=True)
                            f["commits"] = p.stages["sink"].status().get("commits", 0)
                            f["resumed"], f["at_mono"] = True, now
                    for f in list(pending):  # recovered: its new process runs
                        if _recovered(p, f):
                            f["recovered_s"] = round(now - f["at_mono"], 2)
                            pending.remove(f)
                    if now >= next_poison and not p.finished("ingest"):
                        poison.inject()
                        next_poison = now + poison.rng.uniform(3, 8)
                    if now < next_fault or p.finished("ingest"):
                        return
                    next_fault = now + rng.uniform(10, 30)
                    # a stage (or the broker) that runs, for STABLE_S at least: a kill sooner
                    # would be a crash loop to the supervisor, which ends the run after a few
                    held = {f["stage"] for f in pending}
                    up = [
                        n
                        for n in options.targets
                        if n not in held and _running_since(p, n) >= STABLE_S
                    ]
                    if not up:
                        return
                    name = rng.choice(up)
                    if name == "clickhouse":
                        f = _outage(control, kinds, round(now - t0, 1), now)
                        outages.append(f)
                        faults.append(f)
                        pending.append(f)
                        lands = " (the first insert lands)" if f["ambiguous"] else ""
                        progress(
                            f"{f['t_s']:.0f} s: ClickHouse refuses the sink's calls for "
                            f"{f['down_s']} s{lands}"
                        )
                        return
                    pause = kinds.random() < options.pauses
                    f = {
                        "kind": "sigstop" if pause else "sigkill",
                        "stage": name,
                        "t_s": round(now - t0, 1),
                        "at_mono": now,
                    }
                    pids = _pids(p, name)
                    f["pid"] = pids[0]
                    if pause:
                        f["paused_s"], f["pids"] = round(kinds.uniform(5, 15), 1), pids
                        paused.append(f)
                    _signal(pids, signal.SIGSTOP if pause else signal.SIGKILL)
                    faults.append(f)
                    pending.append(f)
                    what = f"SIGSTOP {name} for {f['paused_s']} s" if pause else f"SIGKILL {name}"
                    progress(f"{f['t_s']:.0f} s: {what} (pid {f['pid']})")

                p.run(on_tick=tick, tick=0.5)
                poison_delivered = poison.flush()
                progress(
                    f"the replay ended ({poison.n} bad records written to the topics, delivered: "
                    f"{poison_delivered}); draining"
                )
                drained = p.drain(on_tick=tick, stall_timeout=180.0)
                progress(f"drained: {drained}; reading the enriched copies")
                copies = copies_reader.finish()
                alive = {n: st.alive() for n, st in p.stages.items() if n != "ingest"}
                if p.broker is not None:
                    alive["broker"] = p.broker.alive()
                summary = p.summary()
                p.stop()
            except BaseException as e:
                for f in paused:  # a stopped process would not stop
                    _signal(f["pids"], signal.SIGCONT)
                (control / "down").unlink(missing_ok=True)
                if copies_reader is not None:
                    copies_reader.close()
                p.stop()
                if isinstance(e, Exception):
                    raise BenchError(f"chaos run failed: {e!r}") from e
                raise
        progress("checking against the ground truth")
        checks = check(s, good, bad, copies, poison.expected())
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    for f in faults:
        for key in ("at_mono", "pids", "resumed", "commits"):
            f.pop(key, None)
    result: dict[str, Any] = {
        "minutes": options.minutes,
        "seed": options.seed,
        "targets": list(options.targets),
        "posts": posts,
        "bad_lines": bad,
        "differing_copies": changed,
        "faults": faults,
        "faults_total": len(faults),
        "recovered": sum(1 for f in faults if "recovered_s" in f),
        "recovery_s_max": max((f.get("recovered_s", 0.0) for f in faults), default=0.0),
        "restarts": p.restarts(),
        "stages_left_running": alive,
        "drained": drained,
        "bad_records_delivered": poison_delivered,
        "ingested": summary.get("ingested"),
        **checks,
        "passed": bool(
            drained
            and checks["stored_once"]
            and checks["bad_dead_lettered"]
            and poison_delivered
            and checks["bad_records_caught"]
            and checks["queries_equal"]
            and all(alive.values())
        ),
        "cores": os.cpu_count(),
        "date": date,
    }
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "chaos.json").write_text(json.dumps(result, indent=1, default=str))
    if not result["passed"]:
        raise BenchError(f"chaos run failed its checks (figures in {options.out}): {result}")
    return result
