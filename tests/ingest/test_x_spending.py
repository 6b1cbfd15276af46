"""What veille spends on X, against the fake X server with per-query matching: gap fills packed
into few queries and skipped past the budget, the cost forecast and the rules it refuses, the
reconciliation with X's own usage count, and side lookups that fail without stopping the
stream."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from factories import run_veille, x_payload
from fakex import FakeX, Send, x_user

from ingest.base import SourceRecord
from ingest.x.backfill import RecentSearch, gap_fill_queries
from ingest.x.clock import FakeClock
from ingest.x.source import XSource
from veille import xapi
from veille.models import Alert, RuleForecast, UsageSnapshot
from veille.settings import XSettings
from veille.watch import compile_rules, load_watch, parse_rule_tag

TOKEN = "sk-test-spending"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _x(fake: FakeX, **kw: Any) -> XSettings:
    return XSettings(bearer_token=TOKEN, api_base_url=fake.base_url, **kw)


def _drain(source: XSource) -> list[SourceRecord]:
    out = []
    while not source._queue.empty():
        out.append(source._queue.get_nowait())
    return out


def _timeline(clock: FakeClock, start_id: int) -> tuple[list[dict[str, Any]], set[str]]:
    """An hour of posts: about the watched entries (which the rules must bring), and about the
    topics only (price, support, outage: which no rule may bring any more)."""
    texts = [
        ("Orbital Telecom is down again", True),
        ("@nimbus_help my bill doubled", True),
        ("Zephyr Net fibre is fast", True),
        ("new plan prices everywhere", False),
        ("waiting on hold with support", False),
        ("outage in my street, no signal", False),
    ]
    posts, wanted = [], set()
    for i in range(60):
        text, about_entry = texts[i % len(texts)]
        post_id = start_id + i
        posts.append(
            x_payload(post_id, f"{text} ({i})", created_at=clock.now() - timedelta(minutes=60 - i))
        )
        if about_entry:
            wanted.add(str(post_id))
    return posts, wanted


def test_a_gap_fill_packs_the_rules_and_reads_only_the_entries_posts(clock: FakeClock) -> None:
    watch = load_watch()
    rules = compile_rules(watch)
    queries = gap_fill_queries(watch, 512)
    assert all(len(q) <= 512 for q in queries)
    assert len(queries) < len(rules) / 2  # packed, where one search per rule was run before
    posts, wanted = _timeline(clock, 1_960_000_000_000_000_000)
    with FakeX(TOKEN, clock=clock.now, search_matches_query=True) as fake:
        fake.add_posts(posts)
        source = XSource(_x(fake), watch, clock=clock, sync_rules=False, audience=False)
        source.search = RecentSearch(xapi.client(source.settings), clock)
        source._fill(clock.now() - timedelta(minutes=61), clock.now())
        requests = fake.search_queries
    read = {json.loads(r.payload)["data"]["id"] for r in _drain(source) if r.kind == "post"}
    assert read == wanted  # nothing about topics alone
    # one request per query (no query here holds more than a page), each within X's limit
    assert len(requests) == len(queries) == source.last_gap["search_requests"]
    assert {q["query"] for q in requests} == set(queries)
    assert all(q["max_results"] == "100" for q in requests)
    assert source.last_gap["posts"] == len(wanted) == source.gap_fill_posts


def test_a_gap_that_would_cross_the_budget_is_not_filled_and_said(clock: FakeClock) -> None:
    watch = load_watch()
    posts, _ = _timeline(clock, 1_960_000_000_000_001_000)
    with FakeX(TOKEN, clock=clock.now, search_matches_query=True) as fake:
        fake.add_posts(posts)
        fake.set_counts(None, per_day=240_000)  # 10,000 posts in the hour of the gap
        source = XSource(
            _x(fake, monthly_budget_usd=20.0),  # 4,000 posts
            watch,
            clock=clock,
            sync_rules=False,
            audience=False,
        )
        source.search = RecentSearch(xapi.client(source.settings), clock)
        source._fill(clock.now() - timedelta(minutes=61), clock.now())
        searched, counted = len(fake.search_queries), len(fake.counts_queries)
    assert searched == 0 and counted == len(source.gap_queries)  # counting reads no post
    records = _drain(source)
    [alert] = [Alert.model_validate_json(r.payload) for r in records if r.kind == "alert"]
    assert alert.kind == "x_gap" and "4000 left in the budget" in alert.detail
    [usage] = [UsageSnapshot.model_validate_json(r.payload) for r in records if r.kind == "usage"]
    assert usage.reads_month == 0 and source.gaps_skipped == 1
    assert source.metrics()["gaps_skipped"] == 1

    # within the budget, the same gap is filled
    with FakeX(TOKEN, clock=clock.now, search_matches_query=True) as fake:
        fake.add_posts(posts)
        source = XSource(
            _x(fake, monthly_budget_usd=20.0), watch, clock=clock, sync_rules=False, audience=False
        )
        source.search = RecentSearch(xapi.client(source.settings), clock)
        source._fill(clock.now() - timedelta(minutes=61), clock.now())
    assert source.gaps_skipped == 0 and source.gap_fill_posts == 30


def _over_budget_watch() -> Any:
    from veille.watch import parse_watch

    return parse_watch(
        {
            "brands": [{"name": "Orbital", "accounts": ["orbital_care"]}],
            "sector": [{"name": "Telecoms", "keywords": {"all": ["telecom", "5G"]}}],
        }
    )


def test_rules_whose_forecast_alone_exceeds_the_budget_are_refused_until_accepted(
    clock: FakeClock,
) -> None:
    watch = _over_budget_watch()
    sector_rule = next(r for r in compile_rules(watch) if r.tag.startswith("sector:"))
    with FakeX(TOKEN, clock=clock.now, search_matches_query=True) as fake:
        fake.set_counts(None, per_day=100)  # the brand: 100 posts a day, $15 a month
        fake.set_counts(sector_rule.value, per_day=50_000)  # the sector: $7,600 a month
        source = XSource(_x(fake, monthly_budget_usd=100.0), watch, clock=clock, audience=False)
        with pytest.raises(xapi.XApiError, match=r"sector:Telecoms: ~50,000 posts/day") as err:
            source.start()
        assert "brand:Orbital" not in str(err.value) and "--yes" in str(err.value)
        assert fake.rules == []  # nothing added, nothing spent
        forecasts = [RuleForecast.model_validate_json(r.payload) for r in _drain(source)]
        by_tag = {f.tag: f for f in forecasts}
        assert by_tag["brand:Orbital"].posts_per_day == pytest.approx(100, rel=0.02)
        assert by_tag["brand:Orbital"].cost_month_usd == pytest.approx(15.2, rel=0.02)
        assert by_tag["sector:Telecoms"].over_budget and not by_tag["brand:Orbital"].over_budget
        source.close()

        env = {"X_BEARER_TOKEN": TOKEN, "X_API_BASE_URL": fake.base_url}
        env |= {"X_MONTHLY_BUDGET_USD": "100"}
        watch_file = _watch_file(watch)
        env["VEILLE_WATCH_FILE"] = str(watch_file)
        dry = run_veille("rules", "sync", "--dry-run", env=env, timeout=60)
        assert dry.returncode == 0, dry.stderr[-2000:]
        assert "sector:Telecoms" in dry.stdout and "over budget" in dry.stdout
        assert "would add" in dry.stdout and fake.rules == []
        refused = run_veille("rules", "sync", env=env, timeout=60)
        assert refused.returncode != 0 and "sector:Telecoms" in refused.stderr
        assert fake.rules == []
        accepted = run_veille("rules", "sync", "--yes", env=env, timeout=60)
        assert accepted.returncode == 0, accepted.stderr[-2000:]
        assert {r["tag"] for r in fake.rules} == {r.tag for r in compile_rules(watch)}

        # once accepted, the source starts: the rules are on X already
        again = XSource(_x(fake, monthly_budget_usd=100.0), watch, clock=clock, audience=False)
        again.start()
        again.close()


def _watch_file(watch: Any) -> Any:
    import tempfile
    from pathlib import Path

    import yaml

    path = Path(tempfile.mkdtemp()) / "watch.yaml"
    path.write_text(yaml.safe_dump(watch.model_dump(mode="json", exclude_defaults=True)))
    return path


def test_the_forecast_command_prints_each_rule_and_the_total(clock: FakeClock) -> None:
    with FakeX(TOKEN, search_matches_query=True) as fake:
        fake.set_counts(None, per_day=1000)
        env = {"X_BEARER_TOKEN": TOKEN, "X_API_BASE_URL": fake.base_url}
        env |= {"X_MONTHLY_BUDGET_USD": "50", "VEILLE_WATCH_FILE": str(_watch_file(load_watch()))}
        out = run_veille("rules", "--forecast", "--json", env=env, timeout=60)
        counted = len(fake.counts_queries)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    items = {(parse_rule_tag(r.tag) or ("", ""))[1] for r in compile_rules(load_watch())}
    assert {f["tag"].partition(":")[2] for f in doc["forecast"]} == items
    assert counted == len(doc["forecast"])  # one request per item
    assert doc["total"]["cost_month_usd"] == pytest.approx(
        sum(f["cost_month_usd"] for f in doc["forecast"]), abs=0.05
    )
    assert doc["budget_usd"] == 50.0


def test_a_failing_accounts_lookup_never_stops_the_stream(clock: FakeClock) -> None:
    watch = load_watch()
    handles = [a for _, e in watch.entries() for a in e.accounts]
    posts = [x_payload(1_960_000_000_000_002_000 + i, f"Orbital {i}") for i in range(5)]
    with FakeX(TOKEN, script=[Send(5)], keepalive_s=0.1, clock=clock.now) as fake:
        fake.add_posts(posts)
        fake.set_users({h: x_user(str(7100 + i), h) for i, h in enumerate(handles)})
        fake.fail_next("/2/users/by", 404, times=1)
        fake.fail_next("/2/users/by", 503, times=1)
        source = XSource(_x(fake, audience_interval_s=0.3), watch, clock=clock, sync_rules=False)
        source.start()
        try:
            kinds: list[str] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (
                "account" in kinds and kinds.count("post") == 5
            ):
                kinds += [r.kind for r in _drain(source)]
                time.sleep(0.05)
            assert source._error is None and not source.stopping
        finally:
            source.close()
    assert kinds.count("post") == 5 and "account" in kinds
    assert source.audience_failures == 2 and source.metrics()["audience_failures"] == 2


def test_x_own_usage_count_is_set_beside_the_meter(clock: FakeClock, tmp_path: Any) -> None:
    posts = [x_payload(1_960_000_000_000_003_000 + i, f"Orbital {i}") for i in range(7)]
    with FakeX(TOKEN, script=[Send(7)], keepalive_s=0.1, clock=clock.now) as fake:
        fake.add_posts(posts)
        source = XSource(
            _x(fake, billing_check_interval_s=0.3),
            load_watch(),
            clock=clock,
            sync_rules=False,
            audience=False,
            state_dir=tmp_path,
        )
        source.start()
        try:
            readings: list[UsageSnapshot] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                u.x_reported_day == 7 and u.reads_day == 7 for u in readings
            ):
                for r in _drain(source):
                    if r.kind == "usage":
                        readings.append(UsageSnapshot.model_validate_json(r.payload))
                time.sleep(0.05)
        finally:
            source.close()
        fake_day = clock.now().date()
        assert fake.usage_by_day[fake_day] == 7
    checked = [u for u in readings if u.x_reported_day is not None]
    assert checked and checked[-1].x_reported_day == checked[-1].reads_day == 7
    assert checked[-1].x_checked_at is not None
    # the next run's readings keep X's count of the day
    again = XSource(XSettings(bearer_token="t"), load_watch(), state_dir=tmp_path)
    again.meter.load()
    assert again.meter.snapshot(now=clock.now()).x_reported_day == 7
