"""The `x` source: the filtered stream plus gap fill, audience, usage and budget.

On `start()` the rules' cost is forecast from X's post counts (`ingest.x.forecast`) and queued
to be stored, then the stream's rules are synced with watch.yaml: rules not yet on X whose
watch item alone would cost more than the monthly budget are refused (the start fails, naming
them) until accepted with `veille rules sync --yes`. Then threads feed one queue that
`records()` drains:
- the stream thread keeps the filtered stream connected (`ingest.x.stream`); each post read is
  counted by the usage meter; when the month's budget is reached it disconnects, queues an
  alert, and waits for the next month (UTC) before reconnecting;
- the gap-fill thread, after every reconnect (and at start when an earlier run left a last post
  time), runs recent search from shortly before the last post seen to the reconnection, once X
  can search that far (10 s later), with the watch entries' rules packed into as few queries as
  the query length allows (`gap_fill_queries`); a gap whose posts, as X counts them, would
  cross the month's budget is not filled (an alert says so). Posts the stream also delivered
  are harmless downstream (same key) and counted as duplicates;
- the audience thread reads the watched accounts' counts every `audience_interval_s`; a failed
  lookup is retried after a backoff and never stops the stream;
- the billing thread, a minute after the start and then every `billing_check_interval_s`,
  reads X's own usage count (`GET /2/usage/tweets`), queues readings that set it beside the
  meter's, and forecasts again;
- the usage thread queues a usage reading every minute (and one when ingestion pauses).

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
from ingest.x.backfill import SEARCH_LAG, RecentSearch, gap_fill_queries, searchable_since
from ingest.x.backoff import Backoff
from ingest.x.clock import Clock
from ingest.x.forecast import Forecast, forecast, refusal, refused
from ingest.x.stream import FilteredStream
from ingest.x.usage import UsageMeter, next_month, reported_usage
from veille import xapi
from veille.models import Alert
from veille.settings import XSettings
from veille.watch import Rule, WatchConfig, compile_rules

logger = logging.getLogger(__name__)

USAGE_EVERY_S = 60.0
BILLING_FIRST_S = 60.0


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
        self.gap_queries = gap_fill_queries(watch, settings.search_query_max_length)
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
        self.audience_failures = 0  # account lookups that failed (retried after a backoff)
        self.gaps_skipped = 0  # gaps not filled because the budget would be crossed
        self.billing_failures = 0  # X's usage or counts that could not be read
        self.last_gap: dict[str, int] = {}  # search requests and posts read by the last fill
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
        forecast = self._forecast()
        if self.sync_rules:
            p = rules_sync.plan(rules_sync.current(self.stream), self.rules)
            over = refused(forecast, p.add) if forecast is not None else []
            if over:
                raise xapi.XApiError(refusal(over))
            if p.changes:
                rules_sync.apply(self.stream, p)
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
        self._spawn("x-billing", lambda: self._billing_loop(client))
        if self.audience and any(e.accounts for _, e in self.watch.entries()):
            self._spawn("x-audience", lambda: self._audience_loop(client))

    def _forecast(self) -> Forecast | None:
        """Forecast what the rules cost (`ingest.x.forecast`) and queue it to be stored; None
        when X gives no counts (an access level without them answers 403, X away): counted as
        a billing failure, never fatal (the stream's own calls say whether the token is good);
        the budget still stops ingestion when it is reached."""
        assert self.search is not None
        try:
            fc = forecast(
                self.search,
                self.watch,
                price_per_post_usd=self.settings.price_per_post_usd,
                budget_usd=self.settings.monthly_budget_usd,
                query_max_length=self.settings.search_query_max_length,
            )
        except xapi.XApiError as e:
            self.billing_failures += 1
            logger.warning("no cost forecast: X gave no post counts (%s)", e)
            return None
        logger.info(
            "forecast: ~%.0f posts/day, $%.2f/month (budget %s)",
            fc.posts_per_day,
            fc.cost_month_usd,
            self.settings.monthly_budget_usd,
        )
        for item in fc.items:
            record = SourceRecord(item.model_dump_json().encode(), "x:forecast", kind="forecast")
            self._queue.put(record)
        return fc

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
        self.meter.close()
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
            audience_failures=self.audience_failures,
            gaps_skipped=self.gaps_skipped,
            billing_failures=self.billing_failures,
            paused=self._paused,
        )
        if self.search is not None:
            out.update(
                search_requests=self.search.requests,
                count_requests=self.search.count_requests,
                search_rate_limited=self.search.rate_limited,
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
        if not self._affordable(start, end):
            return
        logger.info(
            "gap fill from %s to %s: %d queries",
            start.isoformat(),
            end.isoformat(),
            len(self.gap_queries),
        )
        requests, read = self.search.requests, self.search.posts_read
        try:
            for query in self.gap_queries:
                for payload in self.search.posts(query, start, end):
                    if self.meter.exhausted(self.clock.now()):
                        return
                    self.gap_fill_posts += 1
                    self._accept(payload, "x:gap-fill")
        finally:
            self.last_gap = {
                "search_requests": self.search.requests - requests,
                "posts": self.search.posts_read - read,
            }

    def _affordable(self, start: datetime, end: datetime) -> bool:
        """Whether filling [start, end) stays within the month's budget, by X's count of the
        posts the gap queries match (counting reads no post). A gap that would cross the
        budget is not filled: an alert and the next usage reading say so."""
        assert self.search is not None
        remaining = self.meter.remaining(self.clock.now())
        if remaining is None:
            return True
        expected = 0
        try:
            for query in self.gap_queries:
                answer = self.search.count(query, start, end)
                if answer is None:
                    return False  # stopping
                expected += answer.total
        except xapi.XApiError as e:  # no count (the access level, X away): the meter guards
            logger.warning("cannot count the gap's posts (%s); filling up to the budget", e)
            return True
        if expected <= remaining:
            return True
        self.gaps_skipped += 1
        logger.error(
            "gap fill from %s to %s skipped: about %d posts, %d left in the month's budget",
            start.isoformat(),
            end.isoformat(),
            expected,
            remaining,
        )
        self._gap_alert(
            start, end, f"not filled: about {expected} posts, {remaining} left in the budget"
        )
        self._queue_usage()
        return False

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
        """Read the accounts every `audience_interval_s`. A failed lookup (X refuses it, is
        away, or rate limits it: whatever the status) is logged, counted and tried again after
        a backoff (5 s doubling, never longer than the interval): it never stops the stream."""
        backoff = Backoff()
        while not self.stopping:
            wait = self.settings.audience_interval_s
            try:
                snaps = read_accounts(client, self.watch, self.clock.now())
            except xapi.XApiError as e:
                self.audience_failures += 1
                reset = e.reset_at if isinstance(e, xapi.XRateLimited) else None
                after = reset - self._timer.now().timestamp() if reset else None
                wait = min(backoff.next("http", after), wait)
                logger.warning("audience lookup failed (%s); retrying in %.0fs", e, wait)
            else:
                backoff.reset()
                for snap in snaps:
                    self._queue.put(
                        SourceRecord(snap.model_dump_json().encode(), "x:audience", kind="account")
                    )
            if self._timer.sleep(wait):
                return

    def _billing_loop(self, client: Any) -> None:
        """A minute after the start, then every `billing_check_interval_s`: read X's own
        usage count and queue the readings that set it beside the meter's; take the forecast
        again. Failures are logged and counted, and tried at the next interval."""
        wait = min(BILLING_FIRST_S, self.settings.billing_check_interval_s)
        while not self._timer.sleep(wait):
            wait = self.settings.billing_check_interval_s
            try:
                reported = reported_usage(client)
            except xapi.XApiError as e:
                self.billing_failures += 1
                logger.warning("cannot read X's usage (%s); trying again in %.0fs", e, wait)
            else:
                now = self.clock.now()
                for snap in self.meter.reconcile(reported, now, self._paused):
                    if snap.x_reported_day != snap.reads_day:
                        logger.warning(
                            "X counts %s posts billed on %s, veille %d",
                            snap.x_reported_day,
                            snap.day,
                            snap.reads_day,
                        )
                    record = SourceRecord(snap.model_dump_json().encode(), "x:usage", kind="usage")
                    self._queue.put(record)
            self._forecast()

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
