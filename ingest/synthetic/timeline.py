"""What a scenario does, when, to whom: the dated events of one run, known before it starts.

`ScenarioInfo` is a `Scenario`'s plan dated for a watch configuration, a seed and a start time
(`ingest.synthetic.builder.build_info` makes it): the background traffic (posts per simulated
minute, with its daily cycle and noise) and each event's simulated start and end, target brand,
distinctive terms and, for impersonation, the look-alike account. The generator reads the same
object, so what it reports is what it does. `CareLedger` is the one piece of ground truth known
only as posts are generated: which posts to official accounts were answered, and by which reply.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from ingest.synthetic.scenarios import NOISE_BLOCK_S, EventKind

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
    watch entry it concerns (the configuration's first brand; "" in a sector-only configuration).

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
