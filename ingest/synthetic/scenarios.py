"""Scenarios of the synthetic source: what the stream is made of and what happens in it, when.

A `Scenario` is a background `Mix` (the proportions of kinds, styles, languages and entry kinds
of ordinary traffic; it may change with event time through `Scenario.mix_at`) and a tuple of
`EventPlan`s: extra traffic (a crisis burst, an impostor's replies, a wave of questions to the
official accounts, an emerging hashtag) placed at offsets from the scenario's start. The
offsets and intensities here are the plan; `ingest.synthetic.builder` turns a plan into dated
events about a given watch configuration (`ingest.synthetic.timeline.ScenarioInfo`).

Traffic volume is counted in event time (posts per simulated minute) and follows
`DAILY_PROFILE`, the same shape every day: quiet at night, busy from late morning to evening.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from veille.models import EntryKind

PostKind = Literal["original", "reply", "official_reply", "retweet", "quote"]
Style = Literal["question", "complaint", "praise", "request", "news", "chatter", "care", "reaction"]
"""What a post does: the generator's ground truth, finer than veille's `Intent`."""
EventKind = Literal["crisis", "impersonation", "care", "trending"]

DEFAULT_VOLUME = 30.0
"""Background posts per simulated minute, averaged over a day (43,200 a simulated day)."""

_HOURLY = (
    # 00h   01h   02h   03h   04h   05h   06h   07h   08h   09h   10h   11h
    0.38, 0.24, 0.16, 0.12, 0.12, 0.17, 0.36, 0.72, 1.08, 1.32, 1.42, 1.48,
    # 12h   13h   14h   15h   16h   17h   18h   19h   20h   21h   22h   23h
    1.55, 1.46, 1.38, 1.36, 1.42, 1.50, 1.58, 1.64, 1.58, 1.38, 1.02, 0.66,
)  # fmt: skip
DAILY_PROFILE: tuple[float, ...] = tuple(h * 24 / sum(_HOURLY) for h in _HOURLY)
"""Background volume at the start of each UTC hour, as a multiple of the daily mean (mean 1);
linear in between. The simulated audience is European: UTC stands for local time."""

NOISE_BLOCK_S = 900
"""The slow multiplicative noise on the background volume changes every 15 simulated minutes."""


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
class EventPlan:
    """Extra traffic of one kind, placed in event time relative to the scenario's start.

    `volume` is the extra posts per simulated minute at full intensity, as a multiple of the
    source's background `volume`, except for a crisis, where it is a multiple of the target
    brand's own mean per-minute volume (so 8.0 means "eight times what is usually said about the
    brand"). The intensity rises from zero at `start_s` to full at `start_s + ramp_s`
    (quadratically), stays there, and declines linearly over the last `fade_s` before
    `start_s + duration_s` (None: it lasts until the stream ends).
    """

    kind: EventKind
    start_s: float
    duration_s: float | None
    volume: float
    ramp_s: float = 0.0
    fade_s: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """A named stream shape: a background mix and the events planned in it.

    Override `mix_at` for a background whose proportions change with event time.
    """

    name: str
    description: str
    mix: Mix
    events: tuple[EventPlan, ...] = ()

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
    entry_kinds={
        "brand": 0.55,
        "competitor": 0.28,
        "partner": 0.09,
        "supplier": 0.08,
        "sector": 0.06,
    },
)

_H = 3600.0
_MIN = 60.0

SCENARIOS: dict[str, Scenario] = {
    "calm": Scenario("calm", "an ordinary day: the daily cycle, mixed sentiment, no anomaly", CALM),
    "crisis": Scenario(
        "crisis",
        "a calm morning, then at +14h a 45-minute burst of outraged posts about an outage of "
        "the first brand, eight times its usual volume, with its own hashtags",
        CALM,
        (EventPlan("crisis", 14 * _H, 45 * _MIN, 8.0, fade_s=15 * _MIN),),
    ),
    "impersonation": Scenario(
        "impersonation",
        "calm traffic; from +10h to +13h a young look-alike of the first brand's care account "
        "replies to customers who complained, asking them for personal details by DM",
        CALM,
        (EventPlan("impersonation", 10 * _H, 3 * _H, 0.008),),
    ),
    "care": Scenario(
        "care",
        "calm traffic plus, from +8h to +20h, a wave of questions and complaints to the "
        "official accounts; a known part is answered after minutes to hours, the rest never",
        CALM,
        (EventPlan("care", 8 * _H, 12 * _H, 0.5),),
    ),
    "trending": Scenario(
        "trending",
        "calm traffic; from +16h a new product hashtag of the first brand, absent before, "
        "grows from nothing to a frequent term at +23h and stays",
        CALM,
        (EventPlan("trending", 16 * _H, None, 0.4, ramp_s=7 * _H),),
    ),
}
"""Every scenario by name: calm, crisis, impersonation, care, trending."""
