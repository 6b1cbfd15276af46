"""`veille bench e2e`: its JSON contract and the consistency of its figures, on a small run.

No timing is asserted: machines are shared and noisy; the figures only have to be positive
and agree with each other (every post stored once, ratios equal to the rates they divide).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from factories import run_veille

from pipeline.bench.e2e import TOPIC_FIELDS, make_phase
from pipeline.bench.procfs import CpuUse, PeakRss, cpu_seconds, status_kb
from veille.settings import ClickHouseSettings, KafkaSettings, Settings, VeilleSettings

REQUIRED = {
    "posts",
    "stored",
    "posts_per_s",
    "window_s",
    "ratio_to_passthrough",
    "ratio_to_naive_faust",
    "passthrough_msgs_per_s",
    "naive_faust_posts_per_s",
    "p50_latency_s",
    "p99_latency_s",
    "peak_rss_mb",
    "cores",
    "settings",
}


@pytest.mark.integration
def test_bench_e2e_json_contract_and_consistent_figures(tmp_path: Path) -> None:
    data = tmp_path / "bench"
    proc = run_veille(
        "bench",
        "e2e",
        *("--posts", "2000", "--rate-latency", "200", "--latency-seconds", "5"),
        *("--naive-posts", "300", "--data-dir", str(data), "--json"),
        timeout=280,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r.keys() >= REQUIRED

    # every post went through and is stored once, counted in ClickHouse
    assert r["posts"] == 2000
    assert r["stored"] == r["posts"]
    assert r["dead_lettered"] == 0
    assert r["passthrough_msgs"] == r["posts"]
    assert r["naive_faust_posts"] == 300
    assert r["latency_posts"] == 200 * 5

    # positive, and consistent with each other
    for key in ("posts_per_s", "window_s", "passthrough_msgs_per_s", "naive_faust_posts_per_s"):
        assert r[key] > 0, key
    assert r["posts_per_s"] == pytest.approx(r["stored"] / r["window_s"], rel=0.01)
    assert r["ratio_to_passthrough"] == pytest.approx(
        r["posts_per_s"] / r["passthrough_msgs_per_s"], rel=0.02, abs=1e-4
    )
    assert r["ratio_to_naive_faust"] == pytest.approx(
        r["posts_per_s"] / r["naive_faust_posts_per_s"], rel=0.02, abs=0.01
    )
    assert 0 < r["p50_latency_s"] <= r["p99_latency_s"] <= r["max_latency_s"]

    assert {"ingest", "process", "sink", "broker"} <= r["peak_rss_mb"].keys()
    assert all(mb > 0 for mb in r["peak_rss_mb"].values())
    assert {"ingest", "process", "sink", "broker"} <= r["cpu_s"].keys()
    assert r["cpu_ms_per_post"] >= r["process_cpu_ms_per_post"] > 0
    assert r["naive_faust_cpu_ms_per_post"] > 0
    assert r["cores"] == os.cpu_count()
    assert r["settings"]["process_batch_size"] >= 1
    assert r["settings"]["sink_batch_rows"] >= 1
    assert r["settings"]["source"] == "replay"  # the default: pre-written payloads, replayed
    assert (data / "throughput-posts.ndjson").read_bytes().count(b"\n") == r["posts"]

    # the run's logs are kept where asked, one folder per phase
    assert {"run-throughput", "run-latency", "run-references"} <= {p.name for p in data.iterdir()}


def test_bench_e2e_rejects_a_data_dir_in_use(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    proc = run_veille("bench", "e2e", "--data-dir", str(tmp_path), timeout=60)
    assert proc.returncode != 0
    assert "not empty" in proc.stderr


def test_phase_settings_and_environment_agree(tmp_path: Path) -> None:
    base = Settings(
        kafka=KafkaSettings(bootstrap_servers=None),
        clickhouse=ClickHouseSettings(url="http://example:8123"),
        veille=VeilleSettings(data_dir=Path("elsewhere")),
    )
    p = make_phase(base, "latency", "127.0.0.1:1234", tmp_path)
    k = p.settings.kafka
    assert p.env["KAFKA_BOOTSTRAP_SERVERS"] == k.bootstrap_servers == "127.0.0.1:1234"
    for field in TOPIC_FIELDS:
        assert p.env[f"KAFKA_{field.upper()}"] == getattr(k, field)
        assert getattr(k, field).startswith("bench.latency.")
    assert p.env["VEILLE_PROCESS_GROUP"] == p.settings.process.group
    assert p.env["VEILLE_SINK_GROUP"] == p.settings.sink.group
    assert p.env["CLICKHOUSE_DATABASE"] == p.database == "bench_latency"
    assert p.env["CLICKHOUSE_URL"] == "" and not p.settings.clickhouse.url
    assert p.settings.veille.data_dir == tmp_path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_cpu_use_counts_from_start() -> None:
    cpu = CpuUse()
    me = {"me": os.getpid()}
    cpu.start(me)
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    cpu.sample({**me, "gone": 2**22 + 12345})
    assert set(cpu.seconds()) == {"me"}
    assert 0 <= cpu.seconds()["me"] < (cpu_seconds(os.getpid()) or 0)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_peak_rss_reads_the_high_water_mark() -> None:
    peak = PeakRss()
    peak.sample({"me": os.getpid(), "gone": 2**22 + 12345})
    assert set(peak.kb) == {"me"}
    assert peak.kb["me"] >= (status_kb(os.getpid(), "VmRSS") or 0) > 0
    assert peak.mb()["me"] > 0
