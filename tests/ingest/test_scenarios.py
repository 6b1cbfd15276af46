"""Scenarios of the synthetic source: event time, the daily cycle, and each scenario's events.

Each scenario is generated once (module fixtures), at a reduced background volume where only
ratios matter, so the whole file runs in seconds.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher
from importlib import resources
from pathlib import Path

import pytest

from ingest.synthetic import (
    DEFAULT_VOLUME,
    SCENARIOS,
    ScenarioInfo,
    SyntheticPost,
    SyntheticSource,
)
from veille.models import Post, parse_stream_payload
from veille.text import fold
from veille.watch import WatchConfig, load_watch, parse_watch

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, midnight UTC
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


@dataclass
class Run:
    """A scenario's posts; `parsed` are those of `sample` (every post, or a tenth of a big run)."""

    source: SyntheticSource
    posts: list[SyntheticPost]
    sample: list[SyntheticPost]
    parsed: list[Post]

    @property
    def info(self) -> ScenarioInfo:
        return self.source.scenario_info()

    def pairs(self) -> zip[tuple[SyntheticPost, Post]]:
        return zip(self.sample, self.parsed, strict=True)


@pytest.fixture(scope="module")
def watch() -> WatchConfig:
    return load_watch(Path(str(resources.files("veille") / "data" / "watch.yaml")))


# scenario -> (background volume, simulated duration)
PLANS: dict[str, tuple[float, timedelta]] = {
    "calm": (DEFAULT_VOLUME, DAY),
    "crisis": (6.0, timedelta(hours=16)),
    "impersonation": (15.0, timedelta(hours=13, minutes=30)),
    "care": (6.0, DAY),
    "trending": (6.0, DAY),
}
_RUNS: dict[str, Run] = {}


def run_of(watch: WatchConfig, name: str) -> Run:
    if name not in _RUNS:
        volume, duration = PLANS[name]
        src = SyntheticSource(
            watch,
            rate=None,
            seed=4,
            start_time=START,
            scenario=name,
            volume=volume,
            duration=duration,
        )
        posts = list(src.posts())
        sample = posts[::10] if name == "calm" else posts
        parsed = [parse_stream_payload(p.payload, source="synthetic") for p in sample]
        _RUNS[name] = Run(src, posts, sample, parsed)
    return _RUNS[name]


def per_minute(posts: list[SyntheticPost]) -> Counter[datetime]:
    return Counter(p.created_at.replace(second=0, microsecond=0) for p in posts)


def officials(watch: WatchConfig) -> set[str]:
    return {fold(a) for _, e in watch.entries() for a in e.accounts}


# --- every scenario -------------------------------------------------------------------------


def test_scenario_names() -> None:
    assert list(SCENARIOS) == ["calm", "crisis", "impersonation", "care", "trending"]


@pytest.mark.parametrize("name", list(PLANS))
def test_every_scenario_makes_valid_payloads_in_event_time(watch: WatchConfig, name: str) -> None:
    run = run_of(watch, name)
    assert len(run.parsed) > 1000
    for g, p in run.pairs():
        assert p.created_at == g.created_at.replace(microsecond=0)
        assert (p.in_reply_to_user_id is None) == (p.in_reply_to_username is None)  # included
        assert p.rule_tags
    ids = [int(p.id) for p in run.parsed]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    posts = run.posts
    times = [p.created_at for p in posts]
    assert times == sorted(times)
    duration = PLANS[name][1]
    assert START <= times[0] < START + MINUTE and START + duration - MINUTE < times[-1]
    assert times[-1] < START + duration
    expected = run.info.expected_posts(START, START + duration)
    answers = sum(p.kind == "official_reply" for p in posts) if name == "care" else 0
    assert abs(len(posts) - answers - expected) < 0.04 * expected


@pytest.mark.parametrize("name", list(PLANS))
def test_same_seed_same_bytes(watch: WatchConfig, name: str) -> None:
    def make(seed: int) -> list[bytes]:
        src = SyntheticSource(
            watch, seed=seed, start_time=START, scenario=name, volume=1.0, duration=DAY
        )
        return src.generate(100_000)

    a = make(9)
    assert a == make(9)
    assert not set(a) & set(make(10))
    events = [e for e in SyntheticSource(watch, scenario=name).scenario_info().events]
    assert len(events) == (0 if name == "calm" else 1)


def test_scenario_info_is_known_before_generation(watch: WatchConfig) -> None:
    src = SyntheticSource(watch, scenario="crisis", start_time=START)
    info = src.scenario_info()
    assert info.name == "crisis" and info.start_time == START and info.volume == DEFAULT_VOLUME
    crisis = info.event("crisis")
    assert crisis.entry == watch.brands[0].name == "Orbital Telecom"
    assert crisis.start == START + timedelta(hours=14)
    assert crisis.end == crisis.start + timedelta(minutes=45)
    assert "#OrbitalDown" in crisis.terms
    with pytest.raises(KeyError):
        info.event("trending")
    as_json = json.loads(json.dumps(info.to_dict()))
    assert as_json["events"][0]["start"] == "2026-01-05T14:00:00Z"
    assert len(as_json["daily_profile"]) == 24
    assert SyntheticSource(watch).scenario_info().events == ()


def test_scenarios_need_what_they_act_on() -> None:
    sector_only = parse_watch({"sector": [{"name": "Heat", "keywords": ["heatwave"]}]})
    for name in ("crisis", "impersonation", "care"):
        with pytest.raises(ValueError, match="brand"):
            SyntheticSource(sector_only, scenario=name)
    no_accounts = parse_watch({"brands": [{"name": "Acme Energy"}]})
    with pytest.raises(ValueError, match="official account"):
        SyntheticSource(no_accounts, scenario="impersonation")
    trending = SyntheticSource(
        sector_only, scenario="trending", start_time=START, volume=2.0, duration=DAY
    )
    tag, term = trending.scenario_info().event("trending").terms
    assert tag.startswith("#Heat") and term.startswith("Heat ")
    made = [parse_stream_payload(p.payload) for p in trending.posts() if p.event == "trending"]
    assert made and all(p.rule_tags == ("sector:Heat",) for p in made)
    assert sum(term in p.text for p in made) > 0.5 * len(made)


# --- calm: event time and the daily cycle ---------------------------------------------------


def test_calm_day_has_the_volume_and_the_daily_cycle(watch: WatchConfig) -> None:
    posts = run_of(watch, "calm").posts
    assert 41_000 < len(posts) < 45_500  # 30 a simulated minute on average
    hours = Counter(p.created_at.hour for p in posts)
    night = statistics.mean(hours[h] for h in range(1, 6))
    day = statistics.mean(hours[h] for h in range(10, 21))
    assert night < 0.3 * day
    assert max(hours.values()) > 1.3 * len(posts) / 24
    assert all(p.event is None for p in posts)
    assert {p.kind for p in posts} == {"original", "reply", "official_reply", "retweet", "quote"}


def test_every_day_has_the_same_shape_with_mild_noise(watch: WatchConfig) -> None:
    src = SyntheticSource(watch, rate=None, seed=1, start_time=START, volume=5.0, duration=2 * DAY)
    posts = list(src.posts())
    days = [Counter(p.created_at.hour for p in posts if p.created_at.day == d) for d in (5, 6)]
    one, two = ([c[h] for h in range(24)] for c in days)
    assert statistics.correlation(one, two) > 0.95
    assert one != two
    info = src.scenario_info()
    noon = [info.background_per_minute(START + timedelta(days=d, hours=12)) for d in (0, 1)]
    assert noon[0] != noon[1] and abs(noon[0] - noon[1]) < 0.25 * noon[0]
    assert info.background_per_minute(START + timedelta(hours=3)) < 0.2 * noon[0]


# --- crisis -----------------------------------------------------------------------------------


def test_crisis_burst_is_negative_about_the_first_brand(watch: WatchConfig) -> None:
    run = run_of(watch, "crisis")
    crisis = run.info.event("crisis")
    brand = watch.brands[0].name
    assert crisis.end is not None
    negative = per_minute(
        [p for p in run.posts if p.sentiment == "negative" and brand in p.entries]
    )
    baseline = [negative[crisis.start - MINUTE * i] for i in range(1, 6 * 60)]
    usual = statistics.mean(baseline)
    assert usual > 0.3
    burst = [negative[crisis.start + MINUTE * i] for i in range(30)]
    assert min(burst) > 5 * max(3.0, usual)
    assert statistics.mean(burst) > 15 * usual
    # the brand's whole volume: several times its usual per-minute volume
    volume = per_minute([p for p in run.posts if brand in p.entries])
    usual_volume = statistics.mean(volume[crisis.start - MINUTE * i] for i in range(1, 6 * 60))
    assert statistics.mean(volume[crisis.start + MINUTE * i] for i in range(30)) > 5 * usual_volume
    assert crisis.details["factor"] == 8.0


def test_crisis_window_matches_the_data(watch: WatchConfig) -> None:
    run = run_of(watch, "crisis")
    crisis = run.info.event("crisis")
    assert crisis.end is not None
    made = [p for p in run.posts if p.event == "crisis"]
    assert made[0].created_at < crisis.start + MINUTE
    assert all(crisis.start <= p.created_at < crisis.end for p in made)
    assert all(p.sentiment == "negative" and crisis.entry in p.entries for p in made)
    assert {p.kind for p in made} == {"original", "reply", "retweet"}
    tags = {fold(t.lstrip("#")) for t in crisis.terms}
    tagged = [
        p for g, p in run.pairs() if g.event == "crisis" and tags & set(map(fold, p.hashtags))
    ]
    assert len(tagged) > 0.6 * len(made)
    before = [p for p in run.parsed if p.created_at < crisis.start]
    assert not any(tags & set(map(fold, p.hashtags)) for p in before)
    expected = crisis.per_minute * 37.5  # full for 30 minutes, fading over 15
    assert 0.85 * expected < len(made) < 1.15 * expected


# --- impersonation ----------------------------------------------------------------------------


def _skeleton(handle: str) -> str:
    """A handle without its look-alike tricks: 0->o, 1/I->l, rn->m, lower case."""
    return handle.replace("0", "o").replace("1", "l").replace("I", "l").lower().replace("rn", "m")


def test_impostor_looks_like_the_care_account_and_phishes(watch: WatchConfig) -> None:
    run = run_of(watch, "impersonation")
    event = run.info.event("impersonation")
    account = event.account
    assert account is not None and event.end is not None
    brand = watch.brands[0]
    assert account.imitates in brand.accounts
    assert fold(account.username) not in officials(watch)
    similar = SequenceMatcher(None, _skeleton(account.username), account.imitates).ratio()
    assert similar > 0.6 or _skeleton(account.username).startswith(brand.accounts[0])
    assert timedelta(days=1) < event.start - account.created_at < timedelta(days=10)
    by_id = {p.id: p for p in run.parsed}
    posts = [p for p in run.parsed if p.author.id == account.id]
    assert 10 < len(posts) < 80
    for p in posts:
        assert event.start <= p.created_at < event.end
        assert p.author.username == account.username and not p.author.verified
        assert p.author.verified_type == "none" and p.author.followers_count < 100
        assert p.author.created_at == account.created_at
        assert re.search(r"DM|privé|privado", p.text), p.text
        parent = by_id[p.references[0].id]
        assert p.in_reply_to_user_id == parent.author.id
        assert p.conversation_id == parent.conversation_id
        assert set(map(fold, parent.mentions)) & {fold(a) for a in brand.accounts}
        assert f"brand:{brand.name}" in p.rule_tags
    assert [g.event for g in run.posts].count("impersonation") == len(posts)


def test_official_accounts_keep_posting_and_impostor_is_only_in_its_scenario(
    watch: WatchConfig,
) -> None:
    run = run_of(watch, "impersonation")
    event = run.info.event("impersonation")
    assert event.account is not None and event.end is not None
    official_posts = [p for p in run.parsed if fold(p.author.username) in officials(watch)]
    assert {fold(p.author.username) for p in official_posts} <= officials(watch)
    during = [p for p in official_posts if event.start <= p.created_at < event.end]
    assert len(during) > 20
    assert all(p.author.verified_type == "business" for p in official_posts)
    handle = f'"username":"{event.account.username}"'.encode()
    for name in PLANS:
        payloads = [p.payload for p in run_of(watch, name).posts]
        seen = sum(handle in p for p in payloads)
        assert (seen > 0) == (name == "impersonation"), name


# --- care -------------------------------------------------------------------------------------


def test_care_ledger_matches_the_replies(watch: WatchConfig) -> None:
    run = run_of(watch, "care")
    ledger = run.source.care_ledger
    official = officials(watch)
    by_id = {p.id: p for p in run.parsed}
    replies = {}
    for g, p in run.pairs():
        if fold(p.author.username) in official and p.reference("replied_to"):
            parent = by_id[p.references[0].id]
            if fold(parent.author.username) not in official:
                replies[parent.id] = p
                assert g.kind == "official_reply"
    assert {k: v.id for k, v in replies.items()} == ledger.answered
    addressed = {
        p.id
        for p in run.parsed
        if not p.is_retweet
        and fold(p.author.username) not in official
        and set(map(fold, p.mentions)) & official
    }
    assert ledger.addressed() == addressed
    assert not set(ledger.answered) & set(ledger.unanswered)
    assert not set(ledger.awaiting) & (set(ledger.answered) | set(ledger.unanswered))
    assert ledger.open() == addressed - set(ledger.answered)
    assert len(ledger.answered) > 1000 and len(ledger.unanswered) > 500


def test_care_replies_are_threaded_and_come_after_realistic_delays(watch: WatchConfig) -> None:
    run = run_of(watch, "care")
    ledger = run.source.care_ledger
    by_id = {p.id: p for p in run.parsed}
    delays = []
    for question, answer in ledger.answered.items():
        q, a = by_id[question], by_id[answer]
        assert a.in_reply_to_user_id == q.author.id
        assert a.conversation_id == q.conversation_id
        assert a.reference("replied_to") is not None
        assert a.text.startswith(f"@{q.author.username} ")
        assert a.author.verified_type == "business"
        assert 7 <= a.created_at.hour < 22  # office hours
        delays.append((a.created_at - q.created_at).total_seconds())
    assert min(delays) >= 59 and max(delays) < 16 * 3600
    assert 5 * 60 < statistics.median(delays) < 60 * 60
    for post_id, due in ledger.awaiting.items():
        assert due >= by_id[post_id].created_at
    wave = run.info.event("care")
    in_wave = [p for p in run.posts if p.event == "care" and p.kind == "original"]
    assert wave.end is not None
    assert all(wave.start <= p.created_at < wave.end for p in in_wave)
    assert len(in_wave) > 0.8 * wave.per_minute * 12 * 60


# --- trending ---------------------------------------------------------------------------------


def test_trending_hashtag_is_new_then_frequent(watch: WatchConfig) -> None:
    run = run_of(watch, "trending")
    event = run.info.event("trending")
    tag, term = event.terms
    assert tag == "#" + term.replace(" ", "")
    assert event.end is None and event.full == event.start + timedelta(hours=7)

    def has_tag(p: Post) -> bool:
        return fold(tag[1:]) in map(fold, p.hashtags) or fold(term) in fold(p.text)

    before = [p for p in run.parsed if p.created_at < event.start]
    assert len(before) > 3000 and not any(has_tag(p) for p in before)
    hourly = Counter(p.created_at.hour for p in run.parsed if has_tag(p))
    ramp = [hourly[h] for h in range(16, 24, 2)]
    assert ramp == sorted(ramp) and ramp[0] < ramp[-1] / 5
    last_hour = [p for p in run.parsed if p.created_at >= START + timedelta(hours=23)]
    assert sum(has_tag(p) for p in last_hour) > 0.2 * len(last_hour)
    top = Counter(fold(h) for p in last_hour for h in p.hashtags).most_common(1)[0][0]
    assert top == fold(tag[1:])
