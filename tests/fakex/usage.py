"""Usage: `GET /2/usage/tweets`, the posts the project read per UTC day and over its cycle.

What the fake counts: every post it sent, on the stream or in a search page, once per distinct
id per UTC day of its clock (X's pay-per-use deduplication); `FakeX.set_usage` sets a day's
figure. `project_usage` sums the days since the last `cap_reset_day` (day of the month).
`cap_reset_day`, `project_cap`, `project_id` and `project_usage` always answer; the daily
breakdowns only when `usage.fields` names them, as on X. Rate limited (50 per 15 minutes).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fakex.state import FakeXState
from fakex.transport import Reply, Request
from fakex.wire import csv_param, invalid_request, iso, problem

PROJECT_ID = "1650000000000000001"
CLIENT_APP_ID = "27000001"
USAGE_FIELDS = frozenset(
    {"cap_reset_day", "daily_client_app_usage", "daily_project_usage"}
    | {"project_cap", "project_id", "project_usage"}
)


class UsageEndpoints(FakeXState):
    """The usage endpoint."""

    def _usage(self, req: Request, _: re.Match[str]) -> Reply:
        days = req.query.get("days", "7")
        fields = csv_param(req.query, "usage.fields")
        with self._cond:
            allowed, headers = self._usage_window.take()
            if not allowed:
                return Reply(429, problem(429), headers)
            if not days.isdigit() or not 1 <= int(days) <= 90:
                message = f"The `days` query parameter value [{days}] is not between 1 and 90"
                return Reply(400, invalid_request(message, days=[days]), headers)
            if unknown := sorted(fields - USAGE_FIELDS):
                message = f"The `usage.fields` query parameter value {unknown} is not one of "
                message += f"[{','.join(sorted(USAGE_FIELDS))}]"
                return Reply(400, invalid_request(message, **{"usage.fields": unknown}), headers)
            today = self._clock().astimezone(UTC).date()
            cycle = _cycle_start(today, self._cap_reset_day)
            known = sorted(set(self._usage_seen) | set(self._usage_base))
            since = today - timedelta(days=int(days) - 1)
            daily = [
                {"date": iso(datetime.combine(d, datetime.min.time(), UTC)), "usage": str(n)}
                for d in known
                if since <= d <= today and (n := self._usage_on(d))
            ]
            data: dict[str, Any] = {
                "cap_reset_day": self._cap_reset_day,
                "project_cap": str(self._project_cap),
                "project_id": PROJECT_ID,
                "project_usage": str(sum(self._usage_on(d) for d in known if cycle <= d <= today)),
            }
        if "daily_project_usage" in fields:
            data["daily_project_usage"] = {"project_id": PROJECT_ID, "usage": daily}
        if "daily_client_app_usage" in fields:
            data["daily_client_app_usage"] = [
                {"client_app_id": CLIENT_APP_ID, "usage": daily, "usage_result_count": len(daily)}
            ]
        return Reply(200, {"data": data}, headers)


def _cycle_start(today: date, reset_day: int) -> date:
    """The first day of the billing cycle `today` is in: the last `reset_day` of a month."""
    if today.day >= reset_day:
        return today.replace(day=reset_day)
    last_month = today.replace(day=1) - timedelta(days=1)
    return last_month.replace(day=reset_day)
