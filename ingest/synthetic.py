"""Synthetic source: realistic, reproducible X API v2 posts about what watch.yaml watches.

`SyntheticSource` makes up a stream of filtered-stream payloads (`{"data", "includes",
"matching_rules"}`, X's own wire format) about the entries and topics of the `WatchConfig` it is
given: questions and requests to official accounts, complaints, praise, news, chatter, replies
(customers' and official accounts'), retweets, quotes, long posts (`note_tweet`), in French,
English, Spanish and German, written by a stable population of a few thousand users with a
heavy-tailed follower distribution. Nothing about a particular company is hard-coded: names,
aliases, accounts and topic keywords come from the configuration; the phrasing is generic
telecom/consumer-brand language.

Reproducible: one seed, one start time and one scenario give the same bytes, post for post.
Post ids are snowflakes made of the event time, the seed and a counter (unique within a run).
Event time starts at `start_time` (default: when iteration starts) and advances `1/rate` s per
post (1 ms per post when unpaced).

A scenario is a `Mix` (the proportions of kinds, styles, languages and entry kinds, and the
rates of hashtags, urls, ...) that may change with event time (`Scenario.mix_at`). Only "calm"
exists today; the others planned (crisis: a negative spike on a brand; impersonation:
look-alike accounts; care: a wave of questions; trending: an emerging hashtag) belong in
`SCENARIOS`, as scenarios whose mix changes over time and, where needed, new `Mix` fields that
`_Generator` reads.
"""

from __future__ import annotations

import logging
import math
import random
import re
import string
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

from pydantic_core import to_json

from ingest.base import Source, SourceRecord
from ingest.synthetic_phrases import PHRASES
from veille.models import EntryKind, Intent, Sentiment
from veille.text import CASHTAG_RE, HASHTAG_RE, MENTION_RE, URL_RE, fold
from veille.watch import ALL_LANGUAGES, WatchConfig, WatchMatcher, rule_tag

logger = logging.getLogger(__name__)

PostKind = Literal["original", "reply", "official_reply", "retweet", "quote"]
Style = Literal["question", "complaint", "praise", "request", "news", "chatter", "care", "reaction"]
"""What a post does: the generator's ground truth, finer than veille's `Intent`."""

UNPACED_EVENT_RATE = 1000.0
"""Posts per second of event time when the source is not paced (`rate=None`)."""

_TWEPOCH_MS = 1288834974657
_STYLE_INTENT: dict[str, Intent] = {
    "question": "question",
    "complaint": "complaint",
    "praise": "praise",
    "request": "request",
}
_MAX_LAG_S = 1.0  # a paced source that falls further behind forgets the backlog
_MIN_SLEEP_S = 0.001


# --- scenarios ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """What a stream is made of: relative weights (any scale) and per-post probabilities.

    `styles` weighs what original posts, customer replies and quotes do; official replies and
    retweets follow the posts they answer or repost. Languages absent from the watch
    configuration's `languages` are left out.
    """

    kinds: Mapping[PostKind, float]
    styles: Mapping[Style, float]
    languages: Mapping[str, float]
    entry_kinds: Mapping[EntryKind, float]
    hashtag: float = 0.3
    url: float = 0.08
    news_url: float = 0.7
    cashtag: float = 0.25  # of news
    topic_frame: float = 0.2
    emoji: float = 0.35
    long: float = 0.01
    reaction: float = 0.015  # emoji-only posts to an official account (lang "und")
    annotated: float = 0.7
    official_news: float = 0.2  # of news: posted by the entry's own account


@dataclass(frozen=True)
class Scenario:
    """A named stream shape. Override `mix_at` for a mix that changes with event time."""

    name: str
    description: str
    mix: Mix

    def mix_at(self, elapsed_s: float) -> Mix:
        """The mix after `elapsed_s` seconds of event time (read once per event second)."""
        return self.mix


CALM = Mix(
    kinds={"original": 0.57, "retweet": 0.18, "reply": 0.12, "official_reply": 0.07, "quote": 0.06},
    styles={
        "question": 0.17,
        "complaint": 0.22,
        "praise": 0.13,
        "request": 0.08,
        "news": 0.13,
        "chatter": 0.27,
    },
    languages={"fr": 0.42, "en": 0.36, "es": 0.11, "de": 0.11},
    entry_kinds={"brand": 0.55, "competitor": 0.28, "partner": 0.09, "supplier": 0.08},
)

SCENARIOS: dict[str, Scenario] = {
    "calm": Scenario("calm", "an ordinary day: steady volume, mixed sentiment", CALM),
}


# --- ground truth ---------------------------------------------------------------------------


class SyntheticPost(NamedTuple):
    """One generated payload and what it was made to be (to measure enrichment against)."""

    payload: bytes
    kind: PostKind
    style: Style
    sentiment: Sentiment
    lang: str
    entries: tuple[str, ...]
    topics: tuple[str, ...]

    @property
    def intent(self) -> Intent:
        """The style as veille's `Intent` (news, chatter, care, reactions: "other")."""
        return _STYLE_INTENT.get(self.style, "other")


# --- the source -----------------------------------------------------------------------------


class SyntheticSource(Source):
    """Generated X API v2 posts about the watched entries, paced at `rate` posts per second.

    `rate` None (or 0) yields as fast as the consumer takes them; `count` None never ends
    before `stop()`. `records()`, `posts()`, `payloads()` and `generate()` each start again
    from the first post, so a source gives the same stream every time when `start_time` is
    given. Raises `ValueError` for an unknown scenario, a negative rate or count, a start time
    without a time zone or before X's ids, or a watch configuration whose languages the
    generator cannot write.
    """

    name: ClassVar[str] = "synthetic"

    def __init__(
        self,
        watch: WatchConfig,
        *,
        rate: float | None = 100.0,
        seed: int = 0,
        count: int | None = None,
        start_time: datetime | None = None,
        scenario: str = "calm",
    ) -> None:
        super().__init__()
        if rate is not None and (not math.isfinite(rate) or rate < 0):
            raise ValueError(f"rate must be a positive number of posts per second, not {rate}")
        if count is not None and count < 0:
            raise ValueError(f"count must be positive, not {count}")
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; valid: {', '.join(SCENARIOS)}")
        if start_time is not None and start_time.tzinfo is None:
            raise ValueError("start_time needs a time zone (X timestamps are UTC)")
        if start_time is not None and start_time.timestamp() * 1000 < _TWEPOCH_MS:
            raise ValueError("start_time must be after 2010-11-04, when X post ids begin")
        wanted = watch.languages or LANGUAGES
        languages = tuple(lang for lang in wanted if lang in PHRASES)
        if not languages:
            raise ValueError(
                f"the synthetic source writes {', '.join(LANGUAGES)}; "
                f"the watch configuration asks only for {', '.join(wanted)}"
            )
        self.watch = watch
        self.rate = rate or None
        self.seed = seed
        self.count = count
        self.start_time = start_time
        self.scenario = SCENARIOS[scenario]
        self.languages = languages
        self.skipped_languages = tuple(lang for lang in wanted if lang not in PHRASES)

    def posts(self) -> Iterator[SyntheticPost]:
        """Unpaced posts with their ground truth, from the first, up to `count` (or forever)."""
        if self.skipped_languages:
            logger.warning(
                "synthetic source cannot write languages=%s; skipped",
                ",".join(self.skipped_languages),
            )
        start = self.start_time or datetime.now(UTC)
        gen = _Generator(
            self.watch,
            self.scenario,
            self.languages,
            self.seed,
            start,
            1000.0 / (self.rate or UNPACED_EVENT_RATE),
        )
        n = 0
        while self.count is None or n < self.count:
            yield gen.next_post()
            n += 1

    def payloads(self) -> Iterator[bytes]:
        """Unpaced payloads, from the first, up to `count` (or forever)."""
        return (p.payload for p in self.posts())

    def generate(self, n: int) -> list[bytes]:
        """The first `n` payloads (fewer when `count` is smaller), without pacing."""
        return list(islice(self.payloads(), n))

    def records(self) -> Iterator[SourceRecord]:
        """Payloads at `rate` per second, released in small bursts; ends at `count` or stop()."""
        rate = self.rate
        t0 = time.monotonic()
        for n, payload in enumerate(self.payloads()):
            if self.stopping:
                return
            if rate is not None:
                delay = t0 + n / rate - time.monotonic()
                if delay > _MIN_SLEEP_S:
                    if self.wait(delay):
                        return
                elif delay < -_MAX_LAG_S:
                    logger.debug("synthetic source behind by elapsed_s=%.1f; catching up", -delay)
                    t0 = time.monotonic() - n / rate
            yield SourceRecord(payload=payload, origin=f"synthetic:{n}")


# --- population -----------------------------------------------------------------------------


@dataclass(slots=True)
class _User:
    id: str
    username: str
    lang: str
    first: str
    followers: int
    official: bool
    wire: bytes  # the includes.users object, serialised once


@dataclass(slots=True)
class _Entry:
    name: str
    kind: EntryKind | None  # None: the stand-in for a configuration without entries
    terms: dict[str, tuple[str, ...]]  # per language
    hashtags: tuple[str, ...]
    accounts: tuple[_User, ...]
    care: _User | None
    slug: str
    ticker: str
    rule: bytes | None  # the matching_rules item, serialised
    annotation: dict[str, Any]


_T = TypeVar("_T")


def _lottery(weighted: Sequence[tuple[_T, float]], size: int = 1000) -> list[_T]:
    """A list in which each item appears in proportion to its weight (draw: uniform index)."""
    total = sum(w for _, w in weighted if w > 0)
    out: list[_T] = []
    for item, w in weighted:
        if w > 0:
            out += [item] * max(1, round(size * w / total))
    return out


def _stable_id(key: str, base: int = 1_300_000_000_000_000_000) -> str:
    return str(base + zlib.crc32(key.encode()) * 104_729)


def _rule(tag: str) -> bytes:
    """A matching_rules item: X rule ids are snowflakes; ours are stable per tag."""
    return to_json({"id": _stable_id(tag, 1_580_000_000_000_000_000), "tag": tag})


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _ascii(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", fold(text))


_CARE_HINTS = ("care", "help", "support", "sav", "service", "hilfe", "ayuda", "kunden", "client")
_ALNUM = string.ascii_letters + string.digits


class _Population:
    """Users (stable ids, names, follower counts) and the per-language author lotteries."""

    def __init__(
        self,
        cfg: WatchConfig,
        languages: Sequence[str],
        lang_weights: Mapping[str, float],
        seed: int,
        size: int = 3000,
    ) -> None:
        rng = random.Random(f"veille-users-{seed}")
        self.users: list[_User] = []
        self.by_handle: dict[str, _User] = {}
        self._ids: set[str] = set()
        for _, entry in cfg.entries():
            for handle in entry.accounts:
                self._official(rng, handle, entry.name)
        self.media: dict[str, list[_User]] = {}
        for lang in languages:
            self.media[lang] = [self._media(rng, lang, h, n) for h, n in PHRASES[lang]["media"]]
        weights = [(lang, lang_weights.get(lang, 0.0) or 0.05) for lang in languages]
        langs = _lottery(weights)
        authors: dict[str, list[tuple[_User, float]]] = {lang: [] for lang in languages}
        for _ in range(size):
            u = self._person(rng, langs[int(rng.random() * len(langs))])
            authors[u.lang].append((u, rng.lognormvariate(0.0, 1.0)))
        self.authors = {lang: _lottery(pool, 8 * len(pool)) for lang, pool in authors.items()}

    def _new_id(self, rng: random.Random, created: datetime) -> str:
        while True:
            if created.year < 2016:
                uid = str(rng.randrange(10_000_000, 4_000_000_000))
            else:
                ms = int(created.timestamp() * 1000) - _TWEPOCH_MS
                uid = str((ms << 22) | rng.getrandbits(22))
            if uid not in self._ids:
                self._ids.add(uid)
                return uid

    def _add(
        self,
        rng: random.Random,
        username: str,
        name: str,
        lang: str,
        first: str,
        followers: int,
        verified_type: str,
        created: datetime,
        description: str,
        location: str,
        official: bool = False,
    ) -> _User:
        uid = self._new_id(rng, created)
        following = int(min(followers * rng.uniform(0.1, 2.0), 5000) + rng.randrange(5, 400))
        wire = {
            "id": uid,
            "name": name,
            "username": username,
            "created_at": _iso(created),
            "description": description,
            "location": location,
            "protected": False,
            "verified": verified_type != "none",
            "verified_type": verified_type,
            "profile_image_url": f"https://pbs.twimg.com/profile_images/{uid}/"
            f"{''.join(rng.choices(_ALNUM, k=8))}_normal.jpg",
            "public_metrics": {
                "followers_count": followers,
                "following_count": following,
                "tweet_count": int(rng.lognormvariate(7.0, 1.5)) + 1,
                "listed_count": int(followers * rng.uniform(0.0, 0.02)),
                "like_count": int(rng.lognormvariate(7.5, 1.6)),
                "media_count": int(rng.lognormvariate(3.0, 1.5)),
            },
        }
        u = _User(uid, username, lang, first, followers, official, to_json(wire))
        self.users.append(u)
        self.by_handle[username.lower()] = u
        return u

    def _official(self, rng: random.Random, handle: str, entry: str) -> None:
        if handle.lower() in self.by_handle:  # listed twice
            return
        care = any(h in handle.lower() for h in _CARE_HINTS)
        created = datetime(2009, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(1800))
        followers = int(rng.lognormvariate(10.5 if care else 11.5, 0.8))
        self._add(
            rng,
            handle,
            f"{entry} Care" if care else entry,
            "en",
            entry,
            followers,
            "business",
            created,
            f"Official account of {entry}.",
            "",
            official=True,
        )

    def _media(self, rng: random.Random, lang: str, handle: str, name: str) -> _User:
        if handle.lower() in self.by_handle:  # a watched account after all
            return self.by_handle[handle.lower()]
        created = datetime(2009, 6, 1, tzinfo=UTC) + timedelta(days=rng.randrange(3000))
        followers = int(rng.lognormvariate(11.0, 1.0))
        p = PHRASES[lang]
        return self._add(
            rng,
            handle,
            name,
            lang,
            name,
            followers,
            "business" if rng.random() < 0.6 else "blue",
            created,
            p["media_bio"][0],
            rng.choice(p["place"]),
        )

    def _person(self, rng: random.Random, lang: str) -> _User:
        p = PHRASES[lang]
        first, last = rng.choice(p["first"]), rng.choice(p["last"])
        f, la = _ascii(first), _ascii(last)
        pattern = rng.random()
        if pattern < 0.3:
            base = f + la
        elif pattern < 0.55:
            base = f"{f}_{la}"
        elif pattern < 0.8:
            base = f"{f}{rng.randrange(100)}"
        else:
            base = f"{la[:8]}_{f[0]}"
        base = base[:12] if rng.random() < 0.5 else base.lower()[:12]
        username = base
        while username.lower() in self.by_handle:
            username = f"{base}{rng.randrange(1000)}"[:15]
        name = f"{first} {last}" if rng.random() < 0.7 else first
        if rng.random() < 0.1:
            name += " " + rng.choice(p["emoji_positive"])
        days = int(6500 * rng.random() ** 0.7)  # more recent accounts than old ones
        created = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(
            days=days, seconds=rng.randrange(86400)
        )
        followers = min(int(rng.lognormvariate(5.0, 1.9)), 3_000_000)
        vt = "blue" if rng.random() < 0.04 else "none"
        desc = rng.choice(p["bio"]) if rng.random() < 0.75 else ""
        return self._add(
            rng,
            username,
            name,
            lang,
            first,
            followers,
            vt,
            created,
            desc,
            rng.choice(p["place"]) if rng.random() < 0.6 else "",
        )


# --- phrases, with the topics they already contain ------------------------------------------


class _Tmpl(NamedTuple):
    fmt: str
    fields: tuple[str, ...]
    topics: frozenset[str]
    caps: frozenset[str]  # fields that begin a sentence


def _template(text: str, topics: frozenset[str]) -> _Tmpl:
    caps = frozenset(
        m.group(1)
        for m in _FIELD_RE.finditer(text)
        if text[: m.start()].rstrip().endswith((".", "?", "!"))
    )
    return _Tmpl(text, tuple(_FIELD_RE.findall(text)), topics, caps)


_FIELD_RE = re.compile(r"\{(\w+)\}")
_Frag = tuple[str, frozenset[str]]


class _Lang:
    """One language's phrases, each with the watch topics its fixed words already match."""

    def __init__(self, lang: str, matcher: WatchMatcher) -> None:
        p = PHRASES[lang]

        def topics(text: str) -> frozenset[str]:
            return frozenset(matcher.match_topics(fold(_FIELD_RE.sub(" | ", text)), lang))

        def templates(key: str) -> list[_Tmpl]:
            return [_template(t, topics(t)) for t in p[key]]

        self.code = lang
        self.templates = {
            key: templates(key)
            for key in (
                "question",
                "complaint",
                "praise",
                "request",
                "news",
                "news_partner",
                "news_supplier",
                "chatter",
                "care",
                "care_thanks",
                "agree",
            )
        }
        self.slots: dict[str, list[_Frag]] = {
            key: [(t, topics(t)) for t in p[key]]
            for key in (
                "act",
                "prob",
                "dur",
                "place",
                "neg",
                "nega",
                "pos",
                "posa",
                "feat",
                "when",
                "month",
            )
        }
        self.hashtags: list[_Frag] = [(t, topics(t)) for t in p["hashtags"]]
        self.frames: dict[str, tuple[str, ...]] = {
            "negative": p["frame_negative"],
            "positive": p["frame_positive"],
            "neutral": p["frame_neutral"],
        }
        self.emoji = {
            "negative": p["emoji_negative"],
            "positive": p["emoji_positive"],
            "neutral": p["emoji_neutral"],
        }
        self.brand_paths: tuple[str, ...] = p["brand_paths"]
        self.news_words: tuple[str, ...] = p["news_words"]
        self.stand_in: tuple[str, ...] = p["stand_in"]


# --- the generator --------------------------------------------------------------------------


class _Recent(NamedTuple):
    """A generated post that later posts may reply to, quote or repost."""

    id: str
    tweet: bytes  # the includes.tweets object, serialised
    author: _User
    text: str
    lang: str
    conv: str
    style: Style
    sentiment: Sentiment
    entry: _Entry
    entries: tuple[_Entry, ...]
    topics: frozenset[str]
    urls: dict[str, dict[str, str]]
    addressed: _Entry | None  # the entry whose official account it asks or complains to


_SENTIMENT: dict[str, Sentiment] = {"complaint": "negative", "praise": "positive"}


class _Generator:
    """Makes payloads one after the other; all randomness comes from one seeded generator."""

    def __init__(
        self,
        cfg: WatchConfig,
        scenario: Scenario,
        languages: Sequence[str],
        seed: int,
        start: datetime,
        step_ms: float,
    ) -> None:
        self.cfg = cfg
        self.scenario = scenario
        self.languages = tuple(languages)
        self.rng = random.Random(seed)
        self.start_ms = start.timestamp() * 1000.0
        self.step_ms = step_ms
        self.worker = (zlib.crc32(f"veille-{seed}".encode()) & 0x3FF) << 12
        self.n = 0
        self.second = -1
        self.stamp = ""
        mix = scenario.mix_at(0.0)
        self.population = _Population(cfg, self.languages, mix.languages, seed)
        matcher = WatchMatcher(cfg)
        self.phrases = {lang: _Lang(lang, matcher) for lang in self.languages}
        self.entries = self._entries()
        self.main = next((e for e in self.entries if e.kind == "brand"), None)
        self.topic_keywords = self._topic_keywords()
        self.topic_rules = {name: _rule(rule_tag("topic", name)) for name in cfg.topics}
        self.topic_annotations = self._topic_annotations()
        self.topic_order = {name: i for i, name in enumerate(cfg.topics)}
        self.entry_order = {id(e): i for i, e in enumerate(self.entries)}
        self.recent: list[_Recent] = []
        self.recent_at = 0
        self.pending: list[_Recent] = []
        self.pending_at = 0
        self.mix: Mix | None = None
        self._set_mix(mix)

    # setup

    def _entries(self) -> list[_Entry]:
        out: list[_Entry] = []
        by_handle = self.population.by_handle
        for kind, e in self.cfg.entries():
            words = tuple(t for t in e.terms() if not t.startswith("#"))
            tags = [t for t in e.terms() if t.startswith("#")]
            camel = "#" + "".join(w[:1].upper() + w[1:] for w in re.findall(r"\w+", e.name))
            if fold(camel) not in {fold(t) for t in tags}:
                tags.append(camel)
            accounts = tuple(by_handle[a.lower()] for a in e.accounts)
            care = next(
                (u for u in accounts if any(h in u.username.lower() for h in _CARE_HINTS)),
                accounts[-1] if accounts else None,
            )
            name_terms = (e.name,) * max(1, len(words) - 1) + words  # the name half the time
            out.append(
                _Entry(
                    name=e.name,
                    kind=kind,
                    terms={lang: name_terms for lang in self.languages},
                    hashtags=tuple(tags),
                    accounts=accounts,
                    care=care,
                    slug=re.sub(r"[^a-z0-9]+", "-", fold(e.name)).strip("-") or "brand",
                    ticker=(_ascii(e.name).upper() or "XYZ")[:4],
                    rule=_rule(rule_tag(kind, e.name)),
                    annotation={
                        "domain": {
                            "id": "47",
                            "name": "Brand",
                            "description": "Brands and Companies",
                        },
                        "entity": {"id": _stable_id(f"entity:{e.name}"), "name": e.name},
                    },
                )
            )
        if not out:  # topics only: posts talk about "my provider"
            out.append(
                _Entry(
                    name="",
                    kind=None,
                    terms={lang: self.phrases[lang].stand_in for lang in self.languages},
                    hashtags=(),
                    accounts=(),
                    care=None,
                    slug="provider",
                    ticker="",
                    rule=None,
                    annotation={},
                )
            )
        return out

    def _topic_keywords(self) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for lang in self.languages:
            pairs = []
            for name, topic in self.cfg.topics.items():
                kws = topic.keywords.get(lang, ()) + topic.keywords.get(ALL_LANGUAGES, ())
                if kws:
                    pairs.append((name, kws))
            out[lang] = pairs
        return out

    def _topic_annotations(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for name, topic in self.cfg.topics.items():
            anns = []
            for ent in topic.entities:
                eid = ent if ent.isdigit() else _stable_id(f"entity:{ent}")
                anns.append(
                    {
                        "domain": {
                            "id": "66",
                            "name": "Interests and Hobbies Category",
                            "description": "A grouping of interests and hobbies",
                        },
                        "entity": {"id": eid, "name": name if ent.isdigit() else ent},
                    }
                )
            out[name] = anns
        return out

    def _set_mix(self, mix: Mix) -> None:
        self.mix = mix
        self.kind_lot: list[PostKind] = _lottery(list(mix.kinds.items()))
        self.style_lot: list[Style] = _lottery(list(mix.styles.items()))
        self.lang_lot: list[str] = _lottery(
            [(lang, mix.languages.get(lang, 0.0)) for lang in self.languages]
        ) or list(self.languages)
        per_kind: dict[EntryKind | None, int] = {}
        for e in self.entries:
            per_kind[e.kind] = per_kind.get(e.kind, 0) + 1
        self.entry_lot: list[_Entry] = _lottery(
            [
                (e, (mix.entry_kinds.get(e.kind, 0.0) if e.kind else 1.0) / per_kind[e.kind])
                for e in self.entries
            ]
        ) or list(self.entries)

    # one post

    def next_post(self) -> SyntheticPost:
        n = self.n
        self.n += 1
        ms = int(self.start_ms + n * self.step_ms)
        second = ms // 1000
        if second != self.second:
            self.second = second
            self.stamp = _iso(datetime.fromtimestamp(second, UTC))
            mix = self.scenario.mix_at((ms - self.start_ms) / 1000.0)
            if mix is not self.mix:
                self._set_mix(mix)
        pid = str((max(ms - _TWEPOCH_MS, 1) << 22) | self.worker | (n & 0xFFF))
        r = self.rng.random
        kind = self.kind_lot[int(r() * len(self.kind_lot))]
        if kind == "retweet" and self.recent:
            return self._retweet(pid)
        if kind == "official_reply" and self.pending_at < len(self.pending):
            return self._official_reply(pid)
        if kind == "reply" and self.recent:
            return self._reply(pid)
        if kind == "quote" and self.recent:
            return self._quote(pid)
        return self._original(pid)

    def _pick(self, seq: Sequence[_T]) -> _T:
        return seq[int(self.rng.random() * len(seq))]

    def _remember(self, post: _Recent) -> None:
        if len(self.recent) < 400:
            self.recent.append(post)
        else:
            self.recent[self.recent_at] = post
            self.recent_at = (self.recent_at + 1) % 400
        if (
            post.addressed is not None
            and post.addressed.care is not None
            and (
                post.style in ("question", "complaint", "request")
                or (post.style == "praise" and self.rng.random() < 0.3)
            )
        ):
            if self.pending_at > 2000:  # forget what was answered
                del self.pending[: self.pending_at]
                self.pending_at = 0
            self.pending.append(post)
            if len(self.pending) - self.pending_at > 2000:  # never answered
                self.pending_at += 1

    def _original(self, pid: str) -> SyntheticPost:
        mix = self.mix
        assert mix is not None
        r = self.rng.random
        lang = self._pick(self.lang_lot)
        entry = self._pick(self.entry_lot)
        if entry.accounts and r() < mix.reaction:
            return self._reaction(pid, entry)
        style = self._pick(self.style_lot)
        author = self._pick(self.population.authors[lang])
        if style == "news":
            if entry.accounts and r() < mix.official_news:
                author = entry.accounts[0]
            elif r() < 0.6:
                author = self._pick(self.population.media[lang])
        if r() < mix.long and style in ("complaint", "news", "praise"):
            text, extra = self._long_text(lang, style, entry)
        else:
            text, extra = self._text(lang, style, entry)
        note = None
        if len(text) > 280:
            note = text
            text = text[: text.rfind(" ", 0, 276)] + "…"
        return self._emit(pid, "original", style, lang, author, text, extra, pid, note=note)

    def _reaction(self, pid: str, entry: _Entry) -> SyntheticPost:
        r = self.rng.random
        lang = self._pick(self.lang_lot)
        author = self._pick(self.population.authors[lang])
        sentiment: Sentiment = "negative" if r() < 0.6 else "positive"
        emoji = self.phrases[lang].emoji[sentiment]
        text = f"@{self._pick(entry.accounts).username} " + "".join(
            self._pick(emoji) for _ in range(1 + int(r() * 4))
        )
        extra = _Extra(sentiment, [entry], set(), {}, None)
        return self._emit(pid, "original", "reaction", "und", author, text, extra, pid)

    def _retweet(self, pid: str) -> SyntheticPost:
        # popular posts get reposted more; official replies to customers seldom
        candidates = [self._pick(self.recent) for _ in range(3)]
        candidates = [c for c in candidates if c.style != "care"] or candidates
        parent = max(candidates, key=lambda p: p.author.followers)
        lang = parent.lang if parent.lang in self.phrases else self._pick(self.lang_lot)
        author = self._pick(self.population.authors[lang])
        text = f"RT @{parent.author.username}: {parent.text}"
        if len(text) > 140:
            text = text[:139] + "…"
        extra = _Extra(
            parent.sentiment, list(parent.entries), set(parent.topics), parent.urls, None
        )
        return self._emit(
            pid,
            "retweet",
            parent.style,
            parent.lang,
            author,
            text,
            extra,
            pid,
            ref=("retweeted", parent),
        )

    def _reply(self, pid: str) -> SyntheticPost:
        r = self.rng.random
        parent = self._pick(self.recent)
        lang = parent.lang if parent.lang in self.phrases else self._pick(self.lang_lot)
        author = self._pick(self.population.authors[lang])
        if author is parent.author:
            author = self._pick(self.population.authors[lang])
        agree = parent.style == "complaint" and r() < 0.5
        style: Style = "complaint" if agree else self._pick(self.style_lot)
        if style == "news":
            style = "chatter"
        entry = parent.entry if r() < 0.8 else self._pick(self.entry_lot)
        body, extra = self._text(lang, style, entry)
        if agree:
            opener, _ = self._fill(
                self.phrases[lang], self._pick(self.phrases[lang].templates["agree"]), entry, extra
            )
            body = f"{opener} {body}"
        text = f"@{parent.author.username} {body}"
        return self._emit(
            pid, "reply", style, lang, author, text, extra, parent.conv, ref=("replied_to", parent)
        )

    def _official_reply(self, pid: str) -> SyntheticPost:
        parent = self.pending[self.pending_at]
        self.pending_at += 1
        entry = parent.addressed
        assert entry is not None and entry.care is not None
        p = self.phrases[parent.lang]
        extra = _Extra("neutral", [entry], set(), {}, None)
        sig = "^" + "".join(self._pick(string.ascii_uppercase) for _ in range(2))
        key = "care_thanks" if parent.style == "praise" else "care"
        body, _ = self._fill(
            p, self._pick(p.templates[key]), entry, extra, {"u": parent.author.first, "sig": sig}
        )
        text = f"@{parent.author.username} {body}"
        return self._emit(
            pid,
            "official_reply",
            "care",
            parent.lang,
            entry.care,
            text,
            extra,
            parent.conv,
            ref=("replied_to", parent),
        )

    def _quote(self, pid: str) -> SyntheticPost:
        r = self.rng.random
        parent = self._pick(self.recent)
        lang = parent.lang if parent.lang in self.phrases else self._pick(self.lang_lot)
        author = self._pick(self.population.authors[lang])
        style = self._pick(self.style_lot)
        entry = parent.entry if r() < 0.7 else self._pick(self.entry_lot)
        body, extra = self._text(lang, style, entry, url=False)
        short = self._tco()
        extra.urls = {
            short: {"expanded_url": f"https://x.com/{parent.author.username}/status/{parent.id}"}
        }
        extra.entries += [e for e in parent.entries if e not in extra.entries]
        extra.topics |= parent.topics
        return self._emit(
            pid, "quote", style, lang, author, f"{body} {short}", extra, pid, ref=("quoted", parent)
        )

    # text

    def _fill(
        self,
        p: _Lang,
        t: _Tmpl,
        entry: _Entry,
        extra: _Extra,
        given: Mapping[str, str] | None = None,
    ) -> tuple[str, bool]:
        """The template with its fields filled; True when it addresses an official account."""
        r = self.rng.random
        values: dict[str, str] = {}
        addressed = False
        extra.topics |= t.topics
        for f in t.fields:
            if given and f in given:
                values[f] = given[f]
            elif f == "b":
                values[f] = self._pick(entry.terms[p.code])
            elif f == "a":
                if entry.accounts:
                    acct = entry.care if entry.care and r() < 0.7 else self._pick(entry.accounts)
                    values[f] = "@" + acct.username
                    addressed = True
                else:
                    values[f] = self._pick(entry.terms[p.code])
            elif f in ("o", "m"):
                other = self._other(entry) if f == "o" else self.main
                if other is None or other is entry:
                    other = self._other(entry)
                if other is None:
                    values[f] = self._pick(p.stand_in)
                else:
                    values[f] = self._pick(other.terms[p.code])
                    if other not in extra.entries:
                        extra.entries.append(other)
            elif f == "num":
                values[f] = str(2 + int(r() * 58))
            elif f == "pct":
                values[f] = str(2 + int(r() * 17))
            elif f == "year":
                values[f] = str(2027 + int(r() * 4))
            elif f in ("u", "sig"):
                values[f] = ""
            else:
                frag, topics = self._pick(p.slots[f])
                values[f] = frag[:1].upper() + frag[1:] if f in t.caps else frag
                extra.topics |= topics
        return t.fmt.format_map(values), addressed

    def _other(self, entry: _Entry) -> _Entry | None:
        want = ("competitor",) if entry.kind == "brand" else ("brand", "competitor")
        others = [e for e in self.entries if e.kind in want and e is not entry]
        return self._pick(others) if others else None

    def _text(
        self,
        lang: str,
        style: Style,
        entry: _Entry,
        url: bool = True,
        tail_rate: float = 1.0,
        exclude: _Tmpl | None = None,
    ) -> tuple[str, _Extra]:
        """A post's text in `lang`: a template, perhaps a topic frame, hashtags, emoji, a url."""
        mix = self.mix
        assert mix is not None
        r = self.rng.random
        p = self.phrases[lang]
        sentiment = _SENTIMENT.get(style, "neutral")
        extra = _Extra(sentiment, [entry] if entry.kind else [], set(), {}, None)
        key: str = style
        if style == "news" and entry.kind in ("partner", "supplier") and r() < 0.6:
            key = f"news_{entry.kind}"
        template = self._pick(p.templates[key])
        if template is exclude:
            template = self._pick(p.templates[key])
        extra.template = template
        text, addressed = self._fill(p, template, entry, extra)
        if addressed:
            extra.addressed = entry
        if style in ("complaint", "praise") and r() < 0.3:  # a second sentence
            more = self._pick(p.slots["neg" if style == "complaint" else "pos"])[0]
            if more not in text:
                text = f"{_sentence(text)} {more}"
        if text[:1].islower() and r() < 0.6:
            text = text[0].upper() + text[1:]
        tail: list[str] = []
        keywords = self.topic_keywords.get(lang)
        if r() >= tail_rate:
            return text, extra
        if keywords and (r() < mix.topic_frame or entry.kind is None):
            topic, kws = self._pick(keywords)
            kw = self._pick(kws)
            extra.topics.add(topic)
            if kw.startswith(("#", "$", "@")):
                tail.append(kw)
            else:
                frame = self._pick(p.frames[sentiment])
                text = _sentence(text)
                tail.append(frame.format(kw=kw, Kw=kw[:1].upper() + kw[1:]))
        if r() < mix.hashtag:
            for _ in range(1 + (r() < 0.3)):
                if entry.hashtags and r() < 0.4:
                    tail.append(self._pick(entry.hashtags))
                else:
                    tag, topics = self._pick(p.hashtags)
                    tail.append(tag)
                    extra.topics |= topics
        if style == "news" and entry.ticker and r() < mix.cashtag:
            tail.append(f"${entry.ticker}")
        if r() < mix.emoji:
            tail.append("".join(self._pick(p.emoji[sentiment]) for _ in range(1 + (r() < 0.3))))
        if url and r() < (mix.news_url if style == "news" else mix.url):
            short = self._tco()
            extra.urls[short] = {"expanded_url": self._url(lang, style, entry)}
            tail.append(short)
        if tail:
            full = f"{text} {' '.join(dict.fromkeys(tail))}"
            text = full if len(full) <= 280 else text
        return text, extra

    def _long_text(self, lang: str, style: Style, entry: _Entry) -> tuple[str, _Extra]:
        text, extra = self._text(lang, style, entry, url=False, tail_rate=0.0)
        while len(text) <= 420:
            last = len(text) + 2 > 300
            more, more_extra = self._text(
                lang, style, entry, url=last, tail_rate=float(last), exclude=extra.template
            )
            extra.template = more_extra.template
            extra.urls |= more_extra.urls
            text = f"{_sentence(text)}\n\n{more}"
            extra.topics |= more_extra.topics
            extra.entries += [e for e in more_extra.entries if e not in extra.entries]
            extra.addressed = extra.addressed or more_extra.addressed
        return text, extra

    def _tco(self) -> str:
        return "https://t.co/" + "".join(self.rng.choices(_ALNUM, k=10))

    def _url(self, lang: str, style: Style, entry: _Entry) -> str:
        r = self.rng.random
        p = self.phrases[lang]
        if style == "news" and r() < 0.75:
            media = self._pick(self.population.media[lang])
            return (
                f"https://www.{media.username.lower()}.{p.news_words[0]}/"
                f"{self._pick(p.news_words[1:])}/{2026}/{entry.slug}-"
                f"{self._pick(p.news_words[1:])}-{100000 + int(r() * 900000)}"
            )
        return f"https://www.{entry.slug}.com/{self._pick(p.brand_paths)}"

    # payload

    def _entities(self, text: str, urls: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "#" in text:
            tags = [
                {"start": m.start(), "end": m.end(), "tag": m.group(1)}
                for m in HASHTAG_RE.finditer(text)
            ]
            if tags:
                out["hashtags"] = tags
        if "@" in text:
            mentions = []
            for m in MENTION_RE.finditer(text):
                u = self.population.by_handle.get(m.group(1).lower())
                if u is not None:
                    mentions.append(
                        {"start": m.start(), "end": m.end(), "username": u.username, "id": u.id}
                    )
            if mentions:
                out["mentions"] = mentions
        if "$" in text:
            cash = [
                {"start": m.start(), "end": m.end(), "tag": m.group(1)}
                for m in CASHTAG_RE.finditer(text)
            ]
            if cash:
                out["cashtags"] = cash
        if "https://" in text:
            links = []
            for m in URL_RE.finditer(text):
                info = urls.get(m.group(0))
                if info is not None:
                    expanded = info["expanded_url"]
                    display = expanded.split("://", 1)[-1].removeprefix("www.")
                    if len(display) > 26:
                        display = display[:26] + "…"
                    links.append(
                        {
                            "start": m.start(),
                            "end": m.end(),
                            "url": m.group(0),
                            "expanded_url": expanded,
                            "display_url": display,
                        }
                    )
            if links:
                out["urls"] = links
        return out

    def _metrics(self, author: _User) -> dict[str, int]:
        r = self.rng.random
        scale = 0.002 * author.followers + 0.5
        likes = int(scale * -math.log(1.0 - r()))
        return {
            "retweet_count": int(likes * 0.3 * r()),
            "reply_count": int(likes * 0.15 * r()),
            "like_count": likes,
            "quote_count": int(likes * 0.05 * r()),
            "bookmark_count": int(likes * 0.1 * r()),
            "impression_count": int(author.followers * (0.02 + 0.2 * r())) + likes * 30,
        }

    def _emit(
        self,
        pid: str,
        kind: PostKind,
        style: Style,
        lang: str,
        author: _User,
        text: str,
        extra: _Extra,
        conv: str,
        *,
        note: str | None = None,
        ref: tuple[str, _Recent] | None = None,
    ) -> SyntheticPost:
        mix = self.mix
        assert mix is not None
        data: dict[str, Any] = {
            "id": pid,
            "text": text,
            "created_at": self.stamp,
            "author_id": author.id,
            "conversation_id": conv,
            "lang": lang,
            "edit_history_tweet_ids": [pid],
            "possibly_sensitive": False,
            "reply_settings": "everyone",
            "public_metrics": self._metrics(author)
            if kind != "retweet"
            else {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 0,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 0,
            },
        }
        users = {author.id: author.wire}
        tweets: list[bytes] = []
        if author.official:  # an account posting is matched by its from: rule
            for e in self.entries:
                if author in e.accounts and e not in extra.entries:
                    extra.entries.append(e)
        if ref is not None:
            rtype, parent = ref
            data["referenced_tweets"] = [{"type": rtype, "id": parent.id}]
            tweets.append(parent.tweet)
            users[parent.author.id] = parent.author.wire
            if rtype == "replied_to":
                data["in_reply_to_user_id"] = parent.author.id
        entities = self._entities(text, extra.urls)
        if entities:
            data["entities"] = entities
            for m in entities.get("mentions", ()):
                u = self.population.by_handle[m["username"].lower()]
                users[u.id] = u.wire
        if note is not None:
            data["note_tweet"] = {"text": note, "entities": self._entities(note, extra.urls)}
        entries = sorted(extra.entries, key=lambda e: self.entry_order[id(e)])
        topics = sorted(extra.topics, key=self.topic_order.__getitem__)
        if kind != "retweet" and self.rng.random() < mix.annotated:
            anns = [e.annotation for e in entries if e.annotation]
            for t in topics:
                anns += self.topic_annotations[t]
            if anns:
                data["context_annotations"] = anns
        rules = [e.rule for e in entries if e.rule] + [self.topic_rules[t] for t in topics]
        payload = b"".join(
            (
                b'{"data":',
                to_json(data),
                b',"includes":{"users":[',
                b",".join(users.values()),
                b'],"tweets":[' + b",".join(tweets) + b"]}" if tweets else b"]}",
                b',"matching_rules":[',
                b",".join(rules),
                b"]}",
            )
        )
        if kind != "retweet":
            tweet: dict[str, Any] = {
                "id": pid,
                "text": text,
                "author_id": author.id,
                "created_at": self.stamp,
                "lang": lang,
                "conversation_id": conv,
                "edit_history_tweet_ids": [pid],
            }
            if note is not None:
                tweet["note_tweet"] = {"text": note}
            main = extra.entries[0] if extra.entries else self.entries[0]
            self._remember(
                _Recent(
                    pid,
                    to_json(tweet),
                    author,
                    text,
                    lang,
                    conv,
                    style,
                    extra.sentiment,
                    main,
                    tuple(entries),
                    frozenset(topics),
                    extra.urls,
                    extra.addressed,
                )
            )
        return SyntheticPost(
            payload,
            kind,
            style,
            extra.sentiment,
            lang,
            tuple(e.name for e in entries if e.kind),
            tuple(topics),
        )


@dataclass(slots=True)
class _Extra:
    """What a post's text is about, gathered while it is written."""

    sentiment: Sentiment
    entries: list[_Entry]
    topics: set[str]
    urls: dict[str, dict[str, str]]
    addressed: _Entry | None
    template: _Tmpl | None = None


def _sentence(text: str) -> str:
    """`text` ending like a sentence, so that another may follow."""
    return text if text.endswith((".", "!", "?", "…")) else text + "."


LANGUAGES: tuple[str, ...] = tuple(PHRASES)
"""The languages the generator can write."""
