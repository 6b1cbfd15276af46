"""`veille up` left running: it runs until SIGTERM, then drains and stops every process it
started; piped, it prints a plain status line periodically; its JSON contract holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from factories import clean_env

from pipeline.logs import log_files
from veille.stats import read_status


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.integration
def test_up_without_duration_runs_until_sigterm_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run = data / "run"
    argv = [sys.executable, "-m", "pipeline", "up", "--rate", "50", "--data-dir", str(data)]
    proc = subprocess.Popen(
        [*argv, "--http-port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(
            {
                "VEILLE_STATUS_INTERVAL_S": "1",
                # logs at DEBUG into 2 kB files, two kept: rotation happens within the run
                "VEILLE_LOG_LEVEL": "DEBUG",
                "VEILLE_LOG_MAX_MB": "0.002",
                "VEILLE_LOG_BACKUPS": "2",
            }
        ),
    )
    try:
        deadline = time.monotonic() + 120
        while read_status(run / "sink.json").get("posts", 0) < 50:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "nothing stored after 120 s"
            time.sleep(0.5)
        time.sleep(2)  # at least one status line with posts flowing
        pids = [read_status(p)["pid"] for p in run.glob("*.json")]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["stored"] == summary["ingested"] >= 50
    assert summary["dead_lettered"] == 0 and summary["enriched"] == summary["ingested"]

    lines = [line for line in err.splitlines() if " veille up running" in line]
    assert len(lines) >= 2, err[-3000:]
    for key in ("ingest=", "sink=", "/s", "in_flight=", "stored=", "alerts=", "http://127.0.0.1:"):
        assert key in lines[-1], (key, lines[-1])
    assert any(" veille up draining" in line for line in err.splitlines())

    # every stage stopped; each process's log is where the supervisor said, rotated: at most
    # the file and its two backups, none over 2 kB
    assert len(pids) >= 3 and all(_gone(pid) for pid in pids)
    logs = {p.name for p in run.glob("*.log")}
    assert {"broker.log", "ingest.log", "sink.log", "process.log"} <= logs
    rotated = []
    for name in logs:
        files = log_files(run / name)
        assert len(files) <= 3 and all(f.stat().st_size <= 2000 for f in files), files
        rotated += files[1:]
    assert rotated, "no log rotated at DEBUG level in 2 kB files"


def test_rates_cover_the_last_window_of_snapshots() -> None:
    from pipeline.cli.status import Rates, Snapshot

    rates = Rates(window=10.0)

    def snap(at: float, n: int) -> Snapshot:
        return Snapshot(at, {"ingest": n, "sink": n // 2}, 0, 0, 0, 0)

    assert rates.add(snap(0.0, 0)) == {}
    assert rates.add(snap(5.0, 500)) == {"ingest": 100.0, "sink": 50.0}
    rates.add(snap(10.0, 1000))
    # the last 10 s: from t=10 (older snapshots dropped) to t=20, 1500 posts
    assert rates.add(snap(20.0, 2500)) == {"ingest": 150.0, "sink": 75.0}


class _Log:
    def join(self, timeout: float) -> None:
        pass


def _dead_stage(tmp_path: Path, name: str, code: int) -> object:
    from pipeline.supervisor import _Stage

    proc = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    proc.wait()
    log = tmp_path / f"{name}.log"
    log.write_text("the end of its log\n")
    stage = _Stage(name, proc, tmp_path / f"{name}.json", log, _Log(), (["--x"], None))  # type: ignore[arg-type]
    stage.started -= 60  # it had run a while
    return stage


def test_a_dead_stage_is_started_again_but_not_one_that_refused_its_settings(
    tmp_path: Path,
) -> None:
    from pipeline.supervisor import Pipeline, PipelineError, UpOptions
    from veille.settings import Settings, VeilleSettings

    p = Pipeline(Settings(veille=VeilleSettings(data_dir=tmp_path)), UpOptions())
    spawned: list[tuple[str, list[str]]] = []
    p._spawn = lambda name, args, command=None: spawned.append((name, args))  # type: ignore[method-assign]
    p.stages["sink"] = _dead_stage(tmp_path, "sink", 1)  # type: ignore[assignment]
    p.check()  # the death is seen; the backoff (1 s) starts
    assert spawned == []
    p.stages["sink"].died_at -= 2  # type: ignore[operator]
    p.check()
    assert spawned == [("sink", ["--x"])]
    p.stages["ingest"] = _dead_stage(tmp_path, "ingest", 2)  # type: ignore[assignment]
    with pytest.raises(PipelineError, match="stage ingest exited with code 2"):
        p.check()
