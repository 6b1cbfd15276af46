"""Reading while `veille up` writes: `veille query`, `veille report`, clickhouse-connect and the
live page in Chromium, all through the running pipeline; then the same rows in process after
it stopped."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from factories import run_veille

from pipeline.web import discovery
from sinks.report.period import ch_time, parse_time

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
SHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "live.png"


def _query(data: Path, name: str, *params: str) -> list[dict[str, Any]]:
    args = ["query", name, "--data-dir", str(data), "--format", "json"]
    for p in params:
        args += ["--param", p]
    proc = run_veille(*args, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows: list[dict[str, Any]] = json.loads(proc.stdout)
    return rows


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _chromium(args: list[str], tmp: Path, profile: str) -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "chromium is not installed: apt-get install -y --no-install-recommends chromium"
        )
    cmd = [path, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_read_while_up_writes_then_same_rows_in_process(tmp_path: Path) -> None:
    data = tmp_path / "d"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "CLICKHOUSE_"))}
    env.pop("VEILLE_DATA_DIR", None)
    log = open(tmp_path / "up.log", "w")
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "up",
            "--rate",
            "150",
            "--volume",
            "10",
            "--data-dir",
            str(data),
            "--http-port",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        served = _wait(lambda: discovery.find(data), 180, "the pipeline's serve.json")
        assert served.host == "127.0.0.1" and served.pid != up.pid  # the sink serves
        http = clickhouse_connect.get_client(host="127.0.0.1", port=served.port)
        count = "SELECT uniqExact(id) FROM posts"
        _wait(lambda: http.command(count) >= 3000, 180, "3000 stored posts")

        # a window that is complete: it ends an hour of event time before the newest post
        newest = parse_time(_query(data, "recent_posts", "limit=1")[0]["created_at"])
        window = (
            f"start={ch_time(newest - timedelta(hours=5))}",
            f"end={ch_time(newest - timedelta(hours=1))}",
        )
        over_time = _query(data, "mentions_over_time", *window, "interval_s=600")
        by_brand = _query(data, "sentiment_by_brand", *window)
        assert sum(r["posts"] for r in over_time) > 500 and by_brand

        report = tmp_path / "report.html"
        proc = run_veille("report", "--data-dir", str(data), "--since", "12h", "-o", str(report))
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "Volume and sentiment" in report.read_text() and "posts" in proc.stdout

        with pytest.raises(DatabaseError) as err:
            http.command("DROP TABLE posts")
        assert err.value.code == 164

        before = http.command(count)
        dom = _chromium(["--dump-dom", "--virtual-time-budget=5000", served.url], tmp_path, "dom")
        after = http.command(count)
        kpi = re.search(r'Posts stored</div><div class="value">([\d,]+)<', dom)
        assert kpi, dom[:2000]
        assert before <= int(kpi.group(1).replace(",", "")) <= after
        for panel in ("timeline", "per-entry", "share-of-voice", "care", "alerts", "recent"):
            assert f'id="{panel}"' in dom, panel
        assert "Orbital Telecom" in dom and dom.count("<svg") >= 3
        assert re.search(r"<td>sink</td><td>running</td>", dom), "health panel shows the sink"
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        _chromium(
            [
                f"--screenshot={SHOT}",
                "--window-size=1400,2300",
                "--virtual-time-budget=5000",
                served.url,
            ],
            tmp_path,
            "shot",
        )
        assert SHOT.stat().st_size > 50_000
        http.close()
    finally:
        if up.poll() is None:
            os.kill(up.pid, signal.SIGINT)
        code = up.wait(180)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
    assert discovery.find(data) is None and not discovery.path_for(data).exists()

    # stopped: the same commands open chDB in process and answer the same rows
    assert _query(data, "mentions_over_time", *window, "interval_s=600") == over_time
    assert _query(data, "sentiment_by_brand", *window) == by_brand
