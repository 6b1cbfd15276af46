"""Parts of the x source that need no server: backoff schedule, usage meter, rules plan,
host routing, token secrecy in errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from ingest.x.backoff import Backoff
from ingest.x.rules import RemoteRule, plan
from ingest.x.usage import UsageMeter, next_month
from veille import xapi
from veille.settings import XSettings
from veille.watch import Rule


def test_backoff_follows_x_schedule() -> None:
    b = Backoff()
    assert [b.next("network") for _ in range(3)] == [0.25, 0.5, 0.75]
    for _ in range(100):
        b.next("network")
    assert b.next("network") == 16.0 and b.at_max
    b.reset()
    assert [b.next("http") for _ in range(8)] == [5, 10, 20, 40, 80, 160, 320, 320]
    assert b.at_max
    b.reset()
    assert [b.next("rate_limit") for _ in range(4)] == [60, 120, 240, 320]
    b.reset()
    assert b.next("rate_limit", retry_after_s=200) == 200  # the reset time wins when later
    assert b.next("http") == 120  # doubling goes on from the last wait


def test_usage_meter_bills_each_post_once_a_day_and_stops_at_budget(tmp_path) -> None:  # type: ignore[no-untyped-def]
    day1 = datetime(2026, 11, 30, 10, tzinfo=UTC)
    day2 = datetime(2026, 12, 1, 10, tzinfo=UTC)
    m = UsageMeter(tmp_path / "u.json", budget_posts=3, price_per_post_usd=0.005)
    assert m.record("1", day1) and m.record("2", day1)
    assert not m.record("1", day1)  # read again the same day: not billed
    assert (m.reads_day, m.reads_month, m.duplicates_day) == (2, 2, 1)
    assert not m.exhausted(day1)
    assert m.record("3", day1) and m.exhausted(day1)
    assert m.cost_month_usd() == 0.015
    m.save()
    again = UsageMeter(tmp_path / "u.json", budget_posts=3).load()
    assert again.reads_month == 3 and again.exhausted(day1)
    assert not again.exhausted(day2)  # a new month starts from zero
    assert again.record("1", day2)  # and a new day bills again
    assert next_month(day1) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_month(datetime(2026, 12, 5, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


def test_rules_plan_keeps_ids_of_unchanged_rules() -> None:
    remote = [
        RemoteRule("1", "a OR b", "brand:A"),
        RemoteRule("2", "old", "topic:x"),
        RemoteRule("3", "a OR b", "brand:A"),
    ]
    compiled = [Rule("a OR b", "brand:A"), Rule("c", "topic:c")]
    p = plan(remote, compiled)
    assert [r.id for r in p.keep] == ["1"]
    assert sorted(r.id for r in p.delete) == ["2", "3"]  # stale and duplicate
    assert p.add == [Rule("c", "topic:c")]
    assert plan([*p.keep, RemoteRule("9", "c", "topic:c")], compiled).changes == 0


def test_requests_to_x_host_are_routed_to_the_base_url() -> None:
    seen: list[str] = []

    class Capture(xapi.RouteToBase):
        def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
            if request.url.startswith(xapi.TWEEPY_HOST):
                request.url = self.base_url + request.url[len(xapi.TWEEPY_HOST) :]
            seen.append(request.url)
            resp = requests.Response()
            resp.status_code = 200
            resp._content = b'{"data": []}'
            resp.request = request
            return resp

    c = xapi.client(XSettings(bearer_token="t0k3n", api_base_url="http://127.0.0.1:9"))
    c.session.mount(xapi.TWEEPY_HOST + "/", Capture("http://127.0.0.1:9/"))
    c.get_users(usernames=["orbital"])
    assert seen and seen[0].startswith("http://127.0.0.1:9/2/users/by?")


def test_errors_never_carry_the_token() -> None:
    s = XSettings(bearer_token="s3cret-token", api_base_url="http://127.0.0.1:1")
    c = xapi.client(s)
    with pytest.raises(xapi.XUnavailable) as err:
        xapi.call(c.get_users, "looking up", usernames=["a"])
    assert "s3cret" not in str(err.value) and "s3cret" not in repr(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    with pytest.raises(xapi.XAuthError, match="X_BEARER_TOKEN"):
        xapi.client(XSettings(bearer_token=None))


def test_usage_meter_killed_without_saving_bills_nothing_twice(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A meter that never reached `save()` (the process was killed) is found whole by the next
    run: a post read again after the restart is a duplicate, not a second bill."""
    day = datetime(2026, 12, 7, 10, tzinfo=UTC)
    killed = UsageMeter(tmp_path / "x-usage.json", budget_posts=10)
    assert killed.record("11", day) and killed.record("12", day)
    # no save(), no close(): SIGKILL
    again = UsageMeter(tmp_path / "x-usage.json", budget_posts=10).load()
    assert (again.reads_day, again.reads_month) == (2, 2)
    assert not again.record("11", day)  # re-read by the gap fill after the restart
    assert again.record("13", day)
    assert (again.reads_day, again.reads_month, again.duplicates_day) == (3, 3, 1)
    again.close()
    # the next day bills again, keeps the month's count, and drops the old day's ids
    later = UsageMeter(tmp_path / "x-usage.json", budget_posts=10).load()
    assert later.record("11", datetime(2026, 12, 8, 1, tzinfo=UTC))
    assert (later.reads_day, later.reads_month) == (1, 4)
    assert sorted(p.name for p in tmp_path.glob("*.ids")) == ["x-billed-2026-12-08.ids"]
    later.close()
