"""What `veille up` shows while it runs: a live table on a terminal, else a status line a minute.

Both read the stages' status files through the `Pipeline`: posts/s per stage over the last
interval, posts in flight (ingested, not yet written by the sink: the broker's own lag figures
are not trusted, see DESIGN.md), posts stored (before the run and since), dead letters, alerts
stored, and the live page's URL. On a terminal the table is redrawn in place; on anything else
(a pipe, a file, a service manager's journal) one plain line is printed every
`VEILLE_STATUS_INTERVAL_S` seconds and at each change of phase, so that weeks of running leave
a readable, bounded trail.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from pipeline.supervisor import Pipeline

# the counter whose rate is a stage's posts/s
_MAIN = {"ingest": "ingested", "process": "enriched", "sink": "posts"}
# what the table shows of each stage's status (as `veille up` always has)
_COLUMNS = {
    "ingest": ("ingested", "produced", "dead_lettered"),
    "process": ("consumed", "enriched", "dead_lettered", "enrich_posts_per_s"),
    "sink": ("posts", "dead_letters", "inserts", "insert_rows_per_s", "retries"),
}


def _kind(name: str) -> str:
    return "process" if name.startswith("process") else name


def _int(d: dict[str, object], key: str) -> int:
    v = d.get(key, 0)
    return int(v) if isinstance(v, int | float) else 0


@dataclass
class Snapshot:
    """The pipeline's figures at one moment (`time.monotonic()` seconds)."""

    at: float
    counts: dict[str, int]  # stage -> its main counter
    in_flight: int
    stored: int
    dead_letters: int
    alerts: int

    @classmethod
    def read(cls, p: Pipeline) -> Snapshot:
        statuses = p.statuses()
        order = [n for n in ("ingest", *p.process_names(), "sink") if n in statuses]
        counts = {n: _int(statuses[n], _MAIN[_kind(n)]) for n in order}
        sink = statuses.get("sink", {})
        written = _int(sink, "posts") + _int(sink, "dead_letters")
        return cls(
            at=time.monotonic(),
            counts=counts,
            in_flight=max(0, _int(statuses.get("ingest", {}), "ingested") - written),
            stored=_int(sink, "stored_before") + _int(sink, "posts"),
            dead_letters=_int(sink, "dead_letters"),
            alerts=_int(sink, "alerts"),
        )


@dataclass
class Rates:
    """Posts/s per stage over (about) the last `window` seconds of snapshots."""

    window: float
    _history: deque[Snapshot] = field(default_factory=deque)

    def add(self, snap: Snapshot) -> dict[str, float]:
        self._history.append(snap)
        while len(self._history) > 2 and snap.at - self._history[1].at >= self.window:
            self._history.popleft()
        first = self._history[0]
        span = snap.at - first.at
        if span <= 0:
            return {}
        return {n: max(0.0, (c - first.counts.get(n, 0)) / span) for n, c in snap.counts.items()}


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return (f"{d}d" if d else "") + (f"{h}h" if d or h else "") + f"{m:02d}m{s:02d}s"


def status_line(p: Pipeline, phase: str, snap: Snapshot, rates: dict[str, float]) -> str:
    """One plain line: time, phase, uptime, posts/s per stage, in flight, stored, alerts, URL."""
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    up = _duration(snap.at - p.started_at) if p.started_at else "-"
    per_stage = " ".join(f"{n}={rates.get(n, 0.0):.1f}/s" for n in snap.counts)
    url = p.live_url()
    return (
        f"{now} veille up {phase} up={up} {per_stage} in_flight={snap.in_flight} "
        f"stored={snap.stored} dead_letters={snap.dead_letters} alerts={snap.alerts}"
        + (f" {url}" if url else "")
    )


def status_table(p: Pipeline, phase: str, rates: dict[str, float] | None = None) -> Table:
    """The stages' table; with `rates`, a posts/s column and a caption of the totals."""
    url = p.live_url()
    table = Table(
        title=f"veille up — {phase}" + (f" — {url}" if url else ""),
        title_justify="left",
        expand=False,
    )
    table.add_column("stage")
    table.add_column("state")
    if rates is not None:
        table.add_column("posts/s", justify="right")
    table.add_column("figures")
    statuses = p.statuses()
    for name in ("ingest", *p.process_names(), "sink"):
        st = statuses.get(name, {})
        figures = "  ".join(f"{k}={st[k]}" for k in _COLUMNS[_kind(name)] if k in st)
        row = [name, str(st.get("state", "starting"))]
        if rates is not None:
            row.append(f"{rates[name]:.1f}" if name in rates else "")
        table.add_row(*row, figures)
    if rates is not None:
        snap = Snapshot.read(p)
        up = _duration(snap.at - p.started_at) if p.started_at else "-"
        table.caption = (
            f"up {up} · in flight {snap.in_flight:,} · stored {snap.stored:,} · "
            f"dead letters {snap.dead_letters:,} · alerts {snap.alerts:,}"
        )
        table.caption_justify = "left"
    return table


class StatusDisplay:
    """Shows a running `Pipeline` on `console`: live on a terminal, else plain lines.

    Use as a context manager; `tick(phase)` gives the callback `Pipeline.run`/`drain` call.
    `finish(p)` shows the last state (on a terminal in place; elsewhere printed once, unless
    `transient`). Only the console is written to.
    """

    def __init__(self, console: Console, interval_s: float, transient: bool = False) -> None:
        self.console = console
        self.interval_s = interval_s
        self.transient = transient
        self._live: Live | None = None
        self._rates = Rates(window=10.0 if console.is_terminal else interval_s)
        self._last_line = 0.0
        self._last_phase = ""

    def __enter__(self) -> StatusDisplay:
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=self.transient)
            self._live.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def tick(self, phase: str) -> Callable[[Pipeline], None]:
        return lambda p: self.update(p, phase)

    def update(self, p: Pipeline, phase: str) -> None:
        snap = Snapshot.read(p)
        if self._live is not None:
            self._live.update(status_table(p, phase, self._rates.add(snap)))
            return
        now = time.monotonic()
        if phase != self._last_phase or now - self._last_line >= self.interval_s:
            rates = self._rates.add(snap)
            self.console.print(status_line(p, phase, snap, rates), highlight=False, soft_wrap=True)
            self._last_line, self._last_phase = now, phase

    def finish(self, p: Pipeline) -> None:
        if self._live is not None:
            self._live.update(status_table(p, "stopped"))
        elif not self.transient:
            self.console.print(status_table(p, "stopped"))
