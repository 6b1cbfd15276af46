"""Scenario acceptance: simulated traffic through the real enrichment, the alert detectors, the
ClickHouse sink (chDB) and the named queries — everything `veille up` runs except Kafka, which
the end-to-end tests cover."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.synthetic import SyntheticSource
from processors.alerts.agent import observations
from processors.alerts.crisis import CrisisDetector
from processors.alerts.impersonation import ImpersonationDetector
from processors.enrich.enricher import Enricher
from sinks import queries
from sinks.clickhouse import ClickHouseSink
from veille.models import Alert, EnrichedPost, parse_stream_payload
from veille.watch import load_watch

START = datetime(2026, 1, 5, tzinfo=UTC)
BATCH = 500


def _stream(
    scenario: str, duration: timedelta, volume: float = 30.0, seed: int = 3
) -> tuple[SyntheticSource, Iterator[list[EnrichedPost]]]:
    """The scenario's posts, enriched, in batches as the processor takes them."""
    watch = load_watch()
    src = SyntheticSource(
        watch,
        rate=None,
        seed=seed,
        start_time=START,
        scenario=scenario,
        volume=volume,
        duration=duration,
    )
    enricher = Enricher(watch).load()

    def batches() -> Iterator[list[EnrichedPost]]:
        chunk = []
        for payload in src.payloads():
            chunk.append(parse_stream_payload(payload, source="synthetic"))
            if len(chunk) == BATCH:
                yield enricher.enrich(chunk)
                chunk = []
        if chunk:
            yield enricher.enrich(chunk)

    return src, batches()


def _alerts(batches: Iterator[list[EnrichedPost]]) -> tuple[list[Alert], list[Alert]]:
    """(crisis alerts, impersonation alerts) as the alert agents raise them."""
    crisis = CrisisDetector()
    imp = ImpersonationDetector(load_watch())
    raised, impersonators = [], []
    for batch in batches:
        for post in batch:
            for ob in observations(post):
                crisis.observe(ob)
            a = imp.check(post.author, post.created_at)
            if a is not None:
                impersonators.append(a)
        raised += crisis.evaluate()
    return raised, impersonators


def test_calm_day_raises_no_alert() -> None:
    _, batches = _stream("calm", timedelta(days=1))
    raised, impersonators = _alerts(batches)
    assert raised == [] and impersonators == []


def test_crisis_raises_one_alert_for_the_brand_within_two_minutes() -> None:
    src, batches = _stream("crisis", timedelta(hours=15, minutes=30))
    burst = src.scenario_info().event("crisis")
    raised, _ = _alerts(batches)
    keys = {a.key for a in raised}
    assert len(keys) == 1, [(a.key, a.data["at"]) for a in raised]
    first = raised[0]
    assert first.entry == burst.entry == "Orbital Telecom"
    assert timedelta(0) <= first.created_at - burst.start <= timedelta(minutes=2)
    last = raised[-1]
    assert last.kind == "crisis" and last.severity == "critical"
    assert last.data["share_negative"] > 0.5
    assert set(last.data["top_terms"]) & {t.lower() for t in burst.terms}
    assert last.data["samples"] and "posts in the last minute" in last.detail


def test_impersonator_raises_one_alert_and_officials_none() -> None:
    src, batches = _stream("impersonation", timedelta(hours=13), volume=15.0)
    fake = src.scenario_info().event("impersonation").account
    assert fake is not None
    raised, impersonators = _alerts(batches)
    assert raised == []
    assert [a.data["username"] for a in impersonators] == [fake.username]
    assert impersonators[0].entry == "Orbital Telecom"


@pytest.fixture
def stored(ch: Any, clickhouse: Any) -> Any:
    def store(scenario: str, duration: timedelta, volume: float) -> SyntheticSource:
        src, batches = _stream(scenario, duration, volume=volume)
        sink = ClickHouseSink(clickhouse, client=ch)
        sink.start()
        for batch in batches:
            for post in batch:
                sink.add(post)
            sink.flush()
        return src

    return store


def test_care_queue_is_exactly_the_unanswered_asks(stored: Any, ch: Any) -> None:
    src = stored("care", timedelta(hours=22), 6.0)
    ledger = src.care_ledger
    _, rows = queries.run(ch, "care_queue", {"limit": "100000"})
    queue = {r[0] for r in rows}
    intents = dict(
        ch.query(
            "SELECT toString(id), intent FROM posts FINAL WHERE notEmpty(addressed)"
        ).result_rows
    )
    asks = {i for i, intent in intents.items() if intent in ("question", "complaint", "request")}
    expected = ledger.open() & asks
    assert queue == expected
    assert len(queue) > 20 and len(ledger.answered) > 20

    # each answered ask leaves the queue when the official reply is posted, not before
    replies = dict(
        ch.query(
            "SELECT toString(replied_to_id), min(created_at) FROM posts FINAL "
            "WHERE author_entry != '' AND kind = 'reply' GROUP BY replied_to_id"
        ).result_rows
    )
    checked = 0
    for post_id in sorted(set(ledger.answered) & asks)[:5]:
        at = replies[post_id]
        before = {
            r[0]
            for r in queries.run(
                ch,
                "care_queue",
                {"limit": "100000", "as_of": (at - timedelta(seconds=1)).isoformat()},
            )[1]
        }
        after = {
            r[0]
            for r in queries.run(ch, "care_queue", {"limit": "100000", "as_of": at.isoformat()})[1]
        }
        assert post_id in before and post_id not in after
        checked += 1
    assert checked == 5


def test_emerging_terms_put_the_trending_hashtag_first(stored: Any, ch: Any) -> None:
    src = stored("trending", timedelta(hours=23), 6.0)
    hashtag = src.scenario_info().event("trending").terms[0]
    _, rows = queries.run(ch, "emerging_terms", {"limit": "5"})
    assert rows[0][0] == hashtag.lower(), json.dumps(rows)
