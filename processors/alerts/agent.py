"""The alert side of the Faust app: what each enriched post feeds, and the crisis agent.

- `AlertFeed` is called by the enrich agent on each batch it enriched (the posts are in memory
  there: reading them back from the enriched topic would cost a second consumption and parse):
  it checks each author for impersonation and makes one observation per (post, watch entry)
  (`veille.models.Observation`), sent as one record per entry and batch
  (`veille.models.ObservationBatch`) keyed by the entry, so that all of an entry's
  observations reach the same worker however many run, in a few records a second;
- the `veille.alerts.crisis` agent reads the observations, feeds the `CrisisDetector`, and
  produces the alerts it raises or updates to the alerts topic (the sink stores and notifies).

Batches are acknowledged only after their output is delivered. The detectors keep their state in
memory: after a restart the crisis baseline is learnt again (no alert during the warm-up) and an
impersonator may be reported again (same key: one alert in the table).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import faust
from pydantic import ValidationError

from processors.alerts.crisis import CrisisDetector, CrisisSettings
from processors.alerts.impersonation import ImpersonationDetector
from processors.delivery import Delivery, Record, batch_or_exit, dead_letter
from veille.models import EnrichedPost, Observation, ObservationBatch
from veille.settings import Settings
from veille.stats import StatusFile
from veille.text import fold
from veille.watch import WatchConfig

logger = logging.getLogger(__name__)

_WORD = re.compile(r"#?\w{4,}")
MAX_TERMS = 30


def terms(text: str) -> tuple[str, ...]:
    """Words (4+ letters) and hashtags of a post, folded, without links and mentions."""
    cleaned = re.sub(r"https?://\S+|@\w+", " ", fold(text))
    return tuple(dict.fromkeys(_WORD.findall(cleaned)))[:MAX_TERMS]


def observations(post: EnrichedPost, partition: int = 0) -> list[Observation]:
    minute = int(post.created_at.timestamp() // 60)
    words = terms(post.text)
    m = post.metrics
    engagement = m.like_count + m.retweet_count + m.reply_count + m.quote_count
    return [
        Observation(
            entry=entry,
            minute=minute,
            negative=post.sentiment == "negative",
            terms=words,
            post_id=post.id,
            author=post.author.username,
            text=post.text[:280],
            engagement=engagement,
            partition=partition,
        )
        for entry in post.entries
    ]


class AlertFeed:
    """Turns enriched posts into observations and impersonation alerts (records to deliver)."""

    def __init__(self, settings: Settings, watch: WatchConfig) -> None:
        self.k = settings.kafka
        self.impersonation = ImpersonationDetector(watch)
        # what was fed, in the status file: `veille up` waits on these before stopping
        self.counters: dict[str, Any] = {"observations": 0, "alerts": 0}

    def records(self, posts: Sequence[tuple[int, EnrichedPost]]) -> list[Record]:
        """The impersonation alerts of a batch, then one observations record per entry (in
        the order the entries first appear; each entry's observations in the posts' order)."""
        out: list[Record] = []
        by_entry: dict[str, list[Observation]] = {}
        for partition, post in posts:
            alert = self.impersonation.check(post.author, post.created_at)
            if alert is not None:
                self.counters["alerts"] += 1
                out.append(
                    (self.k.alerts_topic, alert.key.encode(), alert.model_dump_json().encode())
                )
            for ob in observations(post, partition):
                by_entry.setdefault(ob.entry, []).append(ob)
        for entry, obs in by_entry.items():
            self.counters["observations"] += len(obs)
            batch = ObservationBatch(entry=entry, observations=tuple(obs))
            out.append((self.k.observations_topic, batch.key, batch.model_dump_json().encode()))
        return out


def read_observations(value: bytes) -> tuple[Observation, ...]:
    """The observations of a record of the observations topic: a batch, or a single observation
    written by an earlier worker. Raises ValueError (pydantic's) on anything else, the batch's
    error for what looks like a batch."""
    if b'"observations"' not in value:
        return (Observation.model_validate_json(value),)
    try:
        return ObservationBatch.model_validate_json(value).observations
    except ValidationError as batch_error:
        try:  # a single observation whose text says "observations"
            return (Observation.model_validate_json(value),)
        except ValidationError:
            raise batch_error from None


def register(
    app: faust.App, settings: Settings, feed: AlertFeed, status: StatusFile | None = None
) -> None:
    """Declare the crisis agent on `app` (the feed is called by the enrich agent)."""
    k = settings.kafka
    a, v = settings.alert, settings.process
    observed = app.topic(k.observations_topic, value_serializer="raw", key_serializer="raw")
    crisis = CrisisDetector(
        CrisisSettings(
            sensitivity=a.sensitivity,
            min_volume=a.min_volume,
            cooldown_min=a.cooldown_min,
        )
    )
    delivery = Delivery(k, "veille-alerts")
    counters = feed.counters
    counters.setdefault("observations_done", 0)

    @app.agent(observed, name="veille.alerts.crisis")
    async def detect(stream: faust.StreamT[bytes]) -> None:
        take_events = stream.take_events  # type: ignore[attr-defined]
        async for events in take_events(v.batch_size, within=v.batch_window_s):
            with batch_or_exit("a crisis batch"):
                dead: list[Record] = []
                done = 0
                for ev in events:
                    try:
                        obs = read_observations(ev.value)
                    except (ValueError, TypeError) as e:
                        d = dead_letter(ev, f"invalid observation: {e}")
                        dead.append((k.dlq_topic, d.key, d.model_dump_json().encode()))
                        done += 1  # read and handled: a record the feed never counted
                        continue
                    for ob in obs:
                        crisis.observe(ob, lane=ev.message.partition)
                    done += len(obs)
                raised = crisis.evaluate()
                for a in raised:
                    logger.warning(
                        "alert key=%s kind=%s entry=%s %s", a.key, a.kind, a.entry, a.detail
                    )
                out = [
                    (k.alerts_topic, a.key.encode(), a.model_dump_json().encode()) for a in raised
                ]
                await delivery.send([*out, *dead], "alerts")
                counters["alerts"] += len(raised)
                counters["observations_done"] += done
                if status is not None:
                    status.update(force=True, **counters)
