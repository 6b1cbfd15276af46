"""Crisis detection per watch entry: volume spikes and sentiment dips, in event time.

`CrisisDetector` counts each entry's posts and negative posts per minute of `created_at` (event
time, so replayed and simulated streams behave like live ones). Posts arrive in event-time order
within a Kafka partition but not across partitions (a worker catching up may read one partition
hours ahead of another), so observations wait in a buffer until their minute is complete: older
than the newest minute of every partition heard from recently (the watermark). Each complete
minute of each entry is then evaluated once, in order, comparing:

- **volume**: the posts of the current minute against the entry's per-minute baseline — the same
  time of day on previous days when at least `seasonal_days` days of history exist, else the
  preceding `baseline_min` minutes (and never below the last quarter hour's mean, so a rising
  morning is not a spike) — a spike is at least `min_volume` posts, more than
  mean + `sensitivity` x standard deviation and more than `min_ratio` x the mean;
- **sentiment**: the share of negative posts over the last `dip_window_min` minutes against the
  baseline share — a dip is at least twice `min_volume` posts and a share above the baseline by
  more than max(`min_dip`, `sensitivity` + 2 binomial standard deviations).

No alert is raised before `warmup_min` minutes of history. One episode makes one alert: its key
(`crisis:<entry>:<start minute>`) stays the same while the anomaly lasts (updated at once when it
shows a new signal — a spike that turns negative becomes a crisis — and otherwise at most every
`update_min` minutes with the latest figures), and a new episode can start only after
`cooldown_min` quiet minutes. Each alert says why: the volume against its baseline, the share
negative, the terms over-represented in the last minutes, and sample posts.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from veille.models import Alert, Observation

DAY_MIN = 1440


@dataclass(frozen=True)
class CrisisSettings:
    sensitivity: float = 4.0
    min_volume: int = 20
    min_ratio: float = 3.0
    min_dip: float = 0.2
    baseline_min: int = 60
    seasonal_days: int = 3
    history_days: int = 8
    dip_window_min: int = 5
    warmup_min: int = 60
    cooldown_min: int = 60
    update_min: int = 10
    term_window_min: int = 5
    samples: int = 3


@dataclass
class _Episode:
    key: str
    started: int
    last_anomaly: int
    last_emit: int = -1
    baseline_terms: Counter[str] | None = None
    baseline_posts: int = 0
    spike: bool = False
    dip: bool = False
    emitted: tuple[bool, bool] = (False, False)  # (spike, dip) as last told


@dataclass
class _Entry:
    first: int
    counts: dict[int, list[int]] = field(default_factory=dict)  # minute -> [posts, negative]
    terms: dict[int, Counter[str]] = field(default_factory=dict)
    samples: deque[Observation] = field(default_factory=lambda: deque(maxlen=50))
    newest: int = 0
    evaluated: int = 0  # the last minute evaluated
    episode: _Episode | None = None
    last_episode_end: int | None = None


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass
class _Lane:
    """The observations of one input partition of the detector, with their watermark."""

    pending: list[tuple[int, int, Observation]] = field(default_factory=list)
    streams: dict[int, tuple[int, float]] = field(default_factory=dict)  # (newest, seen at)
    entries: set[str] = field(default_factory=set)


class CrisisDetector:
    """Per-entry state in memory; feed with `observe`, collect alerts from `evaluate`.

    Observations come in *lanes* (the detector's input partitions; an entry always comes in the
    same lane) and, within a lane, from *streams* (`Observation.partition`, the partition the
    post was read from, in whose order posts are in event time). A lane's minute is complete
    when every stream heard from in the last `idle_s` seconds has moved past it.
    """

    def __init__(self, settings: CrisisSettings | None = None, idle_s: float = 60.0) -> None:
        self.s = settings or CrisisSettings()
        self.idle_s = idle_s
        self._entries: dict[str, _Entry] = {}
        self._lanes: dict[int, _Lane] = {}
        self._seq = 0

    def observe(self, ob: Observation, lane: int = 0) -> None:
        """Buffer one observation; it is counted once its minute is complete in its lane."""
        ln = self._lanes.setdefault(lane, _Lane())
        self._seq += 1
        heapq.heappush(ln.pending, (ob.minute, self._seq, ob))
        newest = max(ob.minute, ln.streams.get(ob.partition, (ob.minute, 0.0))[0])
        ln.streams[ob.partition] = (newest, time.monotonic())
        ln.entries.add(ob.entry)

    def watermark(self, lane: int = 0) -> int | None:
        """The first minute of `lane` not yet complete (None before any observation)."""
        ln = self._lanes.get(lane)
        if ln is None or not ln.streams:
            return None
        recent = time.monotonic() - self.idle_s
        active = [m for m, at in ln.streams.values() if at >= recent]
        return min(active) if active else max(m for m, _ in ln.streams.values())

    def _count(self, ob: Observation) -> None:
        e = self._entries.get(ob.entry)
        if e is None:
            e = self._entries[ob.entry] = _Entry(first=ob.minute)
        e.first = min(e.first, ob.minute)
        c = e.counts.setdefault(ob.minute, [0, 0])
        c[0] += 1
        c[1] += ob.negative
        e.terms.setdefault(ob.minute, Counter()).update(set(ob.terms))
        if ob.negative and ob.text:
            e.samples.append(ob)
        if ob.minute > e.newest:
            e.newest = ob.minute
            self._forget(e)

    def _forget(self, e: _Entry) -> None:
        horizon = e.newest - self.s.history_days * DAY_MIN
        if len(e.counts) > self.s.history_days * DAY_MIN + 10:
            for m in [m for m in e.counts if m < horizon]:
                del e.counts[m]
        keep_terms = e.newest - self.s.baseline_min - self.s.term_window_min
        for m in [m for m in e.terms if m < keep_terms]:
            del e.terms[m]

    # -- evaluation -----------------------------------------------------------------------

    def evaluate(self) -> list[Alert]:
        """Alerts raised or updated by the minutes completed since the last call."""
        out = []
        for lane, ln in self._lanes.items():
            w = self.watermark(lane)
            if w is None:
                continue
            while ln.pending and ln.pending[0][0] < w:
                self._count(heapq.heappop(ln.pending)[2])
            for name in sorted(ln.entries):
                e = self._entries.get(name)
                if e is None:
                    continue
                start = max(e.evaluated + 1, e.first, w - 2 * DAY_MIN)
                for minute in range(start, w):
                    alert = self._evaluate(name, e, minute)
                    if alert is not None:
                        out.append(alert)
                e.evaluated = max(e.evaluated, w - 1)
        return out

    def _baseline(self, e: _Entry, now: int) -> list[int]:
        seasonal = now - e.first >= self.s.seasonal_days * DAY_MIN
        if seasonal:
            minutes = [
                now - d * DAY_MIN + k for d in range(1, self.s.history_days) for k in range(-15, 16)
            ]
            minutes = [m for m in minutes if m >= e.first]
        else:
            minutes = [m for m in range(now - self.s.baseline_min, now) if m >= e.first]
        return [e.counts.get(m, (0, 0))[0] for m in minutes]

    def _evaluate(self, name: str, e: _Entry, now: int) -> Alert | None:
        s = self.s
        if now - e.first < s.warmup_min:
            return None
        volume = e.counts.get(now, [0, 0])[0]
        base = self._baseline(e, now)
        mean = sum(base) / len(base) if base else 0.0
        # a rising level (the morning) is not a spike: the last quarter hour counts too
        recent = [e.counts.get(m, (0, 0))[0] for m in range(now - 15, now) if m >= e.first]
        if recent:
            mean = max(mean, sum(recent) / len(recent))
        std = math.sqrt(sum((x - mean) ** 2 for x in base) / len(base)) if base else 0.0
        std = max(std, math.sqrt(mean), 1.0)
        spike = (
            volume >= s.min_volume
            and volume > mean + s.sensitivity * std
            and volume > s.min_ratio * mean
        )
        window = [e.counts.get(m, [0, 0]) for m in range(now - s.dip_window_min + 1, now + 1)]
        n_win, neg_win = sum(c[0] for c in window), sum(c[1] for c in window)
        base_minutes = range(now - s.baseline_min - s.dip_window_min, now - s.dip_window_min + 1)
        base_counts = [e.counts[m] for m in base_minutes if m in e.counts]
        n_base, neg_base = sum(c[0] for c in base_counts), sum(c[1] for c in base_counts)
        p_base = neg_base / n_base if n_base else 0.0
        share = neg_win / n_win if n_win else 0.0
        binomial_sd = math.sqrt(max(p_base * (1 - p_base), 0.01) / max(n_win, 1))
        threshold = p_base + max(s.min_dip, (s.sensitivity + 2) * binomial_sd)
        dip = n_win >= 2 * s.min_volume and share > threshold
        anomalous = spike or dip
        ep = e.episode
        if ep is not None and not anomalous and now - ep.last_anomaly >= s.cooldown_min:
            e.last_episode_end = ep.last_anomaly
            e.episode = None
            return None
        if not anomalous:
            return None
        if ep is None:
            if e.last_episode_end is not None and now - e.last_episode_end < s.cooldown_min:
                return None
            ep = e.episode = _Episode(
                key=f"crisis:{name}:{_iso(now)}", started=now, last_anomaly=now
            )
        ep.last_anomaly = now
        ep.spike |= spike
        ep.dip |= dip
        escalated = (ep.spike, ep.dip) != ep.emitted  # a new signal is told at once
        if ep.last_emit >= 0 and now - ep.last_emit < s.update_min and not escalated:
            return None
        ep.last_emit = now
        ep.emitted = (ep.spike, ep.dip)
        return self._alert(
            name,
            e,
            ep,
            now,
            volume=volume,
            mean=mean,
            share=share,
            p_base=p_base,
            n_win=n_win,
        )

    def _top_terms(self, e: _Entry, ep: _Episode, n: int = 5) -> list[str]:
        """Terms over-represented since the episode started, against the hour before it."""
        if ep.baseline_terms is None:
            ep.baseline_terms = Counter()
            for m, c in e.terms.items():
                if m < ep.started:
                    ep.baseline_terms.update(c)
            ep.baseline_posts = sum(e.counts.get(m, [0, 0])[0] for m in e.terms if m < ep.started)
        recent: Counter[str] = Counter()
        for m, c in e.terms.items():
            if m >= ep.started:
                recent.update(c)
        recent_posts = sum(e.counts.get(m, [0, 0])[0] for m in e.terms if m >= ep.started) or 1
        before, before_posts = ep.baseline_terms, ep.baseline_posts or 1

        def lift(term: str) -> float:
            return (recent[term] / recent_posts) / ((before[term] + 1) / before_posts)

        floor = max(3, recent_posts // 50)
        candidates = [t for t, k in recent.items() if k >= floor]
        return sorted(candidates, key=lambda t: (-lift(t), t))[:n]

    def _alert(
        self,
        name: str,
        e: _Entry,
        ep: _Episode,
        now: int,
        *,
        volume: int,
        mean: float,
        share: float,
        p_base: float,
        n_win: int,
    ) -> Alert:
        """The episode's alert: its kind is what the episode has shown so far."""
        spike, dip = ep.spike, ep.dip
        signals = [x for x, on in (("volume_spike", spike), ("sentiment_dip", dip)) if on]
        reasons = []
        if spike:
            reasons.append(
                f"{volume} posts in the last minute against {mean:.1f} usually "
                f"(x{volume / max(mean, 0.1):.1f})"
            )
        reasons.append(
            f"{share:.0%} negative over the last {self.s.dip_window_min} minutes "
            f"against {p_base:.0%} usually ({n_win} posts)"
        )
        terms = self._top_terms(e, ep)
        samples = sorted(
            (o for o in e.samples if o.minute >= ep.started - 1), key=lambda o: -o.engagement
        )[: self.s.samples]
        severity = "critical" if spike and dip else "warning"
        kind = "crisis" if spike and dip else ("spike" if spike else "sentiment_dip")
        title = {
            "crisis": f"Crisis on {name}: negative volume spike",
            "spike": f"Volume spike on {name}",
            "sentiment_dip": f"Sentiment dip on {name}",
        }[kind]
        data: dict[str, Any] = {
            "signals": signals,
            "started_at": _iso(ep.started),
            "at": _iso(now),
            "volume_minute": volume,
            "baseline_minute": round(mean, 2),
            "share_negative": round(share, 3),
            "baseline_share_negative": round(p_base, 3),
            "top_terms": terms,
            "samples": [
                {"id": o.post_id, "author": o.author, "text": o.text[:280]} for o in samples
            ],
        }
        detail = "; ".join(reasons)
        if terms:
            detail += "; terms: " + ", ".join(terms)
        return Alert(
            key=ep.key,
            kind=kind,
            severity=severity,
            title=title,
            detail=detail,
            entry=name,
            created_at=datetime.fromtimestamp(now * 60, UTC),
            data=data,
        )
