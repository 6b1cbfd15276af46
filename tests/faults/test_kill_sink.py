"""SIGKILL of the sink (`veille sink`) after it inserted a batch and before it committed the
batch's offsets, then a restart: the batch is read and inserted again, and every post still
counts once, in the posts and in the rollup its materialized view fed twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults.harness import Stream, committed, inserts, wait_for

from veille.settings import Settings

pytestmark = pytest.mark.integration


def test_sink_killed_between_insert_and_commit_counts_every_post_once(
    settings: Settings, tmp_path: Path, uid: str
) -> None:
    k, group = settings.kafka, settings.sink.group
    with Stream(settings, tmp_path, uid, seed=12, seconds=20, faulty_sink=True) as run:
        control, sink = run.control, run.sink
        assert control is not None
        wait_for("two batches committed", lambda: sink.status().get("commits", 0) >= 2, 60)

        # the next insert into posts holds before returning: kill the sink right then
        before = len(inserts(control, "ok", "posts"))
        (control / "hold").write_text("30")
        wait_for("an insert", lambda: len(inserts(control, "ok", "posts")) > before, 30, 0.05)
        sink.kill()
        (control / "hold").unlink()
        written = sum(inserts(control, "ok", "posts"))
        acknowledged = committed(k, group, k.enriched_topic)
        assert written > acknowledged  # rows in ClickHouse whose offsets were not committed
        assert run.ingest.alive(), "the stream ended before the kill: not mid-batch"

        sink.start()
        sink.wait_running()
        posts = run.finish()
    # the batch inserted before the kill was inserted again after the restart
    assert sum(inserts(control, "ok", "posts")) >= len(posts) + written - acknowledged
