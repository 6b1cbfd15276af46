"""What reading X costs: posts read per UTC day and month, the price, the monthly budget.

X bills pay-per-use reads per post, each post once per UTC day however often it is read (the
stream and a gap fill may deliver the same post). `UsageMeter.record(id)` counts a read, says
whether it was billed, and `exhausted` turns true once the month's billed reads reach the
budget.

The meter survives restarts, SIGKILL included, without counting a post twice: each id billed
today is written through (to the operating system, which keeps it when the process is killed)
to `<state>/x-billed-<day>.ids`, one id a line, and the day's count is the number of ids in
that file. The small JSON file (`x-usage.json`) keeps the month's earlier days and the day's
duplicates. Memory: one Python int per post billed today (about 70 MB for a million).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import tweepy

from veille.models import UsageSnapshot
from veille.xapi import call

logger = logging.getLogger(__name__)


def next_month(now: datetime) -> datetime:
    """Midnight UTC on the first day of the month after `now`."""
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


class UsageMeter:
    """Counts billed reads against a monthly budget (in posts). Thread-safe."""

    def __init__(
        self,
        path: Path | None = None,
        budget_posts: int | None = None,
        price_per_post_usd: float = 0.005,
    ) -> None:
        self.path = path
        self.budget_posts = budget_posts
        self.price = price_per_post_usd
        self.day = ""
        self.month = ""
        self.earlier_days = 0
        """Billed reads of this month's days before `day`."""
        self.duplicates_day = 0
        self.days: dict[str, tuple[int, int]] = {}
        """This month's earlier days: day -> (billed, duplicates)."""
        self.reported: dict[str, int] = {}
        """X's own count per day (`GET /2/usage/tweets`), this month's days."""
        self.checked_at: datetime | None = None
        self._seen: set[int] = set()
        self._ids: IO[str] | None = None  # the day's ids file, open for appending
        self._lock = threading.Lock()

    @property
    def reads_day(self) -> int:
        return len(self._seen)

    @property
    def reads_month(self) -> int:
        return self.earlier_days + len(self._seen)

    def _ids_path(self, day: str) -> Path | None:
        return self.path.with_name(f"x-billed-{day}.ids") if self.path else None

    def load(self) -> UsageMeter:
        if self.path is None or not self.path.is_file():
            return self
        try:
            doc = json.loads(self.path.read_text())
            self.day, self.month = str(doc["day"]), str(doc["month"])
            if "earlier_days" in doc:
                self.earlier_days = int(doc["earlier_days"])
            else:  # written before the ids were kept: the day's reads join the earlier ones
                self.earlier_days = int(doc["reads_month"])
            self.duplicates_day = int(doc.get("duplicates_day", 0))
            self.days = {d: (int(b), int(u)) for d, (b, u) in doc.get("days", {}).items()}
            self.reported = {d: int(n) for d, n in doc.get("reported", {}).items()}
            checked = doc.get("checked_at")
            self.checked_at = datetime.fromisoformat(checked) if checked else None
        except (OSError, ValueError, KeyError) as e:
            logger.warning("ignoring unreadable usage file %s: %s", self.path, e)
            return self
        ids = self._ids_path(self.day)
        if ids is not None and ids.is_file():
            for line in ids.read_text().splitlines():
                if line.strip().isdigit():  # a line cut by a kill is not a read
                    self._seen.add(int(line))
        return self

    def save(self) -> None:
        with self._lock:
            self._save()

    def _save(self) -> None:
        """Write the JSON file (under the lock)."""
        if self.path is None:
            return
        doc = {
            "day": self.day,
            "month": self.month,
            "earlier_days": self.earlier_days,
            "reads_day": self.reads_day,
            "reads_month": self.reads_month,
            "duplicates_day": self.duplicates_day,
            "days": self.days,
            "reported": self.reported,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self.path)

    def close(self) -> None:
        self.save()
        with self._lock:
            if self._ids is not None:
                self._ids.close()
                self._ids = None

    def _write(self, post_id: int) -> None:
        """Append one billed id to the day's file (under the lock)."""
        if self._ids is None:
            path = self._ids_path(self.day)
            if path is None:
                return
            self._ids = path.open("a", encoding="ascii")
        self._ids.write(f"{post_id}\n")
        self._ids.flush()

    def _roll(self, now: datetime) -> None:
        day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")
        if day == self.day:
            return
        if self._ids is not None:
            self._ids.close()
            self._ids = None
        old = self._ids_path(self.day) if self.day else None
        if month == self.month:
            self.earlier_days = self.reads_month
            self.days[self.day] = (self.reads_day, self.duplicates_day)
        else:
            self.earlier_days = 0
            self.days.clear()
            self.reported.clear()
        self.day, self.month, self.duplicates_day = day, month, 0
        self._seen.clear()
        self._save()  # before the first id of the day: a restart finds the day's file
        if old is not None:
            old.unlink(missing_ok=True)

    def record(self, post_id: int | str, now: datetime | None = None) -> bool:
        """Count one post read; True when it is billed (first read of that post today)."""
        with self._lock:
            self._roll(now or datetime.now(UTC))
            pid = int(post_id)
            if pid in self._seen:
                self.duplicates_day += 1
                return False
            self._seen.add(pid)
            self._write(pid)
            return True

    def remaining(self, now: datetime | None = None) -> int | None:
        """Posts that may still be read this month (None: no budget)."""
        with self._lock:
            self._roll(now or datetime.now(UTC))
            if self.budget_posts is None:
                return None
            return max(self.budget_posts - self.reads_month, 0)

    def exhausted(self, now: datetime | None = None) -> bool:
        """True when this month's billed reads reached the budget."""
        return self.remaining(now) == 0

    def cost_month_usd(self) -> float:
        return round(self.reads_month * self.price, 4)

    def snapshot(self, paused: bool = False, now: datetime | None = None) -> UsageSnapshot:
        with self._lock:
            self._roll(now or datetime.now(UTC))
            return self._reading(self.day, self.reads_day, self.reads_month, paused)

    def _reading(self, day: str, reads: int, month_reads: int, paused: bool) -> UsageSnapshot:
        duplicates = self.duplicates_day if day == self.day else self.days[day][1]
        return UsageSnapshot(
            day=day,
            month=self.month,
            reads_day=reads,
            reads_month=month_reads,
            duplicates_day=duplicates,
            budget_posts=self.budget_posts,
            cost_month_usd=round(month_reads * self.price, 4),
            paused=paused,
            x_reported_day=self.reported.get(day),
            x_checked_at=self.checked_at if day in self.reported else None,
        )

    def reconcile(
        self, reported: dict[str, int], now: datetime, paused: bool = False
    ) -> list[UsageSnapshot]:
        """Take X's own counts per day (`reported_usage`) and return a reading for each day of
        this month that both X and the meter know, X's count beside the meter's (a past day's
        reading replaces its last one, `paused` as it is now)."""
        with self._lock:
            self._roll(now)
            self.checked_at = now
            known = {**self.days, self.day: (self.reads_day, self.duplicates_day)}
            self.reported |= {d: n for d, n in reported.items() if d in known}
            out = []
            month_reads = self.earlier_days - sum(b for b, _ in self.days.values())
            for day in sorted(known):
                month_reads += known[day][0]
                if day in self.reported:
                    out.append(self._reading(day, known[day][0], month_reads, paused))
            self._save()
            return out


def reported_usage(client: tweepy.Client, days: int = 7) -> dict[str, int]:
    """X's own count of the posts it billed the project per UTC day, over the last `days`
    (`GET /2/usage/tweets`). Raises `XApiError` like every X call."""
    params = {"days": days, "usage.fields": "daily_project_usage"}  # the days only if asked
    resp = call(client.request, "reading X's usage", "GET", "/2/usage/tweets", params)
    body: dict[str, Any] = resp.json()
    daily = body.get("data", {}).get("daily_project_usage", {}).get("usage", [])
    return {str(u["date"])[:10]: int(u["usage"]) for u in daily}
