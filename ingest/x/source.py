"""The `x` source: the filtered stream plus gap fill, audience, usage and budget.

On `start()` the stream's rules are synced with watch.yaml. Then three threads feed one queue
that `records()` drains:
- the stream thread keeps the filtered stream connected (`ingest.x.stream`); each post read is
  counted by the usage meter; when the month's budget is reached it disconnects, queues an
  alert, and waits for the next month (UTC) before reconnecting;
- the gap-fill thread, after every reconnect (and at start when an earlier run left a last post
  time), runs recent search for each rule from shortly before the last post seen to the
  reconnection, once X can search that far (10 s later); posts the stream also delivered are
  harmless downstream (same key) and counted as duplicates;
- the audience thread reads the watched accounts' counts every `audience_interval_s`.
Usage snapshots are queued every minute and when ingestion pauses.

An error that cannot heal in a thread (X refuses the token) is raised by `records()`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.base import Source, SourceRecord
from ingest.x import rules as rules_sync
from ingest.x.audience import read_accounts
from ingest.x.backfill import SEARCH_LAG, RecentSearch, searchable_since
from ingest.x.clock import Clock
from ingest.x.stream import FilteredStream
from ingest.x.usage import UsageMeter, next_month
from veille import xapi
from veille.models import Alert
from veille.settings import XSettings
from veille.watch import Rule, WatchConfig, compile_rules

logger = logging.getLogger(__name__)

USAGE_EVERY_S = 60.0


class XSource(Source):
    """Posts from X; see the module docstring."""

    name = "x"

    def __init__(
        self,
        settings: XSettings,
        watch: WatchConfig,
        *,
        state_dir: Path | None = None,
        clock: Clock | None = None,
        sync_rules: bool = True,
        audience: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.watch = watch
        self.rules: list[Rule] = compile_rules(watch)
        self.clock = clock or Clock()
        self._timer = Clock()  # periodic readings run on real time, whatever `clock` is
        self.sync_rules = sync_rules
        self.audience = audience
        self.meter = UsageMeter(
            state_dir / "x-usage.json" if state_dir else None,
            settings.budget_posts(),
            settings.price_per_post_usd,
        )
        self._state = state_dir / "x-stream.json" if state_dir else None
        self._queue: queue.Queue[SourceRecord] = queue.Queue(maxsize=50_000)
        self._gaps: queue.Queue[tuple[datetime, datetime]] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._error: BaseException | None = None
        self._first_connect: datetime | None = None
        self._last_seen: datetime | None = None  # newest post time read
        self._delivered_seen: datetime | None = None  # ... of those Kafka acknowledged: saved
        self._paused = False
        self._lock = threading.Lock()
        self._queueing = threading.Lock()  # held by the thread putting a post on the queue
        self.gap_fill_posts = 0
        self.gap_fills = 0
        self.gaps_lost = 0  # gaps (or parts) that could not be filled, each told by an alert
        self._pending_gaps = 0  # queued or running
        self.stream: FilteredStream | None = None
        self.search: RecentSearch | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        client = xapi.client(self.settings)
        self.search = RecentSearch(client, self.clock, self.settings.search_max_results)
        self.stream = xapi.streaming_client(
            self.settings,
            FilteredStream,
            clock=self.clock,
            stall_timeout_s=self.settings.stream_stall_timeout_s,
            on_post=self._on_stream_post,
            on_connected=self._on_connected,
        )
        if self.sync_rules:
            p = rules_sync.sync(self.stream, self.rules)
            logger.info(
                "stream rules: %d added, %d deleted, %d kept",
                len(p.add),
                len(p.delete),
                len(p.keep),
            )
        self.meter.load()
        self._last_seen = self._delivered_seen = self._load_last_seen()
        self._spawn("x-stream", self._stream_loop)
        self._spawn("x-gap-fill", self._gap_loop)
        self._spawn("x-usage", self._usage_loop)
        if self.audience and any(e.accounts for _, e in self.watch.entries()):
            self._spawn("x-audience", lambda: self._audience_loop(client))

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                target()
            except BaseException as e:
                logger.error("%s stopped: %s", name, e)
                self._error = e
                self.stop()

        t = threading.Thread(target=guarded, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        if not self.stopping and self.stream is not None:
            self._queue_usage(wait=False)  # the last reading, taken by records() before it ends
        super().stop()
        self.clock.interrupt()
        self._timer.interrupt()
        if self.stream is not None:
            self.stream.stop()

    def close(self) -> None:
        self.stop()
        for t in self._threads:
            t.join(10)
        self.meter.save()
        self._save_last_seen()

    def records(self) -> Iterator[SourceRecord]:
        while True:
            try:
                yield self._queue.get(timeout=0.2)
                continue
            except queue.Empty:
                pass
            if self._error is not None:
                raise self._error
            if self.stopping:
                return

    def caught_up(self) -> bool:
        """No gap fill is waiting or running, and every record read has been taken."""
        with self._lock:
            return self._pending_gaps == 0 and self._queue.empty()

    def metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.stream.counters) if self.stream else {}
        out.update(
            reads_day=self.meter.reads_day,
            reads_month=self.meter.reads_month,
            duplicates_day=self.meter.duplicates_day,
            cost_month_usd=self.meter.cost_month_usd(),
            gap_fills=self.gap_fills,
            gaps_lost=self.gaps_lost,
            gap_fill_posts=self.gap_fill_posts,
            paused=self._paused,
        )
        if self.search is not None:
            out.update(
                search_requests=self.search.requests, search_rate_limited=self.search.rate_limited
            )
        if self.stream is not None:  # the current waits (0 once connected), for /metrics
            b = self.stream.backoff
            out.update(
                backoff_network_s=b.network_s, backoff_http_s=b.http_s, backoff_at_max_now=b.at_max
            )
        if self.meter.budget_posts is not None:
            out["budget_posts"] = self.meter.budget_posts
        return out

    # -- posts ----------------------------------------------------------------------------

    def _accept(self, payload: bytes, origin: str) -> None:
        """Count the read, remember the newest post time, queue the payload with that time as
        its position (saved once Kafka acknowledged up to here). The stream and the gap fill
        queue one at a time, so that positions never go back along the queue."""
        created: datetime | None = None
        try:
            data = json.loads(payload)["data"]
            self.meter.record(data["id"], self.clock.now())
            created = datetime.fromisoformat(data["created_at"].replace("Z", "+00:00"))
            if created.tzinfo is None:
                created = None  # not a time X writes: the runner dead-letters the post
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            pass  # the runner dead-letters what does not parse
        with self._queueing:
            with self._lock:
                if created is not None and (self._last_seen is None or created > self._last_seen):
                    self._last_seen = created
                seen = self._last_seen
            position = seen.isoformat() if seen else None
            self._queue.put(SourceRecord(payload, origin, position=position))

    def acknowledged(self, position: Any) -> None:
        """Kafka holds every post read up to one read when `position` was the newest post time:
        a restart fills the gap from there (never from a post time Kafka did not hold)."""
        with self._lock:
            self._delivered_seen = datetime.fromisoformat(position)

    def _on_stream_post(self, line: bytes) -> None:
        self._accept(line, "x:stream")
        if self.meter.exhausted(self.clock.now()) and self.stream is not None:
            self.stream.running = False  # pause: leave the loop without stopping the source
            self.stream.drop_connection()

    def _on_connected(self, reconnect: bool) -> None:
        now = self.clock.now()
        with self._lock:
            last = self._last_seen or self._first_connect
            self._first_connect = self._first_connect or now
        if last is not None and (reconnect or self._last_seen is not None):
            margin = timedelta(seconds=self.settings.gap_fill_margin_s)
            with self._lock:
                self._pending_gaps += 1
            self._gaps.put((last - margin, now))

    # -- threads --------------------------------------------------------------------------

    def _stream_loop(self) -> None:
        assert self.stream is not None
        while not self.stopping:
            if self.meter.exhausted(self.clock.now()):
                self._pause_until_next_month()
                continue
            self.stream.run()

    def _pause_until_next_month(self) -> None:
        now = self.clock.now()
        resume = next_month(now)
        self._paused = True
        logger.error(
            "X budget reached: %d posts read this month (budget %s posts, $%.2f); "
            "ingestion paused until %s",
            self.meter.reads_month,
            self.meter.budget_posts,
            self.meter.cost_month_usd(),
            resume.isoformat(),
        )
        self._queue.put(
            SourceRecord(
                Alert(
                    key=f"budget:{now:%Y-%m}",
                    kind="budget",
                    severity="critical",
                    title="X budget reached: ingestion paused",
                    detail=(
                        f"{self.meter.reads_month} posts read this month, budget "
                        f"{self.meter.budget_posts} posts (${self.settings.monthly_budget_usd}); "
                        f"resumes {resume:%Y-%m-%d %H:%M} UTC"
                    ),
                    data={
                        "reads_month": self.meter.reads_month,
                        "budget_posts": self.meter.budget_posts,
                        "resume_at": resume.isoformat(),
                    },
                )
                .model_dump_json()
                .encode(),
                "x:budget",
                kind="alert",
            )
        )
        self._queue_usage()
        while not self.stopping and self.clock.now() < resume:
            if self.clock.sleep(min(3600.0, (resume - self.clock.now()).total_seconds())):
                return
        self._paused = False
        logger.warning("new month: X ingestion resumes")

    def _gap_loop(self) -> None:
        assert self.search is not None
        while not self.stopping:
            try:
                start, end = self._gaps.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._fill(start, end)
            except xapi.XAuthError:
                raise  # the token is refused: the stream cannot run either
            except xapi.XApiError as e:  # X refused or kept failing: the stream goes on
                logger.error("gap fill from %s to %s failed: %s", start.isoformat(), end, e)
                self._gap_alert(start, end, f"the gap fill failed: {e}")
            finally:
                with self._lock:
                    self._pending_gaps -= 1

    def _fill(self, start: datetime, end: datetime) -> None:
        assert self.search is not None
        ready = end + SEARCH_LAG + timedelta(seconds=1)
        wait = (ready - self.clock.now()).total_seconds()
        if wait > 0 and self.clock.sleep(wait):
            return
        self.gap_fills += 1
        earliest = searchable_since(self.clock.now())
        if start < earliest:  # after a long stop: what recent search no longer covers is lost
            logger.error(
                "posts from %s to %s cannot be recovered (recent search reads 7 days back)",
                start.isoformat(),
                earliest.isoformat(),
            )
            self._gap_alert(start, min(end, earliest), "older than recent search reads (7 days)")
            start = earliest
            if end <= start:
                return
        logger.info("gap fill from %s to %s", start.isoformat(), end.isoformat())
        for rule in self.rules:
            for payload in self.search.posts(rule.value, start, end, tag=rule.tag):
                if self.meter.exhausted(self.clock.now()):
                    return
                self.gap_fill_posts += 1
                self._accept(payload, "x:gap-fill")

    def _gap_alert(self, start: datetime, end: datetime, why: str) -> None:
        """Say, as an alert, that posts of [start, end) may be missing."""
        self.gaps_lost += 1
        alert = Alert(
            key=f"x-gap:{start:%Y%m%dT%H%M%S}",
            kind="x_gap",
            severity="warning",
            title="Posts from X may be missing",
            detail=f"posts from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC: {why}",
            data={"start": start.isoformat(), "end": end.isoformat(), "reason": why},
        )
        self._queue.put(SourceRecord(alert.model_dump_json().encode(), "x:gap", kind="alert"))

    def _audience_loop(self, client: Any) -> None:
        while not self.stopping:
            for snap in read_accounts(client, self.watch, self.clock.now()):
                self._queue.put(
                    SourceRecord(snap.model_dump_json().encode(), "x:audience", kind="account")
                )
            if self._timer.sleep(self.settings.audience_interval_s):
                return

    def _usage_loop(self) -> None:
        while not self.stopping:
            if self._timer.sleep(USAGE_EVERY_S):
                return
            self._queue_usage()

    def _queue_usage(self, wait: bool = True) -> None:
        """Save the usage and the stream position, and queue a usage reading (without waiting
        for room when `wait` is False: a stopping source must not hang on a full queue that only
        the runner, maybe already gone, empties)."""
        snap = self.meter.snapshot(self._paused, self.clock.now())
        self.meter.save()
        self._save_last_seen()
        record = SourceRecord(snap.model_dump_json().encode(), "x:usage", kind="usage")
        try:
            self._queue.put(record, block=wait)
        except queue.Full:
            logger.warning("queue full while stopping: the last usage reading is not sent")

    # -- state ----------------------------------------------------------------------------

    def _load_last_seen(self) -> datetime | None:
        if self._state is None or not self._state.is_file():
            return None
        try:
            value = json.loads(self._state.read_text())["last_seen"]
            return datetime.fromisoformat(value) if value else None
        except (OSError, ValueError, KeyError):
            return None

    def _save_last_seen(self) -> None:
        if self._state is None:
            return
        with self._lock:
            last = self._delivered_seen
        self._state.write_text(json.dumps({"last_seen": last.isoformat() if last else None}))
