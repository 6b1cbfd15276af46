"""The whole pipeline through `veille up`, as a user runs it: its own broker, Faust worker, sink
and chDB, in subprocesses; then `veille query` on the same data directory."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from factories import SAMPLE, run_veille

pytestmark = pytest.mark.integration


def _summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return summary


def _query(name: str, data_dir: Path, *params: str) -> list[dict[str, Any]]:
    args = ["query", name, "--data-dir", str(data_dir), "--format", "json"]
    for p in params:
        args += ["--param", p]
    proc = run_veille(*args, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows: list[dict[str, Any]] = json.loads(proc.stdout)
    return rows


def test_up_synthetic_stores_every_post_once(tmp_path: Path) -> None:
    data = tmp_path / "d"
    s = _summary(
        run_veille(
            "up",
            "--source",
            "synthetic",
            "--rate",
            "200",
            "--duration",
            "12",
            "--data-dir",
            str(data),
            "--json",
        )
    )
    assert s["stored"] > 1200  # ~200/s for 12 s
    assert s["ingested"] == s["stored"] + s["dead_lettered"]
    assert s["enriched"] >= s["stored"]

    over_time = _query("mentions_over_time", data, "interval_s=60")
    assert sum(r["posts"] for r in over_time) == s["stored"]
    by_brand = _query("sentiment_by_brand", data)
    names = {r["entry"] for r in by_brand}
    assert "Orbital Telecom" in names and "Nimbus Télécom" in names
    assert all(r["posts"] == r["positive"] + r["neutral"] + r["negative"] for r in by_brand)
    recent = _query("recent_posts", data, "limit=50")
    assert {r["lang"] for r in recent} & {"fr", "en"}
    assert {r["sentiment"] for r in recent} <= {"negative", "neutral", "positive"}


def test_up_replay_keeps_x_fields_and_dead_letters_bad_lines(tmp_path: Path) -> None:
    lines = SAMPLE.read_bytes().splitlines()
    good = [ln for ln in lines if ln.strip()]
    bad = [b'{"data": {"id": "12", "text": "cut', b'{"data": {"id": "x"}}', b"\xff\xfe\x00"]
    mixed = tmp_path / "mixed.ndjson"
    mixed.write_bytes(b"\n".join(good[:5] + bad + good[5:]) + b"\n")
    data = tmp_path / "d"
    s = _summary(
        run_veille(
            "up", "--source", "replay", "--input", str(mixed), "--data-dir", str(data), "--json"
        )
    )
    assert s == s | {"ingested": len(good) + 3, "stored": len(good), "dead_lettered": 3}

    recent = _query("recent_posts", data, f"limit={len(good)}")
    assert {r["id"] for r in recent} == {json.loads(ln)["data"]["id"] for ln in good}

    # X's own fields survive the trip: compare each stored post with its payload
    import clickhouse_connect

    client = clickhouse_connect.get_client(
        dsn=f"chdb://{(data / 'clickhouse').resolve()}", database="veille"
    )
    try:
        stored = {
            str(r[0]): r
            for r in client.query(
                "SELECT id, author_username, created_at, x_lang, hashtags, mentions, like_count, "
                "conversation_id, context_entities FROM posts FINAL"
            ).result_rows
        }
        dead = client.query(
            "SELECT stage, source, reason FROM dead_letters FINAL ORDER BY source"
        ).result_rows
    finally:
        client.close()
    for ln in good:
        p = json.loads(ln)
        d = p["data"]
        row = stored[d["id"]]
        author = next(u for u in p["includes"]["users"] if u["id"] == d["author_id"])
        assert row[1] == author["username"]
        assert row[2].strftime("%Y-%m-%dT%H:%M:%S") == d["created_at"][:19]
        assert row[3] == d.get("lang", "")
        entities = (d.get("note_tweet") or {}).get("entities") or d.get("entities", {})
        assert row[4] == [h["tag"] for h in entities.get("hashtags", [])]
        assert row[5] == [m["username"] for m in entities.get("mentions", [])]
        assert row[6] == d.get("public_metrics", {}).get("like_count", 0)
        assert str(row[7]) == d.get("conversation_id", d["id"])
        assert row[8] == [c["entity"]["name"] for c in d.get("context_annotations", [])]
    assert [r[1] for r in dead] == [f"replay:mixed.ndjson:{n}" for n in (6, 7, 8)]
    assert all(r[0] == "ingest" and r[2].startswith("invalid X post payload") for r in dead)


def test_up_from_x_stores_the_stream_and_records_usage(tmp_path: Path) -> None:
    from factories import x_payload
    from fakex import FakeX, Send

    with FakeX("e2e-token", script=[Send(300)], keepalive_s=0.5) as fake:
        fake.add_posts(
            x_payload(1_950_000_000_000_000_000 + i, f"Orbital post {i}") for i in range(300)
        )
        env = {
            "X_BEARER_TOKEN": "e2e-token",
            "X_API_BASE_URL": fake.base_url,
            "VEILLE_COMPLIANCE_INTERVAL_H": "0",
        }
        data = tmp_path / "d"
        s = _summary(
            run_veille(
                "up",
                "--source",
                "x",
                "--duration",
                "15",
                "--data-dir",
                str(data),
                "--json",
                env=env,
            )
        )
        assert fake.max_concurrent_connections == 1
        assert len(fake.rules) == len(json.loads(run_veille("rules", "--json").stdout))
    assert s["ingested"] == s["stored"] == 300 and s["dead_lettered"] == 0
    usage = json.loads(run_veille("usage", "--data-dir", str(data), "--json").stdout)
    assert usage and usage[-1]["reads_day"] == 300 and usage[-1]["reads_month"] == 300


def test_up_crisis_scenario_raises_one_alert_through_the_pipeline(tmp_path: Path) -> None:
    data = tmp_path / "d"
    s = _summary(
        run_veille(
            "up",
            "--scenario",
            "crisis",
            "--rate",
            "0",
            "--volume",
            "10",
            "--count",
            "11000",
            "--data-dir",
            str(data),
            "--json",
        )
    )
    assert s["stored"] == 11000
    alerts = _query("alerts", data)
    assert [(a["entry"], a["kind"]) for a in alerts] == [("Orbital Telecom", "crisis")]
    assert "negative" in alerts[0]["detail"]
