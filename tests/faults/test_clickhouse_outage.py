"""ClickHouse unreachable for 25 s while posts keep coming: the sink backs off, commits nothing,
stays up, and once ClickHouse is back writes the backlog, each post once.

The outage is the sink's own client refusing every call (`sinks.clickhouse.faults`), and its
first refused call is an insert that reached ClickHouse before failing (an answer lost on the
way back): the retry inserts that batch a second time. Each later retry stops at its first
refused call (the sink reads ClickHouse before it inserts a batch)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from faults.harness import Stream, committed, insert_log, inserts, wait_for

from veille.settings import Settings

pytestmark = pytest.mark.integration

OUTAGE_S = 25.0
RETRY_MAX_S = 4.0  # VEILLE_SINK_RETRY_MAX_S: the longest backoff, reached within the outage
FIRST_BACKOFF_S = 1.0  # what the writer asks for after a connection error (retry_after)


def test_clickhouse_down_25s_sink_backs_off_then_catches_up(
    settings: Settings, tmp_path: Path, uid: str
) -> None:
    k, group = settings.kafka, settings.sink.group
    env = {"VEILLE_SINK_RETRY_MAX_S": str(RETRY_MAX_S)}
    # the stream lasts longer than the outage: posts arrive all along it
    with Stream(settings, tmp_path, uid, 13, OUTAGE_S + 5, faulty_sink=True, **env) as run:
        control, sink = run.control, run.sink
        assert control is not None
        wait_for("a first batch written", lambda: sink.status().get("commits", 0) >= 1, 60)

        (control / "down").write_text("ambiguous")
        down_at = time.monotonic()
        wait_for("a refused insert", lambda: inserts(control, "refused", "posts"), 30, 0.05)
        acknowledged = committed(k, group, k.enriched_topic)
        while time.monotonic() - down_at < OUTAGE_S:
            run.rig.check_alive(sink, run.process)
            assert sink.status().get("state") == "running"
            time.sleep(1)
        # nothing committed while ClickHouse was away, though posts kept arriving
        assert committed(k, group, k.enriched_topic) == acknowledged
        assert run.reader.count() > acknowledged
        status = sink.status()
        (control / "down").unlink()
        run.finish()
        retries = sink.status()["retries"]

    # backoff: each retry waited at least the doubled delay, up to the maximum it reached; each
    # attempt is one refused call
    refused = [at for at, outcome, _, _ in insert_log(control) if outcome == "refused"]
    assert retries == len(refused) >= 5
    assert status["backoff_s"] == RETRY_MAX_S
    for n, (a, b) in enumerate(itertools.pairwise(refused)):
        assert b - a >= 0.9 * min(RETRY_MAX_S, FIRST_BACKOFF_S * 2**n), (n, refused)
    # the batch refused first had reached ClickHouse, and was inserted again after the outage
    assert inserts(control, "refused", "posts")[0] > 0
    assert sum(inserts(control, "ok", "posts")) >= len(run.values)
