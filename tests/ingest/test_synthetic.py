"""The synthetic source and the bundled NDJSON sample: valid X payloads, realistic, reproducible."""

from __future__ import annotations

import json
import re
import threading
import time
import tomllib
from collections import Counter
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import ingest
from ingest import synthetic
from ingest.base import Source
from ingest.synthetic import SyntheticPost, SyntheticSource, payload, phrases
from veille.models import Post, parse_stream_payload
from veille.text import CASHTAG_RE, HASHTAG_RE, MENTION_RE, fold
from veille.watch import WatchConfig, WatchMatcher, load_watch, parse_watch

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
N = 5000
SAMPLE = Path(ingest.__file__).parent / "samples" / "sample.ndjson"


@pytest.fixture(scope="module")
def watch() -> WatchConfig:
    return load_watch(Path(str(resources.files("veille") / "data" / "watch.yaml")))


@pytest.fixture(scope="module")
def generated(watch: WatchConfig) -> list[SyntheticPost]:
    src = SyntheticSource(watch, rate=None, seed=7, start_time=START)
    return list(islice(src.posts(), N))


@pytest.fixture(scope="module")
def parsed(generated: list[SyntheticPost]) -> list[Post]:
    return [parse_stream_payload(p.payload, source="synthetic") for p in generated]


def share(counter: Counter[Any], key: str, total: int = N) -> float:
    return counter[key] / total


# --- validity -------------------------------------------------------------------------------


def test_every_payload_parses(parsed: list[Post]) -> None:
    assert len(parsed) == N
    assert all(p.text and p.author.username for p in parsed)


def test_source_contract(watch: WatchConfig) -> None:
    src = SyntheticSource(watch)
    assert isinstance(src, Source)
    assert src.name == "synthetic"


def test_ids_are_unique_snowflakes_in_event_time(watch: WatchConfig) -> None:
    paced = SyntheticSource(watch, rate=10, seed=3, start_time=START).generate(300)
    # event time follows the simulated traffic, not the wall-clock rate
    assert paced == SyntheticSource(watch, rate=None, seed=3, start_time=START).generate(300)
    posts = [parse_stream_payload(p) for p in paced]
    ids = [int(p.id) for p in posts]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(18 <= len(p.id) <= 19 for p in posts)
    times = [p.created_at for p in posts]
    assert times == sorted(times)
    assert START <= times[0] < START + timedelta(minutes=1)
    # ~40 posts per simulated minute at 9 a.m.: 300 posts take a few simulated minutes
    assert timedelta(minutes=4) < times[-1] - START < timedelta(minutes=12)


def test_entity_offsets_point_at_the_text(generated: list[SyntheticPost]) -> None:
    checked = Counter[str]()
    for p in generated:
        data = json.loads(p.payload)["data"]
        for key, prefix, field in (
            ("hashtags", "#", "tag"),
            ("cashtags", "$", "tag"),
            ("mentions", "@", "username"),
        ):
            for e in data.get("entities", {}).get(key, ()):
                assert fold(data["text"][e["start"] : e["end"]]) == fold(prefix + e[field])
                checked[key] += 1
        for e in data.get("entities", {}).get("urls", ()):
            assert data["text"][e["start"] : e["end"]] == e["url"]
            assert e["expanded_url"].startswith("https://")
            checked["urls"] += 1
    assert all(checked[k] > 50 for k in ("hashtags", "cashtags", "mentions", "urls")), checked


@given(st.text(alphabet="#@$_aZ9é²٣.-\u0301 \n", max_size=40))
@hypothesis_settings(max_examples=3000, deadline=None, database=None)
def test_entity_patterns_without_look_behind_find_what_the_full_ones_do(text: str) -> None:
    """The generator's patterns (`payload._HASHTAG`, ...) leave the look-behind to `_free`."""
    for full, fast, lead in (
        (HASHTAG_RE, payload._HASHTAG, "#"),
        (MENTION_RE, payload._MENTION, "@"),
        (CASHTAG_RE, payload._CASHTAG, "$"),
    ):
        assert fast.pattern != full.pattern
        expected = [(m.start(), m.end(), m.group(1)) for m in full.finditer(text)]
        found = [
            (m.start(), m.end(), m.group(1))
            for m in fast.finditer(text)
            if payload._free(text, m.start(), lead)
        ]
        assert found == expected


def test_included_users_cover_authors_references_and_mentions(
    generated: list[SyntheticPost],
) -> None:
    for p in generated:
        raw = json.loads(p.payload)
        users = {u["id"] for u in raw["includes"]["users"]}
        data = raw["data"]
        assert data["author_id"] in users
        assert data.get("in_reply_to_user_id", data["author_id"]) in users
        for m in data.get("entities", {}).get("mentions", ()):
            assert m["id"] in users
        for t in raw["includes"].get("tweets", ()):
            assert t["author_id"] in users


# --- reproducibility ------------------------------------------------------------------------


def test_same_seed_same_bytes(watch: WatchConfig) -> None:
    a = SyntheticSource(watch, seed=11, start_time=START).generate(500)
    b = SyntheticSource(watch, seed=11, start_time=START).generate(500)
    assert a == b
    src = SyntheticSource(watch, seed=11, start_time=START)
    assert src.generate(500) == src.generate(500)  # each iteration starts again


def test_different_seeds_differ(watch: WatchConfig) -> None:
    a = SyntheticSource(watch, seed=1, start_time=START).generate(200)
    b = SyntheticSource(watch, seed=2, start_time=START).generate(200)
    assert len(set(a) & set(b)) == 0
    texts_a = {parse_stream_payload(p).text for p in a}
    texts_b = {parse_stream_payload(p).text for p in b}
    assert len(texts_a & texts_b) < 20


def test_text_is_varied(parsed: list[Post]) -> None:
    originals = [p.text for p in parsed if not p.is_retweet]
    assert len(set(originals)) > 0.9 * len(originals)


# --- content --------------------------------------------------------------------------------


def test_languages(generated: list[SyntheticPost], parsed: list[Post]) -> None:
    langs = Counter(p.x_lang or "" for p in parsed)
    assert share(langs, "fr") + share(langs, "en") > 0.6
    for lang in ("fr", "en", "es", "de"):
        assert share(langs, lang) > 0.05, langs
    assert 0 < share(langs, "und") < 0.05
    assert [p.lang for p in generated] == [p.x_lang for p in parsed]


def test_kinds_in_reasonable_proportions(
    generated: list[SyntheticPost], parsed: list[Post]
) -> None:
    kinds = Counter(p.kind for p in generated)
    assert share(kinds, "original") > 0.4
    assert 0.10 < share(kinds, "retweet") < 0.30
    assert 0.05 < share(kinds, "reply") < 0.20
    assert 0.03 < share(kinds, "official_reply") < 0.12
    assert 0.03 < share(kinds, "quote") < 0.10
    assert sum(p.is_retweet for p in parsed) == kinds["retweet"]
    assert sum(p.is_quote for p in parsed) == kinds["quote"]
    assert sum(p.is_reply for p in parsed) == kinds["reply"] + kinds["official_reply"]


def test_intents_and_sentiment(generated: list[SyntheticPost]) -> None:
    own = [p for p in generated if p.kind in ("original", "reply", "quote")]
    intents = Counter(p.intent for p in own)
    for intent in ("question", "complaint", "praise", "request", "other"):
        assert share(intents, intent, len(own)) > 0.05, intents
    sentiments = Counter(p.sentiment for p in generated)
    assert share(sentiments, "negative") > 0.1
    assert share(sentiments, "positive") > 0.05


def test_references_are_resolved(generated: list[SyntheticPost], parsed: list[Post]) -> None:
    texts = {
        p.id: json.loads(g.payload)["data"]["text"] for g, p in zip(generated, parsed, strict=True)
    }
    for p in parsed:
        for ref in p.references:
            assert ref.author_username and ref.text, p
            assert texts.get(ref.id, ref.text) == ref.text  # the same post it referenced
        rt = p.reference("retweeted")
        if rt is not None:
            assert p.text.startswith(f"RT @{rt.author_username}: ")
            assert p.conversation_id == p.id
        reply = p.reference("replied_to")
        if reply is not None:
            assert p.in_reply_to_username == reply.author_username
            assert p.text.startswith(f"@{reply.author_username} ")


def test_official_accounts_answer_customers(
    watch: WatchConfig, generated: list[SyntheticPost], parsed: list[Post]
) -> None:
    official = {fold(a) for _, e in watch.entries() for a in e.accounts}
    by_id = {p.id: p for p in parsed}
    answers = [p for g, p in zip(generated, parsed, strict=True) if g.kind == "official_reply"]
    assert answers
    for p in answers:
        assert fold(p.author.username) in official
        assert p.author.verified_type == "business"
        assert p.in_reply_to_username and fold(p.in_reply_to_username) not in official
        parent = by_id.get(p.references[0].id)
        if parent is not None:
            assert p.conversation_id == parent.conversation_id
            assert parent.created_at <= p.created_at
            assert set(parent.mentions) & {a for _, e in watch.entries() for a in e.accounts}


def test_watched_entries_and_topics_are_mentioned(
    watch: WatchConfig, generated: list[SyntheticPost], parsed: list[Post]
) -> None:
    assert all(p.rule_tags for p in parsed)
    entries = Counter(e for g in generated for e in g.entries)
    for _, e in watch.entries():
        assert entries[e.name] > 0.02 * N, entries
    topics = Counter(t for g in generated for t in g.topics)
    assert set(topics) == set(watch.topics)
    matcher = WatchMatcher(watch)
    found = 0
    for g, p in zip(generated, parsed, strict=True):
        matched = matcher.match_entries(
            fold(p.text),
            hashtags=p.hashtags,
            mentions=p.mentions,
            author=p.author.username,
            reply_to=p.in_reply_to_username,
        )
        found += set(g.entries) <= {m.name for m in matched}
    assert found > 0.9 * N


def test_author_population_is_heavy_tailed(parsed: list[Post]) -> None:
    authors = {p.author.id: p.author for p in parsed}
    assert len(authors) > 500
    followers = sorted(a.followers_count for a in authors.values())
    assert followers[-1] > 100 * followers[len(followers) // 2]
    names: dict[str, str] = {}
    for p in parsed:
        assert names.setdefault(p.author.id, p.author.username) == p.author.username


def test_uses_the_config_not_a_company_it_knows() -> None:
    package = Path(synthetic.__file__).parent
    modules = [*package.glob("*.py"), *package.glob("data/**/*.json")]
    assert len(modules) > 10 and package / "data" / "phrases" / "fr.json" in modules
    for module in modules:
        assert "orbital" not in module.read_text(encoding="utf-8").lower(), module
    cfg = parse_watch(
        {
            "languages": ["en", "de"],
            "brands": [{"name": "Acme Energy", "aliases": ["Acme"], "accounts": ["acme_help"]}],
            "topics": {"bills": {"en": ["invoice"], "de": ["Abrechnung"]}},
        }
    )
    posts = [
        parse_stream_payload(p)
        for p in SyntheticSource(cfg, seed=5, start_time=START).generate(1000)
    ]
    assert {p.x_lang for p in posts} <= {"en", "de", "und"}
    assert all(p.rule_tags for p in posts)
    assert sum("Acme" in p.text or "acme_help" in p.mentions for p in posts) > 900
    assert not any(t.startswith("topic:") for p in posts for t in p.rule_tags)  # no such rule


def test_sector_only_config() -> None:
    cfg = parse_watch(
        {
            "sector": [{"name": "Heat", "keywords": {"all": ["heatwave"], "de": ["Hitzewelle"]}}],
            "topics": {"alerts": {"all": ["red alert"]}},
        }
    )
    made = SyntheticSource(cfg, seed=5, start_time=START).generate(300)
    posts = [parse_stream_payload(p) for p in made]
    assert all(p.rule_tags == ("sector:Heat",) for p in posts)
    matcher = WatchMatcher(cfg)
    for p in posts:
        if not p.is_retweet and p.x_lang in ("en", "de"):
            got = matcher.match_entries(fold(p.text), lang=p.x_lang)
            assert [(e.name, e.kind) for e in got] == [("Heat", "sector")], p.text


def test_sector_posts_are_about_the_sector(
    watch: WatchConfig, generated: list[SyntheticPost], parsed: list[Post]
) -> None:
    (item,) = watch.sector
    about = [(g, p) for g, p in zip(generated, parsed, strict=True) if item.name in g.entries]
    assert 0.02 * N < len(about) < 0.15 * N
    assert all(f"sector:{item.name}" in p.rule_tags for _, p in about)
    matcher = WatchMatcher(watch)
    found = sum(
        item.name in {e.name for e in matcher.match_entries(fold(p.text), lang=p.x_lang)}
        for _, p in about
    )
    assert found > 0.8 * len(about)  # from the text alone, not only from the rule tag


def test_long_posts_use_note_tweet(generated: list[SyntheticPost], parsed: list[Post]) -> None:
    long = [
        (g, p)
        for g, p in zip(generated, parsed, strict=True)
        if b'"note_tweet"' in g.payload and g.kind == "original"
    ]
    assert long
    for g, p in long:
        data = json.loads(g.payload)["data"]
        assert len(data["text"]) <= 280 < len(p.text) == len(data["note_tweet"]["text"])


# --- phrases --------------------------------------------------------------------------------

# the fields a template fills from the entry, the post or the event rather than from a list
NON_LIST_FIELDS = {"b", "a", "o", "m", "u", "sig", "num", "pct", "year", "kw", "Kw", "p", "tag"}


def test_phrases_are_package_data_read_once() -> None:
    langs = phrases.phrases()
    assert phrases.phrases() is langs and phrases.event_phrases() is phrases.event_phrases()
    assert tuple(langs) == phrases.LANGUAGES == synthetic.LANGUAGES == ("fr", "en", "es", "de")
    folder = resources.files("ingest.synthetic") / "data" / "phrases"
    assert sorted(e.name for e in folder.iterdir()) == sorted(f"{x}.json" for x in langs)
    # every file is shipped in the package (setuptools package-data globs)
    shipped = tomllib.loads((Path(ingest.__file__).parents[1] / "pyproject.toml").read_text())
    globs = shipped["tool"]["setuptools"]["package-data"]["ingest.synthetic"]
    package = Path(synthetic.__file__).parent
    for path in (package / "data").rglob("*"):
        if path.is_file():
            name = path.relative_to(package).as_posix()
            assert any(fnmatch(name, g) for g in globs), f"{name} is not package data"


def test_every_language_has_the_same_kinds_of_phrase_and_known_fields() -> None:
    langs = phrases.phrases()
    events = phrases.event_phrases()
    kinds = set(langs["en"])
    assert {"question", "complaint", "praise", "media", "first", "last", "bio"} <= kinds
    for lang, p in langs.items():
        assert set(p) == kinds, lang
        assert all(isinstance(v, tuple) and v for v in p.values()), lang
        assert all(isinstance(h, str) and isinstance(n, str) for h, n in p["media"])
        templates = [t for k, v in p.items() if k != "media" for t in v]
        templates += [
            *events.crisis[lang],
            *events.phish[lang],
            *(t for _, t in events.trend[lang]),
        ]
        fields = {f for t in templates for f in re.findall(r"\{(\w+)\}", t)}
        assert fields <= kinds | NON_LIST_FIELDS, (lang, fields - kinds - NON_LIST_FIELDS)
        assert "{w}" in events.crisis_tags[lang]
    assert "{w}" in events.crisis_tags["all"] and len(events.products) > 4
    assert {style for t in events.trend.values() for style, _ in t} <= {
        "news",
        "question",
        "praise",
        "chatter",
    }


# --- options --------------------------------------------------------------------------------


def test_invalid_options(watch: WatchConfig) -> None:
    with pytest.raises(ValueError, match="calm, crisis, impersonation, care, trending"):
        SyntheticSource(watch, scenario="panic")
    with pytest.raises(ValueError, match="volume"):
        SyntheticSource(watch, volume=0)
    with pytest.raises(ValueError, match="noise"):
        SyntheticSource(watch, noise=-0.1)
    with pytest.raises(ValueError, match="duration"):
        SyntheticSource(watch, duration=timedelta(minutes=-1))
    with pytest.raises(ValueError, match="rate"):
        SyntheticSource(watch, rate=-1)
    with pytest.raises(ValueError, match="count"):
        SyntheticSource(watch, count=-5)
    with pytest.raises(ValueError, match="writes"):
        SyntheticSource(parse_watch({"languages": ["it"], "brands": [{"name": "Pizza"}]}))
    with pytest.raises(ValueError, match="time zone"):
        SyntheticSource(watch, start_time=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="2010"):
        SyntheticSource(watch, start_time=datetime(2001, 1, 1, tzinfo=UTC))


def test_count_ends_records(watch: WatchConfig) -> None:
    records = list(SyntheticSource(watch, rate=None, count=30).records())
    assert [r.origin for r in records] == [f"synthetic:{i}" for i in range(30)]


def test_duration_ends_at_a_simulated_time(watch: WatchConfig) -> None:
    src = SyntheticSource(watch, rate=None, start_time=START, duration=timedelta(minutes=20))
    posts = list(src.posts())
    assert 400 < len(posts) < 1600  # ~40 a simulated minute at 9 a.m.
    assert (
        posts[-1].created_at
        < START + timedelta(minutes=20)
        <= posts[-1].created_at + (timedelta(minutes=1))
    )
    assert (
        len(SyntheticSource(watch, rate=None, count=10, duration=timedelta(days=1)).generate(99))
        == 10
    )


def test_default_start_is_the_day_before_at_midnight(watch: WatchConfig) -> None:
    start = SyntheticSource(watch).start_time
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert start in (today - timedelta(days=1), today - timedelta(days=2))  # run at midnight
    assert synthetic.default_start(datetime(2026, 3, 1, 17, 5, tzinfo=UTC)) == datetime(
        2026, 2, 28, tzinfo=UTC
    )


# --- pacing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [200.0, 5000.0])
def test_rate_is_roughly_respected(watch: WatchConfig, rate: float) -> None:
    src = SyntheticSource(watch, rate=rate, seed=1)
    seconds = 1.0
    n = 0
    t0 = time.monotonic()
    for _ in src.records():
        n += 1
        if time.monotonic() - t0 >= seconds:
            break
    expected = rate * seconds
    assert 0.5 * expected <= n <= 1.5 * expected


def test_stop_ends_records_promptly(watch: WatchConfig) -> None:
    """stop() while the source waits for its next post (two seconds away) ends records() at
    once. The stop is asked after the first record, so a slow start cannot make the test race."""
    src = SyntheticSource(watch, rate=0.5, seed=1)  # one post every two seconds
    records = []
    timer = None
    it = src.records()
    try:
        records.append(next(it))
        t0 = time.monotonic()
        timer = threading.Timer(0.3, src.stop)
        timer.start()
        records.extend(it)
    finally:
        if timer is not None:
            timer.cancel()
    assert len(records) == 1
    assert time.monotonic() - t0 < 1.5


# --- the bundled sample ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> list[tuple[dict[str, Any], Post]]:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    return [(json.loads(line), parse_stream_payload(line, source="replay")) for line in lines]


def test_sample_parses_and_covers_the_cases(sample: list[tuple[dict[str, Any], Post]]) -> None:
    assert 30 <= len(sample) <= 60
    posts = [p for _, p in sample]
    assert {"fr", "en", "es", "de"} <= {p.x_lang for p in posts}
    assert any(p.is_retweet for p in posts)
    assert any(p.is_quote for p in posts)
    assert any(p.is_reply and p.author.verified_type == "business" for p in posts)
    for field in ("urls", "hashtags", "cashtags", "mentions", "context_annotations"):
        assert any(getattr(p, field) for p in posts), field
    assert all(p.rule_tags for p in posts)


def test_sample_preserves_fields(sample: list[tuple[dict[str, Any], Post]]) -> None:
    long = [(raw, p) for raw, p in sample if "note_tweet" in raw["data"]]
    assert long
    for raw, p in long:
        assert p.text == raw["data"]["note_tweet"]["text"] != raw["data"]["text"]
        assert len(p.text) > 280
        assert p.hashtags == tuple(
            h["tag"] for h in raw["data"]["note_tweet"]["entities"]["hashtags"]
        )
    for raw, p in sample:
        assert p.id == raw["data"]["id"]
        assert p.created_at.isoformat().replace("+00:00", ".000Z") == raw["data"]["created_at"]
        assert p.author.id == raw["data"]["author_id"]
        assert p.metrics.like_count == raw["data"]["public_metrics"]["like_count"]
        for ref in p.references:
            assert ref.author_username and ref.text  # the referenced post's author is resolved
        if p.is_reply:
            assert p.in_reply_to_username


def test_sample_timestamps_spread_over_hours(sample: list[tuple[dict[str, Any], Post]]) -> None:
    times = [p.created_at for _, p in sample]
    assert times == sorted(times)
    assert times[-1] - times[0] > timedelta(hours=2)
    assert len(set(times)) == len(times)
