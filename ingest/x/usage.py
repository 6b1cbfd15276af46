"""What reading X costs: posts read per UTC day and month, the price, the monthly budget.

X bills pay-per-use reads per post, each post once per UTC day however often it is read (the
stream and a gap fill may deliver the same post). `UsageMeter.record(id)` counts a read, says
whether it was billed, and `exhausted` turns true once the month's billed reads reach the
budget. Counts survive restarts in a small JSON file; the set of ids already billed today is
kept in memory only (after a restart a re-read post may be counted twice: the meter errs on the
side of spending less).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from veille.models import UsageSnapshot

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
        self.reads_day = 0
        self.reads_month = 0
        self.duplicates_day = 0
        self._seen: set[int] = set()
        self._lock = threading.Lock()

    def load(self) -> UsageMeter:
        if self.path is None or not self.path.is_file():
            return self
        try:
            doc = json.loads(self.path.read_text())
            self.day, self.month = str(doc["day"]), str(doc["month"])
            self.reads_day, self.reads_month = int(doc["reads_day"]), int(doc["reads_month"])
            self.duplicates_day = int(doc.get("duplicates_day", 0))
        except (OSError, ValueError, KeyError) as e:
            logger.warning("ignoring unreadable usage file %s: %s", self.path, e)
        return self

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            doc = {
                "day": self.day,
                "month": self.month,
                "reads_day": self.reads_day,
                "reads_month": self.reads_month,
                "duplicates_day": self.duplicates_day,
            }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self.path)

    def _roll(self, now: datetime) -> None:
        day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")
        if month != self.month:
            self.month, self.reads_month = month, 0
        if day != self.day:
            self.day, self.reads_day, self.duplicates_day = day, 0, 0
            self._seen.clear()

    def record(self, post_id: int | str, now: datetime | None = None) -> bool:
        """Count one post read; True when it is billed (first read of that post today)."""
        with self._lock:
            self._roll(now or datetime.now(UTC))
            pid = int(post_id)
            if pid in self._seen:
                self.duplicates_day += 1
                return False
            self._seen.add(pid)
            self.reads_day += 1
            self.reads_month += 1
            return True

    def exhausted(self, now: datetime | None = None) -> bool:
        """True when this month's billed reads reached the budget."""
        with self._lock:
            self._roll(now or datetime.now(UTC))
            return self.budget_posts is not None and self.reads_month >= self.budget_posts

    def cost_month_usd(self) -> float:
        return round(self.reads_month * self.price, 4)

    def snapshot(self, paused: bool = False, now: datetime | None = None) -> UsageSnapshot:
        with self._lock:
            self._roll(now or datetime.now(UTC))
            return UsageSnapshot(
                day=self.day,
                month=self.month,
                reads_day=self.reads_day,
                reads_month=self.reads_month,
                duplicates_day=self.duplicates_day,
                budget_posts=self.budget_posts,
                cost_month_usd=round(self.reads_month * self.price, 4),
                paused=paused,
            )
