"""SIGKILL of the Faust worker (`veille process`) mid-stream, then a restart: the batches it had
delivered but not acknowledged are enriched again, and every post still counts once."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults.harness import Stream, committed, wait_for

from veille.settings import Settings

pytestmark = pytest.mark.integration


def test_worker_killed_mid_stream_counts_every_post_once(
    settings: Settings, tmp_path: Path, uid: str
) -> None:
    k, group = settings.kafka, settings.process.group
    with Stream(settings, tmp_path, uid, seed=11, seconds=20) as run:
        # kill while enriched posts are delivered but their raw offsets not yet committed
        def outputs_in_flight() -> bool:
            run.rig.check_alive(run.sink, run.process)
            done = int(run.process.status().get("enriched", 0))
            return done >= 500 and done > committed(k, group, k.raw_topic)

        wait_for("delivered but unacknowledged batches", outputs_in_flight, 60, tick=0.1)
        run.process.kill()
        delivered = int(run.process.status()["enriched"])
        acknowledged = committed(k, group, k.raw_topic)
        assert delivered > acknowledged
        assert run.ingest.alive(), "the stream ended before the kill: not mid-stream"

        run.process.start()
        run.process.wait_running()
        posts = run.finish()
    # the restarted worker enriched again what the dead one had delivered unacknowledged
    assert len(run.values) - len(posts) >= delivered - acknowledged > 0
