"""The alert agents: impersonation per post, crisis detection per watch entry.

- `veille.alerts.observe` reads the enriched posts; it checks each author for impersonation
  and sends one observation per (post, watch entry) to the observations topic, keyed by the
  entry, so that all of an entry's observations reach the same worker however many run;
- `veille.alerts.crisis` reads the observations, feeds the `CrisisDetector`, and produces the
  alerts it raises or updates to the alerts topic (the sink stores them and notifies).

Both work in batches and acknowledge a batch only after its output is delivered. The detectors
keep their state in memory: after a restart, the crisis baseline is learnt again (no alert
during the warm-up) and an impersonator may be reported again (same key: one alert in the
table).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import faust

from processors.alerts.crisis import CrisisDetector, CrisisSettings, Observation
from processors.alerts.impersonation import ImpersonationDetector
from processors.delivery import Record, deliver
from veille.models import EnrichedPost
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


def register(
    app: faust.App, settings: Settings, watch: WatchConfig, status: StatusFile | None = None
) -> None:
    """Declare the alert agents on `app`."""
    k = settings.kafka
    v = settings.veille
    enriched = app.topic(k.enriched_topic, value_serializer="raw", key_serializer="raw")
    observed = app.topic(k.observations_topic, value_serializer="raw", key_serializer="raw")
    alerts = app.topic(k.alerts_topic, value_serializer="raw", key_serializer="raw")
    impersonation = ImpersonationDetector(watch)
    crisis = CrisisDetector(
        CrisisSettings(
            sensitivity=v.alert_sensitivity,
            min_volume=v.alert_min_volume,
            cooldown_min=v.alert_cooldown_min,
        )
    )
    # what the agents did, in the status file: `veille up` waits on these before stopping
    counters: dict[str, Any] = {
        "observed_posts": 0,
        "observations": 0,
        "observations_done": 0,
        "alerts": 0,
    }

    def report() -> None:
        if status is not None:
            status.update(force=True, **counters)

    @app.agent(enriched, name="veille.alerts.observe")
    async def observe(stream: faust.StreamT[bytes]) -> None:
        take_events = stream.take_events  # type: ignore[attr-defined]
        async for events in take_events(v.process_batch_size, within=v.process_batch_window_s):
            records: list[Record] = []
            for ev in events:
                try:
                    post = EnrichedPost.model_validate_json(ev.value)
                except ValueError:
                    continue  # the sink dead-letters invalid enriched records
                alert = impersonation.check(post.author, post.created_at)
                if alert is not None:
                    counters["alerts"] += 1
                    records.append((alerts, alert.key.encode(), alert.model_dump_json().encode()))
                for ob in observations(post, ev.message.partition):
                    counters["observations"] += 1
                    records.append(
                        (
                            observed,
                            ob.entry.encode(),
                            json.dumps(ob.__dict__, ensure_ascii=False).encode(),
                        )
                    )
            await deliver(records, "observations")
            counters["observed_posts"] += len(events)
            report()

    @app.agent(observed, name="veille.alerts.crisis")
    async def detect(stream: faust.StreamT[bytes]) -> None:
        take_events = stream.take_events  # type: ignore[attr-defined]
        async for events in take_events(v.process_batch_size, within=v.process_batch_window_s):
            for ev in events:
                try:
                    raw = json.loads(ev.value)
                    raw["terms"] = tuple(raw.get("terms", ()))
                    crisis.observe(Observation(**raw), lane=ev.message.partition)
                except (ValueError, TypeError) as e:
                    logger.warning("ignored a malformed observation: %s", e)
            raised = crisis.evaluate()
            for a in raised:
                logger.warning("alert key=%s kind=%s entry=%s %s", a.key, a.kind, a.entry, a.detail)
            await deliver(
                [(alerts, a.key.encode(), a.model_dump_json().encode()) for a in raised], "alerts"
            )
            counters["alerts"] += len(raised)
            counters["observations_done"] += len(events)
            report()
