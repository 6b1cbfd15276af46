"""Experiment (not a test): restart the embedded broker under a running pipeline and report what
each stage does and what survives. docs/reliability.md quotes its output.

    python tests/faults/broker_restart.py [--down-s 15] [--after-s 60]

Starts its own Tansu broker, `veille sink`, `veille process` and `veille ingest` (synthetic posts
at 100/s, endless) in a temporary directory; after a while stops the broker (SIGTERM), waits
`--down-s`, starts a new broker on the same port, watches `--after-s`, stops the stages
(SIGTERM), starts them again as a supervisor would, and counts what was stored. Every
observation is printed with the time it was made.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TESTS), str(TESTS.parent)]  # the tests' helpers, and veille's own packages

from faults.harness import Rig, Stage, committed  # noqa: E402

from pipeline.embedded import LocalBroker, free_port  # noqa: E402
from veille.kafka import ensure_topics  # noqa: E402
from veille.settings import KafkaSettings, Settings, VeilleSettings  # noqa: E402

T0 = time.monotonic()
COUNTERS = {"ingest": "produced", "process": "enriched", "sink": "posts"}


def say(what: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {what}", flush=True)


def snapshot(stages: list[Stage]) -> str:
    parts = []
    for st in stages:
        state = "alive" if st.alive() else f"exited rc={st.returncode}"
        parts.append(f"{st.name}: {state} {COUNTERS[st.name]}={st.status().get(COUNTERS[st.name])}")
    return "; ".join(parts)


def topics(k: KafkaSettings) -> Any:
    """veille's topics on the broker now, with their partition counts."""
    try:
        meta = AdminClient(k.admin_config()).list_topics(timeout=5).topics
    except Exception as e:
        return f"unreachable ({e})"
    return {t: len(m.partitions) for t, m in sorted(meta.items()) if t in k.all_topics()}


def watch(stages: list[Stage], seconds: float, every: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(every, max(0.0, end - time.monotonic())))
        say(snapshot(stages))


def offsets(k: KafkaSettings, s: Settings) -> dict[str, int]:
    return {
        "process on raw": committed(k, s.process.group, k.raw_topic),
        "sink on enriched": committed(k, s.sink.group, k.enriched_topic),
    }


def log_summary(st: Stage) -> str:
    lines = st.log_path.read_text(errors="replace").splitlines()
    marks = ("delivery failed", "Message timed out", "KafkaError", "Traceback", "exiting")
    found = {m: sum(m in line for line in lines) for m in marks}
    return f"{st.name} log: " + ", ".join(f"{m!r} x{n}" for m, n in found.items() if n)


def start_stages(rig: Rig, seed: int) -> list[Stage]:
    sink, process = rig.sink().start(), rig.process().start()
    sink.wait_running()
    process.wait_running()
    ingest = rig.ingest("--source", "synthetic", "--rate", "100", "--seed", str(seed)).start()
    return [ingest, process, sink]


def stop_stages(stages: list[Stage]) -> None:
    for st in stages:
        alive = st.alive()
        rc = st.stop(30)
        was = "alive" if alive else "dead"
        say(f"stop {st.name} (SIGTERM, 30 s, then SIGKILL): was {was}, rc={rc}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--down-s", type=float, default=15.0)
    ap.add_argument("--after-s", type=float, default=60.0)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="veille-broker-restart-"))
    port = free_port()
    broker = LocalBroker(port=port, log_file=root / "broker.log").start()
    k = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, partitions=2)
    s = Settings(kafka=k, veille=VeilleSettings(data_dir=root / "data"))
    ensure_topics(k, k.all_topics())
    say(f"broker up on {broker.bootstrap_servers}; work dir {root}; topics {topics(k)}")
    rig = Rig(s, root)
    try:
        stages = start_stages(rig, seed=1)
        watch(stages, 12)
        say(f"committed offsets before the restart: {offsets(k, s)}")

        broker.stop()
        say("broker stopped (SIGTERM)")
        watch(stages, args.down_s)
        broker = LocalBroker(port=port, log_file=root / "broker.log").start()
        say(f"broker started again on the same port; topics: {topics(k)}")
        watch(stages, args.after_s)
        say(f"committed offsets after the restart: {offsets(k, s)}; topics: {topics(k)}")
        for st in stages:
            say(log_summary(st))
        stop_stages(stages)
        say(f"posts in ClickHouse (FINAL): {rig.probe()['posts_final']}")

        say("the stages started again, as a supervisor would (new posts: another seed)")
        rig.run_dir = root / "run-again"
        rig.run_dir.mkdir()
        stages = start_stages(rig, seed=2)
        watch(stages, 20)
        say(f"committed offsets: {offsets(k, s)}; topics: {topics(k)}")
        stop_stages(stages)
        say(f"posts in ClickHouse (FINAL): {rig.probe()['posts_final']}")
    finally:
        rig.close()
        broker.stop()


if __name__ == "__main__":
    main()
