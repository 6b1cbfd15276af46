"""What a scenario does, when, to whom: the dated events of one run, known before it starts.

`build_info` turns a `Scenario`'s plan into a `ScenarioInfo` for a watch configuration, a
seed and a start time: the background traffic (posts per simulated minute, with its daily
cycle and noise) and each event's simulated start and end, target brand, distinctive terms and,
for impersonation, the look-alike account. The generator reads the same object, so what it
reports is what it does. `CareLedger` is the one piece of ground truth known only as posts are
generated: which posts to official accounts were answered, and by which reply.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from ingest.synthetic.phrases import event_phrases
from ingest.synthetic.population import CARE_HINTS, TWEPOCH_MS, ascii_word
from ingest.synthetic.scenarios import (
    DAILY_PROFILE,
    NOISE_BLOCK_S,
    EventKind,
    EventPlan,
    Mix,
    Scenario,
)
from veille.text import fold
from veille.watch import WatchConfig, WatchEntry

CARE_ANSWER_RATE: Mapping[str, float] = {
    "question": 0.75,
    "request": 0.7,
    "complaint": 0.6,
    "praise": 0.35,
    "reaction": 0.2,
}
"""Care scenario: the chance that a post to an official account is answered, by its style
(other styles: `CARE_ANSWER_OTHER`)."""
CARE_ANSWER_OTHER = 0.1
CARE_DELAY_MEDIAN_S = 1200.0
CARE_DELAY_SIGMA = 1.1  # of the log of the delay: 5% under ~3 min, 5% over ~2 h
CARE_DELAY_RANGE_S = (60.0, 8 * 3600.0)
CARE_OFFICE_HOURS = (7, 22)
"""UTC hours when the care desk posts; an answer due at night waits for the morning."""


def default_start(now: datetime | None = None) -> datetime:
    """Midnight UTC of the day before `now` (default: the current time): a whole simulated day
    fits before the present, and a run started today and tomorrow differ only by the date."""
    now = now or datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=1)


@dataclass(frozen=True)
class LookalikeAccount:
    """An impostor imitating an official account: similar handle and name, young, unverified."""

    id: str
    username: str
    name: str
    imitates: str  # the official handle it imitates
    created_at: datetime
    followers_count: int
    following_count: int
    tweet_count: int
    description: str


@dataclass(frozen=True)
class ScenarioEvent:
    """One planned event, dated in simulated time.

    Between `start` (inclusive) and `end` (exclusive; None: until the stream ends) the source
    adds `per_minute_at(t)` posts per simulated minute to the background: rising from zero at
    `start` to `per_minute` at `full`, declining linearly from `fade` to zero at `end`.
    `terms` are its distinctive hashtags or words (absent from the background); `entry` is the
    watch entry it concerns (the configuration's first brand; "" in a topics-only configuration).

    By kind: crisis: outraged posts about `entry` (originals, "same here" replies, reposts;
    `terms`: its hashtags, one for all languages first; `details`: `factor`, the multiple of
    the brand's usual volume, and `brand_per_minute`). impersonation: `account`'s replies to
    customers who complained to `entry`'s accounts in the last hour (an arrival with no one to
    reply to becomes a background post). care: questions, complaints and requests to official
    accounts (`details`: answer rates by style, delays, office hours). trending: posts about a
    new product, `terms` == (hashtag, name), with reposts; `full` is when it peaks.
    """

    kind: EventKind
    description: str
    entry: str
    start: datetime
    end: datetime | None
    full: datetime
    fade: datetime | None
    per_minute: float
    terms: tuple[str, ...] = ()
    account: LookalikeAccount | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def per_minute_at(self, at: datetime) -> float:
        """The extra posts per simulated minute at `at` (0.0 outside the event)."""
        return event_rate(self, at.timestamp())

    def active(self, at: datetime) -> bool:
        return at >= self.start and (self.end is None or at < self.end)


def event_rate(e: ScenarioEvent, t: float) -> float:
    """`e`'s extra posts per simulated minute at `t` (epoch seconds)."""
    start = e.start.timestamp()
    if t < start or (e.end is not None and t >= e.end.timestamp()):
        return 0.0
    full = e.full.timestamp()
    level = 1.0 if t >= full else ((t - start) / (full - start)) ** 2
    if e.fade is not None and e.end is not None and t > (fade := e.fade.timestamp()):
        level *= (e.end.timestamp() - t) / (e.end.timestamp() - fade)
    return e.per_minute * level


@dataclass(frozen=True)
class ScenarioInfo:
    """A run's timeline: the background traffic and the events, in simulated (event) time.

    The background has `volume` posts per simulated minute on average over a day, shaped by
    `daily_profile` (24 hourly multipliers of mean 1, linear in between, UTC) and a slow noise
    (log-normal, `noise` sd, a new value every 15 simulated minutes, smoothly interpolated).
    The generator reads the rates at the start of each simulated minute and at event bounds.
    """

    name: str
    description: str
    start_time: datetime
    seed: int
    volume: float
    noise: float
    daily_profile: tuple[float, ...]
    events: tuple[ScenarioEvent, ...]

    def event(self, kind: EventKind) -> ScenarioEvent:
        """The first event of `kind`. Raises KeyError when the scenario has none."""
        for e in self.events:
            if e.kind == kind:
                return e
        raise KeyError(f"scenario {self.name!r} has no {kind} event")

    def background_per_minute(self, at: datetime) -> float:
        """Background posts per simulated minute at `at` (without the events)."""
        return background_rate(self, at.timestamp())

    def expected_posts(self, start: datetime, end: datetime) -> float:
        """About how many posts the source dates in [start, end): background and events (the
        care scenario's official answers come on top), summed minute by minute."""
        total = 0.0
        t = start
        while t < end:
            step = min(end, t + timedelta(minutes=1))
            rate = self.background_per_minute(t) + sum(e.per_minute_at(t) for e in self.events)
            total += rate * (step - t).total_seconds() / 60.0
            t = step
        return total

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def background_rate(info: ScenarioInfo, t: float) -> float:
    """Background posts per simulated minute at `t` (epoch seconds)."""
    return info.volume * _profile(info.daily_profile, t) * _noise(info.seed, info.noise, t)


def _profile(profile: Sequence[float], t: float) -> float:
    hours = (t % 86400.0) / 3600.0
    i = int(hours)
    f = hours - i
    return profile[i] * (1.0 - f) + profile[(i + 1) % 24] * f


def _noise(seed: int, sd: float, t: float) -> float:
    if sd <= 0:
        return 1.0
    x = t / NOISE_BLOCK_S - 0.5
    k = math.floor(x)
    f = x - k
    z = _gauss(seed, k) * (1.0 - f) + _gauss(seed, k + 1) * f
    return math.exp(sd * z - sd * sd / 2)


@lru_cache(maxsize=256)
def _gauss(seed: int, block: int) -> float:
    return random.Random(f"veille-noise-{seed}-{block}").gauss(0.0, 1.0)


# --- building a timeline --------------------------------------------------------------------


def target_entry(cfg: WatchConfig) -> WatchEntry | None:
    """The entry events are about: the first brand, else the first entry of any kind."""
    if cfg.brands:
        return cfg.brands[0]
    entries = cfg.entries()
    return entries[0][1] if entries else None


def care_account(accounts: Sequence[str]) -> str | None:
    """The account that answers customers: the first with a care-like name, else the last."""
    if not accounts:
        return None
    return next((a for a in accounts if any(h in a.lower() for h in CARE_HINTS)), accounts[-1])


def brand_word(cfg: WatchConfig) -> str:
    """The short name hashtags are made of: the target entry's first word ("Acme Energy" ->
    "Acme"), else the first topic's."""
    entry = target_entry(cfg)
    name = entry.name if entry else next(iter(cfg.topics), "Brand")
    for word in re.findall(r"\w+", name):
        ascii_ = ascii_word(word)
        if ascii_:
            return ascii_[:1].upper() + ascii_[1:]
    return "Brand"


def build_info(
    cfg: WatchConfig,
    scenario: Scenario,
    languages: Sequence[str],
    seed: int,
    start: datetime,
    volume: float,
    noise: float,
) -> ScenarioInfo:
    """The dated timeline of `scenario` for this configuration. Raises ValueError when the
    configuration lacks what an event needs (a brand with official accounts, for impersonation
    and care; an entry, for a crisis)."""
    events = tuple(
        _event(cfg, scenario.mix, plan, languages, seed, start, volume) for plan in scenario.events
    )
    return ScenarioInfo(
        scenario.name, scenario.description, start, seed, volume, noise, DAILY_PROFILE, events
    )


def _event(
    cfg: WatchConfig,
    mix: Mix,
    plan: EventPlan,
    languages: Sequence[str],
    seed: int,
    start: datetime,
    volume: float,
) -> ScenarioEvent:
    entry = target_entry(cfg)
    at = start + timedelta(seconds=plan.start_s)
    end = None if plan.duration_s is None else at + timedelta(seconds=plan.duration_s)
    full = at + timedelta(seconds=plan.ramp_s)
    fade = end - timedelta(seconds=plan.fade_s) if end is not None and plan.fade_s else None
    word = brand_word(cfg)
    name = entry.name if entry else ""
    per_minute = plan.volume * volume
    terms: tuple[str, ...] = ()
    account = None
    details: dict[str, Any] = {}
    if plan.kind in ("crisis", "impersonation", "care") and entry is None:
        raise ValueError(f"a {plan.kind} scenario needs a brand in the watch configuration")
    if plan.kind == "crisis":
        share = _entry_share(cfg, mix)
        per_minute = plan.volume * share * volume
        details = {"factor": plan.volume, "brand_per_minute": share * volume}
        crisis_tags = event_phrases().crisis_tags
        tags = [crisis_tags["all"]] + [crisis_tags[lang] for lang in languages]
        terms = tuple(dict.fromkeys(t.format(w=word) for t in tags))
        description = f"an outage of {name}: outraged posts, {plan.volume:g}x its usual volume"
    elif plan.kind == "impersonation":
        assert entry is not None
        handle = care_account(entry.accounts)
        if handle is None:
            raise ValueError("an impersonation scenario needs a brand with an official account")
        account = _lookalike(cfg, entry, handle, seed, at)
        description = (
            f"@{account.username} imitates @{handle}: replies to customers who complained to "
            f"{name}, asking for personal details by DM"
        )
    elif plan.kind == "care":
        if not any(e.accounts for _, e in cfg.entries()):
            raise ValueError("a care scenario needs an entry with an official account")
        details = {
            "answer_rate": dict(CARE_ANSWER_RATE),
            "answer_rate_other": CARE_ANSWER_OTHER,
            "delay_median_s": CARE_DELAY_MEDIAN_S,
            "delay_range_s": list(CARE_DELAY_RANGE_S),
            "office_hours_utc": list(CARE_OFFICE_HOURS),
        }
        description = "a wave of questions and complaints to the official accounts"
    else:
        tag, term = _product(cfg, word, seed)
        terms = (tag, term)
        description = f"an emerging hashtag, {tag}: {term}, new, talked about more and more"
    return ScenarioEvent(
        plan.kind, description, name, at, end, full, fade, per_minute, terms, account, details
    )


def _entry_share(cfg: WatchConfig, mix: Mix) -> float:
    """The share of background posts chosen to be about the target entry."""
    entries = cfg.entries()
    if not entries:
        return 1.0
    kind = entries[0][0] if not cfg.brands else "brand"
    weights = {k: mix.entry_kinds.get(k, 0.0) for k, _ in entries}
    total = sum(weights.values()) or 1.0
    same = sum(1 for k, _ in entries if k == kind)
    return weights[kind] / total / same if weights[kind] else 1.0 / len(entries)


_SUBSTITUTIONS = (("o", "0"), ("l", "I"), ("l", "1"), ("i", "l"), ("m", "rn"), ("O", "0"))
_ADDED = ("support", "help", "official", "helpdesk", "care", "team", "hq", "service")


def _confuse(text: str, rng: random.Random) -> str:
    """`text` with one character swapped for a look-alike (o/0, l/I, l/1, i/l, m/rn)."""
    spots = [(i, new, len(old)) for old, new in _SUBSTITUTIONS for i in _find_all(text, old)]
    if not spots:
        return text
    i, new, width = rng.choice(spots)
    return text[:i] + new + text[i + width :]


def _display(word: str) -> str:
    """A handle word as a name shows it: "hq" -> "HQ", "supp0rt" -> "Supp0rt"."""
    return word.upper() if len(word) < 3 else word[:1].upper() + word[1:]


def _find_all(text: str, sub: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(sub), text)]


def _lookalike(
    cfg: WatchConfig, entry: WatchEntry, handle: str, seed: int, at: datetime
) -> LookalikeAccount:
    rng = random.Random(f"veille-lookalike-{seed}")
    taken = {fold(a) for _, e in cfg.entries() for a in e.accounts}
    stem = entry.accounts[0].split("_")[0] if entry.accounts else handle
    care = any(h in handle.lower() for h in CARE_HINTS)
    official_name = f"{entry.name} Care" if care else entry.name
    words = [w for w in _ADDED if len(stem) + 1 + len(w) <= 15] or list(_ADDED)
    for _ in range(50):
        strategy = rng.random()
        word = rng.choice(words)
        if strategy < 0.35:  # one swapped character: acrne_care, "Acrne Care"
            username = _confuse(handle, rng)
            name = _confuse(official_name, rng)
        elif strategy < 0.7:  # an added word with a swapped character: acme_supp0rt
            shown = _confuse(word, rng)
            username = f"{stem[: 14 - len(word)]}_{shown}"
            name = f"{entry.name} {_display(shown)}"
        else:  # a swapped character and an added word: 0rbital_help
            username = f"{_confuse(stem, rng)[: 14 - len(word)]}_{word}"
            name = _confuse(f"{entry.name} {_display(word)}", rng)
        username = username[:15]
        if fold(username) not in taken and re.fullmatch(r"\w{1,15}", username):
            break
    else:  # nothing to swap and every word taken: a suffix always works
        username = f"{handle[:11]}_{rng.randrange(100, 1000)}"
        name = official_name
    created = at - timedelta(days=rng.uniform(2.0, 9.0))
    ms = int(created.timestamp() * 1000) - TWEPOCH_MS
    return LookalikeAccount(
        id=str((ms << 22) | rng.getrandbits(22)),
        username=username,
        name=name[:50],
        imitates=handle,
        created_at=created.replace(microsecond=0),
        followers_count=rng.randrange(3, 90),
        following_count=rng.randrange(40, 700),
        tweet_count=rng.randrange(6, 80),
        description=f"{entry.name} customer support 24/7. DM us for refunds and account help.",
    )


def _product(cfg: WatchConfig, word: str, seed: int) -> tuple[str, str]:
    """A new product hashtag and name, absent from everything the background writes."""
    known = {fold(t.lstrip("#")) for _, e in cfg.entries() for t in e.terms()}
    for topic in cfg.topics.values():
        known |= {fold(k.lstrip("#")) for kws in topic.keywords.values() for k in kws}
    rng = random.Random(f"veille-trend-{seed}")
    products = list(event_phrases().products)
    rng.shuffle(products)
    for p in products:
        if fold(word + p) not in known and fold(p) not in known:
            return f"#{word}{p}", f"{word} {p}"
    return f"#{word}Next{seed % 1000}", f"{word} Next"


@dataclass
class CareLedger:
    """Care scenario ground truth: every post to an official account and what became of it.

    A post counts when its author is not an official account and it mentions one or replies to
    one (originals, replies and quotes; not retweets). Each is answered (`answered`: post id ->
    the official reply's id, filled when the reply is generated), awaiting an answer planned
    for later (`awaiting`: post id -> the simulated time of the answer) or never to be answered
    (`unanswered`). Filled by the generator as it goes; read it after generation.
    """

    answered: dict[str, str] = field(default_factory=dict)
    awaiting: dict[str, datetime] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)

    def open(self) -> set[str]:
        """Posts without an official answer yet: the exact care queue after the last post."""
        return set(self.unanswered) | set(self.awaiting)

    def addressed(self) -> set[str]:
        return set(self.answered) | self.open()
