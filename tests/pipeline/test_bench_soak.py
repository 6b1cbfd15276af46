"""`veille bench soak`: its JSON contract, every process of the tree sampled (the broker
included), every post stored once, its files; and the slope arithmetic. No timing is asserted."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from factories import run_veille

from pipeline.bench.soak import Sample, memory_figures, slope_mb_per_min

REQUIRED = {
    "minutes",
    "rate",
    "ingested",
    "stored",
    "stored_equals_ingested",
    "restarts",
    "restarts_total",
    "processes_sampled",
    "processes",
    "tree_slope_mb_per_min",
    "tree_anon_slope_mb_per_min",
    "tree_slope_second_half_mb_per_min",
    "tree_rss_end_mb",
    "flat",
    "latency_s",
    "latency_after_warmup_s",
    "retention",
    "files",
}


@pytest.mark.integration
def test_bench_soak_json_contract_every_process_sampled_every_post_stored(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    proc = run_veille(
        "bench",
        "soak",
        *("--minutes", "0.4", "--rate", "40", "--warmup-minutes", "0.1", "--interval", "2"),
        *("--out", str(out), "--json"),
        timeout=150,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r.keys() >= REQUIRED

    assert r["ingested"] > 0 and r["stored"] == r["ingested"] == r["stored_distinct"]
    assert r["stored_equals_ingested"] is True and r["dead_lettered"] == 0
    assert r["restarts_total"] == 0
    sampled = set(r["processes_sampled"])
    assert {"broker", "ingest", "process", "sink", "supervisor"} <= sampled
    assert sampled == r["processes"].keys() == r["restarts"].keys()
    for name, f in r["processes"].items():
        assert f["rss_end_mb"] > 0 and f["slope_mb_per_min"] is not None, name
        assert f["anon_slope_mb_per_min"] is not None, name
    tree_end = sum(f["rss_end_mb"] for f in r["processes"].values())
    assert r["tree_rss_end_mb"] == pytest.approx(tree_end, abs=0.5)
    lat = r["latency_s"]
    assert lat["posts"] == r["stored"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert 0 < r["latency_after_warmup_s"]["posts"] < lat["posts"]

    files = {k: Path(v) for k, v in r["files"].items()}
    assert json.loads(files["figures"].read_text())["timeline"]
    with files["samples"].open() as f:
        rows = list(csv.DictReader(f))
    assert {row["process"] for row in rows} == sampled
    assert all(0 < float(row["anon_mb"]) < float(row["rss_mb"]) for row in rows)
    svg = ET.fromstring(files["plot"].read_text())
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "broker" in files["plot"].read_text()


def test_slope_is_the_least_squares_fit_in_mb_per_minute() -> None:
    assert slope_mb_per_min([(0.0, 100.0), (60.0, 101.0), (120.0, 102.0)]) == 1.0
    assert slope_mb_per_min([(0.0, 5.0), (30.0, 5.0)]) == 0.0
    assert slope_mb_per_min([(10.0, 5.0)]) is None


def test_memory_figures_leave_out_the_warm_up_and_the_drain() -> None:
    samples = []
    for i in range(21):  # t = 0..200 s; grows in the warm-up (< 60 s), then flat
        t = 10.0 * i
        samples.append(Sample(t, "a", 1, min(t, 60.0) + 100, 10.0 + i))
        if t <= 180:  # b leaves at the drain
            samples.append(Sample(t, "b", 2, 50.0, None))
    f = memory_figures(samples, warmup_s=60.0, until_s=180.0)
    assert f["processes"]["a"]["slope_mb_per_min"] == 0.0
    assert f["processes"]["a"]["rss_warm_mb"] == 160.0
    assert f["processes"]["a"]["cpu_pct"] == 10.0  # 1 s of CPU per 10 s
    assert f["tree_slope_mb_per_min"] == 0.0
    assert f["tree_rss_end_mb"] == 210.0
