"""`veille up` killed outright, twice, at random moments, then run to the end on the same data
directory: every post of the replayed file is stored exactly once.

The whole process tree is killed — the supervisor, its stages, the local broker and its S3 server
— with SIGSTOP first (nothing runs on between the kills) then SIGKILL, as a power cut would.
What the test knows was acknowledged: every line of the replay file is acknowledged by the broker
by the end of the last run (the replay resumes after the last line Kafka acknowledged, saved in
the data directory, and the last run ends only when the file is done and drained). Loss shows as
missing ids (an acknowledged record the broker lost, a committed offset that skipped records, a
replay that resumed past a line it had not delivered); duplication as more rows than ids under
FINAL. Runs in about 1.5 to 2 minutes; select it with `-m durability`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import x_payload

pytestmark = [pytest.mark.integration, pytest.mark.durability]

POSTS = 5000
GAP_S = 0.01  # created_at gaps; replayed at --speed 1: ~100 posts/s
BASE_ID = 1_960_000_000_000_000_000


def _write_input(path: Path, posts: int = POSTS) -> None:
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with path.open("w") as fh:
        for i in range(posts):
            at = t0 + timedelta(seconds=i * GAP_S)
            fh.write(json.dumps(x_payload(BASE_ID + i, f"Orbital post {i}", created_at=at)))
            fh.write("\n")


def _env(**extra: str) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_", "CLICKHOUSE_", "VEILLE_"))
    }
    return {**clean, **extra}


def _up(
    data: Path, stream: Path, speed: float | None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    args = ["up", "--source", "replay", "--input", str(stream)]
    args += ["--speed", str(speed)] if speed else []
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args, "--data-dir", str(data), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or _env(),
        start_new_session=True,
    )


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _tree(root: int) -> list[int]:
    tree, out, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(tree.get(pid, []))
    return out


def _kill_tree(proc: subprocess.Popen[str]) -> int:
    """SIGSTOP then SIGKILL every process of the tree; returns how many there were."""
    pids = _tree(proc.pid)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in _tree(proc.pid) if sig == signal.SIGKILL else pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    proc.communicate(timeout=30)
    return len(pids)


def _count(data: Path, stage: str, counter: str) -> int:
    try:
        return int(json.loads((data / "run" / f"{stage}.json").read_text()).get(counter, 0))
    except (OSError, ValueError):
        return 0


def _ingested(data: Path) -> int:
    return _count(data, "ingest", "ingested")


def _stored(data: Path, posts: int = POSTS) -> tuple[int, int, int]:
    """(rows under FINAL, distinct ids, ids in the input's range) of the posts table."""
    last = BASE_ID + posts - 1
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from sinks.clickhouse.connection import connect\n"
        "from veille.settings import ClickHouseSettings\n"
        "c = connect(ClickHouseSettings(), Path(sys.argv[1]))\n"
        "r = c.query('SELECT count(), uniqExact(id), countIf(id BETWEEN {lo:UInt64} AND "
        "{hi:UInt64}) FROM posts FINAL', parameters={'lo': int(sys.argv[2]), "
        "'hi': int(sys.argv[3])}).result_rows[0]\n"
        "print(json.dumps(list(r)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(data / "clickhouse"), str(BASE_ID), str(last)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows, ids, in_range = json.loads(out.stdout.strip().splitlines()[-1])
    return int(rows), int(ids), int(in_range)


def test_sigkill_of_the_whole_tree_twice_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    stream, data = tmp_path / "stream.ndjson", tmp_path / "d"
    _write_input(stream)
    rnd = random.Random()
    resumed_from: list[int] = []  # the line after which the next run's replay resumes
    killed_at: list[int] = []
    for run in range(2):
        for stale in (data / "run").glob("*.json"):
            stale.unlink()  # the last run's figures
        # first killed while posts arrive at ~100/s (the replay must resume where the broker
        # acknowledged); then while they arrive at ~1500/s, faster than they are processed: the
        # broker holds a backlog the processor and the sink have not read yet, and must keep it
        proc = _up(data, stream, speed=1 if run == 0 else 15)
        target = rnd.randint(100, 900) if run == 0 else rnd.randint(200, 2000)
        deadline = time.monotonic() + 120
        while _ingested(data) < target and proc.poll() is None:
            assert time.monotonic() < deadline, "ingest did not start"
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else ""
        if run == 0:
            time.sleep(rnd.uniform(0, 1.5))
        ingested, stored = _ingested(data), _count(data, "sink", "posts")
        print(f"run {run}: killed at ingested={ingested} stored={stored}")
        assert _kill_tree(proc) >= 5  # supervisor, sink, process, ingest, broker, S3 server
        killed_at.append(ingested)
        state = data / "ingest" / "replay.json"
        resumed_from.append(json.loads(state.read_text())["line"] if state.exists() else 0)
    proc = _up(data, stream, speed=None)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    # each restart resumed after what the broker had acknowledged, not from the start
    assert resumed_from[0] > 0
    assert killed_at[1] <= POSTS - resumed_from[0]
    assert summary["ingested"] == POSTS - resumed_from[1]
    assert not (data / "ingest" / "replay.json").exists()  # the replay completed
    rows, ids, in_range = _stored(data)
    assert (rows, ids, in_range) == (POSTS, POSTS, POSTS)
