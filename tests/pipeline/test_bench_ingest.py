"""`veille bench ingest`: its JSON contract and the consistency of its figures, on a small run.

No timing is asserted: machines are shared and noisy; the figures only have to be positive and
agree with each other (every payload parsed, replayed and produced, rates the inverse of costs).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from factories import run_veille

from pipeline.bench.ingest import sample_payloads

STAGES = {"synthetic_generate", "parse_synthetic", "parse_sample", "replay", "produce"}
WAYS = {"record", "post", "pydantic"}


@pytest.mark.integration
def test_bench_ingest_json_contract_and_consistent_figures() -> None:
    proc = run_veille("bench", "ingest", "--posts", "300", "--repeat", "1", "--json", timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])

    assert (r["posts"], r["repeat"]) == (300, 1)
    assert r["replayed"] == r["produced"] == 300  # every payload read, parsed, delivered
    assert r["us_per_post"].keys() == r["posts_per_s_one_core"].keys() == STAGES
    for stage, us in r["us_per_post"].items():
        assert us > 0, stage
        assert r["posts_per_s_one_core"][stage] == pytest.approx(1e6 / us, rel=0.01, abs=1)
    assert r["parse_ways_us_per_post"].keys() == {"synthetic", "sample"}
    for name, ways in r["parse_ways_us_per_post"].items():
        assert ways.keys() == WAYS and all(us > 0 for us in ways.values()), name
        assert ways["record"] == r["us_per_post"][f"parse_{name}"]
    assert r["synthetic_setup_ms"] > 0 and r["produce_posts_per_s"] > 0
    assert r["cores"] == os.cpu_count()
    assert r["cpu"] is None or r["cpu"] in os.sched_getaffinity(0)

    # the table a person reads, before the JSON line
    assert "veille bench ingest: 300 posts" in proc.stdout
    assert "produce to Kafka" in proc.stdout


def test_bench_ingest_has_an_example() -> None:
    proc = run_veille("bench", "ingest", "--help")
    assert proc.returncode == 0 and "Example:" in proc.stdout


def test_bench_ingest_refuses_no_posts() -> None:
    proc = run_veille("bench", "ingest", "--posts", "0", timeout=60)
    assert proc.returncode != 0
    assert "at least 1" in proc.stderr


def test_the_sample_payloads_are_cycled_to_the_count() -> None:
    payloads = sample_payloads(100)
    assert len(payloads) == 100
    assert len(set(payloads)) == 40  # the bundled file's lines, again and again
    assert all(json.loads(p)["data"]["id"] for p in payloads)
