"""The two references of `veille bench e2e`, each run in its own process on a phase's raw posts.

- `run_passthrough`: `pipeline.bench.passthrough` re-produces the raw posts unchanged;
- `run_naive_faust`: `pipeline.bench.naive_faust` enriches them one event at a time.

Each returns the reference's JSON result; a failure raises `BenchError` with its log's tail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.bench.phases import BenchError, Phase


def _child_env(phase: Phase) -> dict[str, str]:
    return {**os.environ, **phase.env}


def run_passthrough(phase: Phase, count: int, log_dir: Path) -> dict[str, Any]:
    """The pass-through reference over the `count` raw posts of `phase`, in its own process."""
    from veille.kafka import ensure_topics

    k = phase.settings.kafka
    out = f"bench.passthrough.{k.raw_topic}"
    ensure_topics(k, [out])
    cmd = [
        sys.executable,
        "-m",
        "pipeline.bench.passthrough",
        *("--source", k.raw_topic, "--out", out, "--group", "bench-passthrough"),
        *("--count", str(count), "--timeout", str(120 + count / 1000)),
    ]
    proc = subprocess.run(
        cmd, env=_child_env(phase), capture_output=True, text=True, timeout=180 + count / 1000
    )
    (log_dir / "passthrough.log").write_text(proc.stderr)
    if proc.returncode != 0:
        raise BenchError(f"pass-through reference failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_naive_faust(
    phase: Phase, count: int, log_dir: Path, sentiment: str | None
) -> dict[str, Any]:
    """The naive Faust reference over the first `count` raw posts of `phase`, in its own
    worker process, stopped (SIGTERM, then SIGKILL) once it has written its result."""
    from veille.kafka import ensure_topics

    k = phase.settings.kafka
    out = f"bench.naive.{k.enriched_topic}"
    ensure_topics(k, [out])
    result_path = log_dir / "naive_faust.json"
    cmd = [
        sys.executable,
        "-m",
        "pipeline.bench.naive_faust",
        *("--source", k.raw_topic, "--out", out, "--group", "bench-naive-faust"),
        *("--count", str(count), "--result", str(result_path)),
        *(("--sentiment", sentiment) if sentiment else ()),
    ]
    log_path = log_dir / "naive_faust.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            env=_child_env(phase),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120 + count / 20
        while not result_path.exists():
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise BenchError(f"naive Faust reference exited ({proc.returncode}):\n{tail}")
            if time.monotonic() > deadline:
                raise BenchError(f"naive Faust reference: no result after {count} posts in time")
            time.sleep(0.1)
        result: dict[str, Any] = json.loads(result_path.read_text())
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return result
