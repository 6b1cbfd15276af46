"""`veille bench chaos`, short: the whole pipeline with its broker (Tansu and its S3 server)
SIGKILLed at seeded moments while a replay with bad lines and differing copies runs, and bad
records are written straight to the raw and enriched topics (the stages
killed one by one are the other fault tests' and the 20-minute run's); the benchmark checks the
end state against the ground truth (every good post stored once, every bad line a dead letter
with its reason, every named query equal to a clean single write, no stage left stopped) and
fails otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import run_veille

pytestmark = pytest.mark.integration


def test_a_short_chaos_run_keeps_every_guarantee(tmp_path: Path) -> None:
    out = tmp_path / "chaos"
    proc = run_veille(
        "bench",
        "chaos",
        "--minutes",
        "0.75",
        "--seed",
        "3",
        "--targets",
        "broker",
        "--pauses",
        "0",
        "--out",
        str(out),
        "--json",
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["passed"] and result == json.loads((out / "chaos.json").read_text())
    # the broker killed, started again by the supervisor, and every stage running at the end
    assert result["recovered"] == result["faults_total"] == result["restarts"] >= 1
    assert {f["stage"] for f in result["faults"]} == {"broker"}
    assert all(result["stages_left_running"].values()) and result["stages_left_running"]["broker"]
    assert result["posts_stored"] == result["posts_expected"] > 6000
    assert result["dead_letters_stored"] == result["bad_lines"] > 60
    assert result["differing_copies"] > 60
    # bad records written straight to the raw and enriched topics: each a dead letter of the
    # stage that reads its topic, with its reason, and no other dead letter
    assert result["bad_records_delivered"] and result["bad_records_caught"]
    assert result["bad_records_dead_lettered"] == result["bad_records"]
    assert min(result["bad_records"].values()) >= 6 and result["dead_letters_unexplained"] == 0
    assert result["queries_compared"] >= 15 and result["queries_differing"] == []
