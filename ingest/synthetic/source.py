"""`SyntheticSource`: the synthetic generator behind the source contract, paced in wall time."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

from ingest.base import Source, SourceRecord
from ingest.synthetic.builder import build_info
from ingest.synthetic.generator import Generator
from ingest.synthetic.phrases import LANGUAGES, phrases
from ingest.synthetic.population import TWEPOCH_MS
from ingest.synthetic.posts import SyntheticPost
from ingest.synthetic.scenarios import DEFAULT_VOLUME, SCENARIOS
from ingest.synthetic.timeline import CareLedger, ScenarioInfo, default_start
from veille.watch import WatchConfig

logger = logging.getLogger(__name__)

DEFAULT_NOISE = 0.08

_MAX_LAG_S = 1.0  # a paced source that falls further behind forgets the backlog
_MIN_SLEEP_S = 0.001


class SyntheticSource(Source):
    """Generated X API v2 posts about the watched entries, in simulated event time.

    Two clocks. Event time (the posts' `created_at` and ids) starts at `start_time` (default:
    `default_start()`, midnight UTC of the day before construction) and runs at the scenario's
    traffic: `volume` background posts per simulated minute on average (a daily cycle, quiet
    at night, busy in the day, the same each day, with a mild noise) plus the scenario's
    events. Wall time is `rate`: payloads per second out of `records()` (None or 0: as fast
    as the consumer takes them). So at `rate=200` and the default volume a simulated day
    (~43,200 posts) passes in ~3.6 minutes, and a source left running dates its posts ahead
    of the real clock after a while.

    Ends after `count` posts or `duration` of simulated time, whichever comes first (both None:
    never before `stop()`). `records()`, `posts()`, `payloads()` and `generate()` each start
    again from the first post: one seed, start time, scenario and volume give the same bytes.
    `scenario_info()` tells when the scenario's events happen; `care_ledger` which posts to
    official accounts the last iteration answered (care scenario).

    Raises `ValueError` for an unknown scenario (listing the valid ones), a negative rate,
    count or duration, a volume that is not positive, a start time without a time zone or
    before X's ids, a watch configuration whose languages the generator cannot write, or one
    that lacks what the scenario needs (a brand; official accounts for impersonation and care).

    With a `state_file`, the timeline continues across restarts: each record carries how many
    posts came before it and its event time; the last one Kafka acknowledged is saved there
    (about once a second and at `close()`), and `start()` of a source with the same seed and
    scenario moves `start_time` just after it (the scenario's events are planned again from
    there) and counts `count` from where it was.
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
        volume: float = DEFAULT_VOLUME,
        noise: float = DEFAULT_NOISE,
        duration: timedelta | None = None,
        state_file: Path | None = None,
    ) -> None:
        super().__init__()
        if rate is not None and (not math.isfinite(rate) or rate < 0):
            raise ValueError(f"rate must be a positive number of posts per second, not {rate}")
        if count is not None and count < 0:
            raise ValueError(f"count must be positive, not {count}")
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; valid: {', '.join(SCENARIOS)}")
        if not math.isfinite(volume) or volume <= 0:
            raise ValueError(f"volume must be a positive number of posts per minute, not {volume}")
        if not math.isfinite(noise) or not 0 <= noise <= 1:
            raise ValueError(f"noise must be between 0 and 1, not {noise}")
        if duration is not None and duration < timedelta(0):
            raise ValueError(f"duration must be positive, not {duration}")
        if start_time is not None and start_time.tzinfo is None:
            raise ValueError("start_time needs a time zone (X timestamps are UTC)")
        if start_time is not None and start_time.timestamp() * 1000 < TWEPOCH_MS:
            raise ValueError("start_time must be after 2010-11-04, when X post ids begin")
        wanted = watch.languages or LANGUAGES
        languages = tuple(lang for lang in wanted if lang in phrases())
        if not languages:
            raise ValueError(
                f"the synthetic source writes {', '.join(LANGUAGES)}; "
                f"the watch configuration asks only for {', '.join(wanted)}"
            )
        self.watch = watch
        self.rate = rate or None
        self.seed = seed
        self.count = count
        self.duration = duration
        self.start_time = start_time or default_start()
        self.scenario = SCENARIOS[scenario]
        self.languages = languages
        self.skipped_languages = tuple(lang for lang in wanted if lang not in phrases())
        self.volume = volume
        self.noise = noise
        self.info = build_info(
            watch, self.scenario, languages, seed, self.start_time, volume, noise
        )
        self.care_ledger = CareLedger()
        self.state_file = state_file
        self.done = 0
        self._acked: tuple[int, str] | None = None
        self._saved_at = 0.0

    def start(self) -> None:
        """Continue the timeline saved in `state_file` by an earlier run, if any."""
        if self.state_file is None:
            return
        try:
            state = json.loads(self.state_file.read_text())
            if state["seed"] != self.seed or state["scenario"] != self.scenario.name:
                return
            last = datetime.fromisoformat(state["time"])
            done = int(state["n"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        self.done = done
        if self.count is not None:
            self.count = max(0, self.count - done)
        self.start_time = last + timedelta(milliseconds=1)
        self.info = build_info(
            self.watch,
            self.scenario,
            self.languages,
            self.seed,
            self.start_time,
            self.volume,
            self.noise,
        )
        logger.info("synthetic timeline continues after n=%d time=%s", done, last.isoformat())

    def acknowledged(self, position: Any) -> None:
        self._acked = position
        if time.monotonic() - self._saved_at >= 1.0:
            self._save()

    def _save(self) -> None:
        if self.state_file is None or self._acked is None:
            return
        n, at = self._acked
        state = {"seed": self.seed, "scenario": self.scenario.name, "n": n, "time": at}
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_file)
        self._saved_at = time.monotonic()

    def close(self) -> None:
        """Save how far Kafka acknowledged."""
        self._save()

    def scenario_info(self) -> ScenarioInfo:
        """The run's timeline: start time, traffic, and each event's simulated start and end."""
        return self.info

    def posts(self) -> Iterator[SyntheticPost]:
        """Unpaced posts with their ground truth, from the first, up to `count` or `duration`.

        Starts a new `care_ledger`, which it fills as it goes.
        """
        if self.skipped_languages:
            logger.warning(
                "synthetic source cannot write languages=%s; skipped",
                ",".join(self.skipped_languages),
            )
        self.care_ledger = CareLedger()
        gen = Generator(self.watch, self.scenario, self.info, self.languages, self.care_ledger)
        count = math.inf if self.count is None else self.count
        n = 0
        if self.duration is None:
            while n < count:
                yield gen.next_post()
                n += 1
            return
        end = (self.start_time + self.duration).timestamp()
        while n < count and gen.next_time_s() < end:
            yield gen.next_post()
            n += 1

    def payloads(self) -> Iterator[bytes]:
        """Unpaced payloads, from the first, up to `count` or `duration`."""
        return (p.payload for p in self.posts())

    def generate(self, n: int) -> list[bytes]:
        """The first `n` payloads (fewer when `count` or `duration` ends sooner), unpaced."""
        return list(islice(self.payloads(), n))

    def records(self) -> Iterator[SourceRecord]:
        """Payloads at `rate` per second, released in small bursts; ends at `count`,
        `duration` or stop()."""
        rate = self.rate
        t0 = time.monotonic()
        for n, post in enumerate(self.posts()):
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
            position = (self.done + n + 1, post.created_at.isoformat())
            yield SourceRecord(payload=post.payload, origin=f"synthetic:{n}", position=position)
