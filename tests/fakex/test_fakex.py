"""The fake X API v2 server speaks X's wire format and plays its stream script faithfully."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from factories import x_payload

from fakex import (
    OPERATIONAL_DISCONNECT,
    TOO_MANY_CONNECTIONS,
    Disconnect,
    Drop,
    FakeX,
    HttpError,
    OperationalDisconnect,
    RateLimit,
    Send,
    StaleConnection,
    Stall,
    parse_query,
    x_user,
)
from veille.models import parse_stream_payload
from veille.watch import compile_rules, load_watch

pytestmark = pytest.mark.timeout(30)

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FIELDS = {
    "tweet.fields": "created_at,author_id,lang,conversation_id,entities,public_metrics",
    "expansions": "author_id,referenced_tweets.id",
    "user.fields": "created_at,public_metrics,verified,verified_type,description",
}
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def fx() -> Iterator[FakeX]:
    # X's clock a day after T0: recent search reads 7 days back, so T0's posts are in reach
    with FakeX(TOKEN, keepalive_s=0.2, clock=lambda: T0 + timedelta(days=1)) as server:
        yield server


def posts(*ids: int) -> list[dict[str, Any]]:
    return [x_payload(i, f"post {i}", created_at=T0 + timedelta(minutes=i)) for i in ids]


def connect(fx: FakeX, **params: str) -> requests.Response:
    return requests.get(
        f"{fx.base_url}/2/tweets/search/stream",
        params=params or FIELDS,
        headers=AUTH,
        stream=True,
        timeout=5,
    )


def read(resp: requests.Response, n: int) -> list[bytes]:
    """The next n lines of a stream, keep-alives (b"") included."""
    lines = resp.iter_lines()
    return [next(lines) for _ in range(n)]


def read_posts(resp: requests.Response, n: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    for line in resp.iter_lines():
        if line:
            got.append(json.loads(line))
            if len(got) == n:
                break
    return got


def ids(lines: list[dict[str, Any]]) -> list[str]:
    return [line["data"]["id"] for line in lines]


# --- auth and rules ---------------------------------------------------------------------------


def test_every_x_endpoint_wants_the_bearer_token(fx: FakeX) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        for path in ("/2/tweets/search/stream/rules", "/2/users/by?usernames=a"):
            r = requests.get(fx.base_url + path, headers=headers, timeout=5)
            assert r.status_code == 401
            assert r.json() == {
                "title": "Unauthorized",
                "type": "about:blank",
                "status": 401,
                "detail": "Unauthorized",
            }
    r = requests.get(f"{fx.base_url}/2/tweets/search/stream", timeout=5)
    assert r.status_code == 401
    assert fx.stream_errors == [401] and fx.connect_count == 1
    assert fx.errors_answered == 5


def test_rules_add_duplicate_too_long_dry_run_and_delete(fx: FakeX) -> None:
    url = f"{fx.base_url}/2/tweets/search/stream/rules"
    empty = requests.get(url, headers=AUTH, timeout=5).json()
    assert "data" not in empty and empty["meta"]["result_count"] == 0

    add = {"add": [{"value": "orbital", "tag": "brand:Orbital"}, {"value": "nimbus"}]}
    body = requests.post(url, json=add, headers=AUTH, timeout=5).json()
    created = body["data"]
    assert [r["value"] for r in created] == ["orbital", "nimbus"]
    assert created[0]["tag"] == "brand:Orbital" and "tag" not in created[1]
    assert all(r["id"].isdigit() for r in created)
    assert body["meta"]["summary"] == {"created": 2, "not_created": 0, "valid": 2, "invalid": 0}

    bad = {"add": [{"value": "orbital"}, {"value": "x" * 1025}, {"value": "new", "tag": "t"}]}
    body = requests.post(url, json=bad, headers=AUTH, timeout=5).json()
    assert body["meta"]["summary"] == {"created": 1, "not_created": 2, "valid": 1, "invalid": 2}
    dup, long = body["errors"]
    assert dup["title"] == "DuplicateRule" and dup["id"] == created[0]["id"]
    assert long["title"] == "RuleLengthExceeded" and "id" not in long
    assert long["type"] == "https://api.twitter.com/2/problems/invalid-rules"

    dry = requests.post(
        url, params={"dry_run": "true"}, json={"add": [{"value": "maybe"}]}, headers=AUTH, timeout=5
    ).json()
    assert dry["meta"]["summary"]["created"] == 1
    assert [r["value"] for r in fx.rules] == ["orbital", "nimbus", "new"]

    listed = requests.get(url, headers=AUTH, timeout=5).json()
    assert listed["meta"]["result_count"] == 3 and listed["data"] == fx.rules

    delete = {"delete": {"ids": [created[1]["id"], "999"]}}
    body = requests.post(url, json=delete, headers=AUTH, timeout=5).json()
    assert body["meta"]["summary"] == {"deleted": 1, "not_deleted": 1}
    assert "data" not in body and body["errors"][0]["value"] == "999"
    assert [r["value"] for r in fx.rules] == ["orbital", "new"]

    assert [(c.method, c.dry_run, c.status) for c in fx.rule_calls] == [
        ("GET", False, 200),
        ("POST", False, 200),
        ("POST", False, 200),
        ("POST", True, 200),
        ("GET", False, 200),
        ("POST", False, 200),
    ]
    assert fx.rule_calls[-1].body == delete
    assert requests.post(url, json={}, headers=AUTH, timeout=5).status_code == 400


# --- the stream -----------------------------------------------------------------------------


def test_stream_sends_chunked_json_lines_then_keep_alives(fx: FakeX) -> None:
    requests.post(
        f"{fx.base_url}/2/tweets/search/stream/rules",
        json={"add": [{"value": "orbital", "tag": "brand:Orbital Telecom"}]},
        headers=AUTH,
        timeout=5,
    )
    rule_id = fx.rules[0]["id"]
    fx.add_posts(posts(1, 2, 3))
    fx.add_steps(Send(2))
    with connect(fx) as r:
        assert r.status_code == 200
        assert r.headers["Transfer-Encoding"] == "chunked"
        assert r.headers["Content-Type"] == "application/json"
        lines = read(r, 5)
    assert [json.loads(x)["data"]["id"] for x in lines[:3]] == ["1", "2", "3"]
    assert lines[3:] == [b"", b""]  # keep-alives once everything is sent
    first = json.loads(lines[0])
    assert first["matching_rules"] == [{"id": rule_id, "tag": "brand:Orbital Telecom"}]
    post = parse_stream_payload(lines[0])
    assert post.text == "post 1" and post.author.username == "someone"
    assert post.rule_tags == ("brand:Orbital Telecom",)
    assert fx.last_stream_params == FIELDS
    fx.wait_idle(2)
    assert fx.delivered_ids == ["1", "2", "3"] and fx.connect_count == 1


def test_stream_projects_fields_like_x(fx: FakeX) -> None:
    fx.add_posts(posts(1))
    with connect(fx, **{"tweet.fields": "lang"}) as r:
        (line,) = read_posts(r, 1)
    assert set(line["data"]) == {"id", "text", "edit_history_tweet_ids", "lang"}
    assert "includes" not in line  # no expansion asked for
    assert line["matching_rules"] == [{"id": "1", "tag": "brand:Orbital Telecom"}]  # own rules


def test_send_waits_for_posts_added_later(fx: FakeX) -> None:
    fx.add_steps(Send(1))
    with connect(fx) as r:
        lines = r.iter_lines()
        assert next(lines) == b""  # nothing to send yet: keep-alive
        fx.add_posts(posts(7))
        assert json.loads(next(line for line in lines if line))["data"]["id"] == "7"


def test_one_connection_at_a_time_and_delete_connections_all(fx: FakeX) -> None:
    first = connect(fx)
    assert first.status_code == 200
    fx.wait_until(lambda f: f.stream_connected)
    second = connect(fx)
    assert second.status_code == 429 and second.json() == TOO_MANY_CONNECTIONS
    assert fx.max_concurrent_connections == 2

    killed = requests.delete(f"{fx.base_url}/2/connections/all", headers=AUTH, timeout=5)
    assert killed.status_code == 200
    assert killed.json() == {"data": {"killed_connections": True}}
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for _ in first.iter_lines():
            pass
    first.close()
    with connect(fx) as third:
        assert third.status_code == 200
    assert fx.connect_count == 3 and fx.stream_errors == [429]


def test_a_closed_client_frees_the_slot_at_once(fx: FakeX) -> None:
    for _ in range(3):
        with connect(fx) as r:
            assert r.status_code == 200
            read(r, 1)
    assert fx.max_concurrent_connections == 1 and fx.stream_errors == []


def test_disconnect_mid_post_tears_the_line_and_redelivers_it(fx: FakeX) -> None:
    fx.add_posts(posts(1, 2, 3))
    fx.add_steps(Send(1), Disconnect(mid_post=True))
    with connect(fx) as r:
        raw = b""
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in r.iter_content(chunk_size=None):
                raw += chunk
    first, torn = raw.split(b"\r\n")
    assert json.loads(first)["data"]["id"] == "1"
    assert torn and b'"id": "2"' in torn
    with pytest.raises(json.JSONDecodeError):
        json.loads(torn)
    assert fx.delivered_ids == ["1"]
    with connect(fx) as r:
        assert ids(read_posts(r, 2)) == ["2", "3"]
    fx.wait_idle(2)
    assert fx.delivered_ids == ["1", "2", "3"]


def test_scripted_connect_errors_rate_limit_and_stale_connection(fx: FakeX) -> None:
    fx.add_posts(posts(1))
    fx.add_steps(HttpError(503), RateLimit(reset_in_s=30), StaleConnection(), Send(1))
    r = connect(fx)
    assert r.status_code == 503
    assert r.json() == {
        "title": "Service Unavailable",
        "type": "about:blank",
        "status": 503,
        "detail": "Service Unavailable",
    }
    r = connect(fx)
    assert r.status_code == 429 and r.json()["title"] == "Too Many Requests"
    assert r.headers["x-rate-limit-remaining"] == "0"
    assert r.headers["x-rate-limit-limit"] == "50"
    assert 28 <= int(r.headers["x-rate-limit-reset"]) - time.time() <= 32
    for _ in range(2):  # stale until DELETE /2/connections/all
        r = connect(fx)
        assert r.status_code == 429 and r.json()["connection_issue"] == "TooManyConnections"
    assert fx.max_concurrent_connections == 1  # a stale connection is not the client's
    requests.delete(f"{fx.base_url}/2/connections/all", headers=AUTH, timeout=5)
    with connect(fx) as r:
        assert r.status_code == 200 and ids(read_posts(r, 1)) == ["1"]
    assert fx.stream_errors == [503, 429, 429, 429] and fx.connect_count == 5
    fx.wait_idle(2)


def test_drop_skips_posts_and_operational_disconnect_ends_the_stream(fx: FakeX) -> None:
    fx.add_posts(posts(1, 2, 3, 4))
    fx.add_steps(Send(1), Drop(2), OperationalDisconnect())
    with connect(fx) as r:
        lines = [json.loads(x) for x in r.iter_lines() if x]  # ends cleanly
    assert lines == [lines[0], OPERATIONAL_DISCONNECT] and ids(lines[:1]) == ["1"]
    assert fx.dropped_ids == ["2", "3"]
    with connect(fx) as r:
        assert ids(read_posts(r, 1)) == ["4"]
    fx.wait_idle(2)
    assert fx.delivered_ids == ["1", "4"]


def test_stall_sends_nothing_not_even_keep_alives(fx: FakeX) -> None:
    fx.add_posts(posts(1, 2))
    fx.add_steps(Send(1), Stall(0.7), Send(1))
    with connect(fx) as r:
        lines = r.iter_lines()
        assert next(lines)
        start = time.monotonic()
        assert json.loads(next(lines))["data"]["id"] == "2"  # no b"" in between
        assert time.monotonic() - start >= 0.6


def test_wait_idle_names_what_is_left(fx: FakeX) -> None:
    fx.add_posts(posts(1))
    fx.add_steps(Send(2))
    with pytest.raises(TimeoutError, match=r"cursor=0/1"):
        fx.wait_idle(0.1)
    with pytest.raises(ValueError, match="ascend"):
        fx.add_posts(posts(1))


def test_stop_closes_an_open_stream_promptly() -> None:
    server = FakeX(TOKEN, keepalive_s=0.2).start()
    r = connect(server)
    idle = requests.Session()
    idle.get(f"{server.base_url}/2/users/by?usernames=a", headers=AUTH, timeout=5)  # keep-alive
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 2
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for _ in r.iter_lines():
            pass
    server.stop()  # twice is fine


# --- recent search --------------------------------------------------------------------------


def search(fx: FakeX, **params: str) -> requests.Response:
    url = f"{fx.base_url}/2/tweets/search/recent"
    return requests.get(url, params={"query": "orbital", **params}, headers=AUTH, timeout=5)


def test_search_window_newest_first_paginated(fx: FakeX) -> None:
    fx.add_posts(posts(*range(1, 31)))  # post i created at T0 + i minutes
    window = {"start_time": "2026-11-20T09:05:00Z", "end_time": "2026-11-20T09:30:00.000Z"}
    pages: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        r = search(fx, max_results="10", **window, **FIELDS, **token)
        assert r.status_code == 200
        assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(
            r.headers
        )
        pages.append(r.json())
        if "next_token" not in pages[-1]["meta"]:
            break
        token = {"next_token": pages[-1]["meta"]["next_token"]}
    got = [t["id"] for page in pages for t in page["data"]]
    assert got == [str(i) for i in range(29, 4, -1)]  # [09:05, 09:30), newest first
    assert [p["meta"]["result_count"] for p in pages] == [10, 10, 5]
    assert pages[0]["meta"]["newest_id"] == "29" and pages[0]["meta"]["oldest_id"] == "20"
    assert pages[0]["includes"]["users"][0]["username"] == "someone"
    assert set(pages[0]["data"][0]) >= {"created_at", "author_id", "edit_history_tweet_ids"}
    assert fx.search_queries[1]["next_token"] == pages[0]["meta"]["next_token"]

    since = search(fx, since_id="27", end_time="2026-11-20T09:30:00Z").json()
    assert [t["id"] for t in since["data"]] == ["29", "28"]
    empty = search(fx, start_time="2026-11-21T00:00:00Z", end_time="2026-11-22T00:00:00Z")
    assert empty.json() == {"meta": {"result_count": 0}}
    assert search(fx, max_results="5").status_code == 400
    assert search(fx, start_time="yesterday").status_code == 400
    too_old = search(fx, start_time="2026-11-13T00:00:00Z")  # 8 days before X's now
    assert too_old.status_code == 400 and "'start_time' must be on or after" in too_old.text


def test_search_end_time_defaults_to_now() -> None:
    with FakeX(TOKEN, clock=lambda: T0 + timedelta(minutes=3, seconds=30)) as fx:
        fx.add_posts(posts(1, 2, 3, 4, 5))
        assert [t["id"] for t in search(fx).json()["data"]] == ["3", "2", "1"]


def test_search_rate_limit_window() -> None:
    with FakeX(TOKEN, search_limit=2, search_window_s=60) as fx:
        answers = [search(fx) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 429]
        assert [r.headers["x-rate-limit-remaining"] for r in answers] == ["1", "0", "0"]
        assert {r.headers["x-rate-limit-limit"] for r in answers} == {"2"}
        # the epoch second at which the window reopens, the same for the whole window
        resets = {r.headers["x-rate-limit-reset"] for r in answers}
        assert len(resets) == 1 and 55 <= int(resets.pop()) - time.time() <= 61
        assert answers[2].json()["title"] == "Too Many Requests"
        assert len(fx.search_queries) == 3 and fx.search_results == [0, 0, 0]


# --- queries ------------------------------------------------------------------------------------

QUERY_POSTS = [  # post i has id i: `sample:N` keeps ids below N
    x_payload(1, "Orbital is down again", created_at=T0),
    x_payload(2, "The orbital period of Mars", created_at=T0),
    x_payload(3, "Panne chez #OrbitalTelecom", lang="fr", created_at=T0),
    x_payload(4, "Hello @Orbital_Care, no-signal since noon", created_at=T0),
    x_payload(5, "$ORBT is up", username="orbital_care", author_id="77", created_at=T0),
    x_payload(6, "Nimbus est mieux", lang="fr", in_reply_to_user_id="77", created_at=T0),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("orbital", {1, 2}),  # whole tokens: not #OrbitalTelecom nor @Orbital_Care
        ('ORBITAL -"orbital period"', {1}),
        ('"no signal"', {4}),  # punctuation separates tokens
        ("#orbitaltelecom", {3}),
        ("@orbital_care", {4}),
        ("from:Orbital_Care", {5}),
        ("from:77", {5}),
        ("$orbt", {5}),
        ("orbital OR panne lang:fr", {1, 2, 3}),  # AND binds tighter than OR
        ("(orbital OR panne) lang:fr", {3}),
        ("orbital -(period OR mars)", {1}),
        ("orbital sample:2", {1}),
        ("nimbus is:reply", {6}),
        ("nimbus -is:reply", set()),
        ("mieux OR up -lang:fr", {5, 6}),
    ],
)
def test_search_matches_x_query_syntax(query: str, expected: set[int]) -> None:
    with FakeX(TOKEN, search_matches_query=True, clock=lambda: T0 + timedelta(hours=1)) as fx:
        fx.add_posts(QUERY_POSTS)
        r = search(fx, query=query, max_results="100")
        assert r.status_code == 200, r.text
        assert {int(t["id"]) for t in r.json().get("data", [])} == expected


def test_every_post_matches_unless_asked_to_match_queries(fx: FakeX) -> None:
    fx.add_posts(QUERY_POSTS)
    assert search(fx, query="zzz").json()["meta"]["result_count"] == len(QUERY_POSTS)
    assert fx.search_results == [6] and fx.search_posts_returned == 6


@pytest.mark.parametrize(
    "query",
    [
        *("(orbital", "orbital)", "orbital OR", "OR orbital", "a OR OR b", "()", '"orbital'),
        *('""', "orbital -", "orbital place:paris", "orbital sample:0"),
        *("-orbital", "-orbital -nimbus", "-(orbital nimbus)", "lang:en"),  # nothing positive
    ],
)
def test_queries_x_refuses_are_answered_400(fx: FakeX, query: str) -> None:
    for path in ("search/recent", "counts/recent"):
        r = requests.get(
            f"{fx.base_url}/2/tweets/{path}", params={"query": query}, headers=AUTH, timeout=5
        )
        assert r.status_code == 400
        body = r.json()
        assert body["title"] == "Invalid Request"
        assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
        assert body["errors"][0]["parameters"] == {"query": [query]}
        assert body["errors"][0]["message"].startswith("There were errors processing")


def test_the_watch_rules_are_queries_the_fake_understands() -> None:
    """veille's own rules go to search and counts as queries: the fake must take them all."""
    for rule in compile_rules(load_watch()):
        assert len(rule.value) <= 512
        assert parse_query(rule.value).standalone


def test_query_length_limit_follows_the_access_level() -> None:
    long_query = "orbital " + "x" * 600
    with FakeX(TOKEN) as fx:  # Basic: 512
        r = search(fx, query=long_query)
        assert r.status_code == 400 and "too long" in r.json()["errors"][0]["message"]
        assert search(fx, query="o" * 512).status_code == 200
    with FakeX(TOKEN, query_max_length=1024) as fx:  # Pro
        assert search(fx, query=long_query).status_code == 200


# --- post counts ----------------------------------------------------------------------------


def counts(fx: FakeX, **params: str) -> requests.Response:
    url = f"{fx.base_url}/2/tweets/counts/recent"
    return requests.get(url, params={"query": "orbital", **params}, headers=AUTH, timeout=5)


def test_counts_buckets_are_aligned_and_cut_at_the_window(fx: FakeX) -> None:
    times = [T0 + timedelta(minutes=m) for m in (-70, 5, 50, 61, 130)]  # 07:50 ... 11:10
    fx.add_posts(x_payload(i, f"post {i}", created_at=t) for i, t in enumerate(times, 1))
    window = {"start_time": "2026-11-20T08:30:00Z", "end_time": "2026-11-20T10:15:00Z"}
    body = counts(fx, **window).json()  # hour buckets by default
    assert body == {
        "data": [
            {
                "end": "2026-11-20T09:00:00.000Z",
                "start": "2026-11-20T08:30:00.000Z",
                "tweet_count": 0,
            },
            {
                "end": "2026-11-20T10:00:00.000Z",
                "start": "2026-11-20T09:00:00.000Z",
                "tweet_count": 2,
            },
            {
                "end": "2026-11-20T10:15:00.000Z",
                "start": "2026-11-20T10:00:00.000Z",
                "tweet_count": 1,
            },
        ],
        "meta": {"total_tweet_count": 3},
    }
    days = counts(fx, granularity="day").json()  # the last 7 days up to X's now
    assert [d["start"] for d in days["data"]][:2] == [
        "2026-11-14T09:00:00.000Z",  # now - 7 days
        "2026-11-15T00:00:00.000Z",  # then whole UTC days
    ]
    assert days["data"][-1] == {
        "end": "2026-11-21T09:00:00.000Z",
        "start": "2026-11-21T00:00:00.000Z",
        "tweet_count": 0,
    }
    assert [d["tweet_count"] for d in days["data"]][-2] == 5
    assert days["meta"] == {"total_tweet_count": 5}
    minutes = counts(
        fx, granularity="minute", start_time="2026-11-20T09:04:30Z", end_time="2026-11-20T09:07Z"
    ).json()
    assert [(d["start"][11:19], d["tweet_count"]) for d in minutes["data"]] == [
        ("09:04:30", 0),
        ("09:05:00", 1),
        ("09:06:00", 0),
    ]
    assert [q.get("granularity") for q in fx.counts_queries] == [None, "day", "minute"]


def test_counts_match_the_query_when_asked() -> None:
    with FakeX(TOKEN, search_matches_query=True, clock=lambda: T0 + timedelta(hours=1)) as fx:
        fx.add_posts(QUERY_POSTS)
        assert counts(fx, query="orbital").json()["meta"]["total_tweet_count"] == 2
        assert counts(fx, query="lang:fr nimbus").json()["meta"]["total_tweet_count"] == 1


def test_set_counts_reports_a_steady_volume(fx: FakeX) -> None:
    fx.add_posts(posts(1, 2, 3))
    fx.set_counts(None, 2400)  # 100 an hour
    fx.set_counts("nimbus", 48)
    window = {"start_time": "2026-11-20T09:30:00Z", "end_time": "2026-11-20T12:00:00Z"}
    body = counts(fx, **window).json()
    assert [d["tweet_count"] for d in body["data"]] == [50, 100, 100]
    assert body["meta"]["total_tweet_count"] == 250
    assert counts(fx, query="nimbus", **window).json()["meta"]["total_tweet_count"] == 5
    week = counts(fx, granularity="minute").json()
    assert len(week["data"]) == 7 * 24 * 60 and week["meta"]["total_tweet_count"] == 7 * 2400


def test_counts_refuse_bad_parameters_and_have_their_own_rate_limit() -> None:
    with FakeX(TOKEN, counts_limit=3, search_limit=1, clock=lambda: T0) as fx:
        assert counts(fx, granularity="week").status_code == 400
        too_old = counts(fx, start_time="2026-11-12T00:00:00Z")
        assert too_old.status_code == 400 and "must be on or after" in too_old.text
        ok = counts(fx)
        assert ok.status_code == 200 and ok.headers["x-rate-limit-remaining"] == "0"
        limited = counts(fx)
        assert limited.status_code == 429 and limited.headers["x-rate-limit-limit"] == "3"
        assert 890 <= int(limited.headers["x-rate-limit-reset"]) - time.time() <= 901
        assert search(fx).status_code == 200  # search's window is its own
        assert len(fx.counts_queries) == 4


# --- usage ------------------------------------------------------------------------------------


def usage(fx: FakeX, **params: str) -> requests.Response:
    return requests.get(f"{fx.base_url}/2/usage/tweets", params=params, headers=AUTH, timeout=5)


def test_usage_counts_each_post_sent_once_a_day() -> None:
    day_after = T0 + timedelta(days=1)
    with FakeX(TOKEN, keepalive_s=0.2, cap_reset_day=20, clock=lambda: day_after) as fx:
        fx.add_posts(posts(1, 2, 3))
        with connect(fx) as r:
            read_posts(r, 3)
        fx.wait_idle(2)
        fx.add_posts(posts(4))  # searchable, not streamed yet
        window = {"start_time": "2026-11-20T09:02:00Z", "end_time": "2026-11-20T09:05:00Z"}
        assert search(fx, **window).json()["meta"]["result_count"] == 3  # 2, 3, 4
        today = date(2026, 11, 21)
        assert fx.usage_by_day == {today: 4}  # 2 and 3 were sent twice
        fx.set_usage(date(2026, 11, 19), 500)  # before the cycle began on the 20th
        fx.set_usage(date(2026, 11, 20), 40)

        body = usage(fx).json()
        assert body == {
            "data": {
                "cap_reset_day": 20,
                "project_cap": "2000000",
                "project_id": body["data"]["project_id"],
                "project_usage": "44",
            }
        }
        assert body["data"]["project_id"].isdigit()
        fields = {"usage.fields": "daily_project_usage,daily_client_app_usage", "days": "2"}
        data = usage(fx, **fields).json()["data"]
        assert data["daily_project_usage"] == {
            "project_id": body["data"]["project_id"],
            "usage": [
                {"date": "2026-11-20T00:00:00.000Z", "usage": "40"},
                {"date": "2026-11-21T00:00:00.000Z", "usage": "4"},
            ],
        }
        assert data["daily_client_app_usage"][0]["usage_result_count"] == 2
        week = usage(fx, **{"usage.fields": "daily_project_usage"}).json()["data"]
        assert [u["usage"] for u in week["daily_project_usage"]["usage"]] == ["500", "40", "4"]

        fx.set_usage(today, 1000)
        fx.add_posts(posts(5))
        with connect(fx) as r:
            assert ids(read_posts(r, 2)) == ["4", "5"]
        fx.wait_idle(2)
        assert fx.usage_by_day[today] == 1001  # post 4 was counted today already
        for bad in ({"days": "0"}, {"days": "91"}, {"usage.fields": "bogus"}):
            assert usage(fx, **bad).status_code == 400


# --- fault injection -------------------------------------------------------------------------


def test_fail_next_answers_a_status_then_lets_requests_through(fx: FakeX) -> None:
    fx.set_users({"orbital_care": x_user("11", "orbital_care")})
    fx.fail_next("/2/users/by", 503)
    fx.fail_next("/2/users", 404, times=2)
    fx.fail_next("/2/tweets/search/stream", 429, headers={"x-rate-limit-reset": "123"})
    url = f"{fx.base_url}/2/users/by"
    statuses = [
        requests.get(url, params={"usernames": "orbital_care"}, headers=AUTH, timeout=5)
        for _ in range(4)
    ]
    assert [r.status_code for r in statuses] == [503, 404, 404, 200]
    assert statuses[0].json() == {
        "title": "Service Unavailable",
        "type": "about:blank",
        "status": 503,
        "detail": "Service Unavailable",
    }
    assert statuses[3].json()["data"][0]["username"] == "orbital_care"
    assert fx.user_lookups == [["orbital_care"]]  # failed requests reach no endpoint
    assert requests.get(url, params={"usernames": "a"}, timeout=5).status_code == 401
    refused = connect(fx)
    assert refused.status_code == 429 and refused.headers["x-rate-limit-reset"] == "123"
    assert fx.stream_errors == [429] and fx.connect_count == 1
    with connect(fx) as r:
        assert r.status_code == 200
    assert fx.errors_answered == 5


# --- users and compliance ------------------------------------------------------------------------


def test_users_by_username(fx: FakeX) -> None:
    fx.set_users({"Orbital_Care": x_user("11", "Orbital_Care", followers=500, verified=True)})
    url = f"{fx.base_url}/2/users/by"
    params = {"usernames": "orbital_care,ghost", "user.fields": "public_metrics,verified"}
    body = requests.get(url, params=params, headers=AUTH, timeout=5).json()
    (user,) = body["data"]
    assert set(user) == {"id", "name", "username", "public_metrics", "verified"}
    assert user["public_metrics"]["followers_count"] == 500
    assert body["errors"][0]["value"] == "ghost"
    assert body["errors"][0]["title"] == "Not Found Error"
    assert body["errors"][0]["type"] == "https://api.twitter.com/2/problems/resource-not-found"

    fx.set_users({"Orbital_Care": x_user("11", "Orbital_Care", followers=900)})
    body = requests.get(url, params=params, headers=AUTH, timeout=5).json()
    assert body["data"][0]["public_metrics"]["followers_count"] == 900
    assert fx.user_lookups == [["orbital_care", "ghost"]] * 2


def test_compliance_job_lifecycle() -> None:
    with FakeX(TOKEN, compliance_polls=2) as fx:
        fx.add_posts(posts(1, 2, 3))
        fx.mark_deleted({"2": "deleted", "3": "suspended", "99": "protected"})
        jobs = f"{fx.base_url}/2/compliance/jobs"
        job = requests.post(jobs, json={"type": "tweets", "name": "nightly"}, headers=AUTH).json()
        job = job["data"]
        assert job["status"] == "created" and job["resumable"] is False and job["name"] == "nightly"
        assert job["upload_url"] == f"{fx.base_url}/upload/{job['id']}"
        assert job["download_url"] == f"{fx.base_url}/download/{job['id']}"

        def status() -> str:
            r = requests.get(f"{jobs}/{job['id']}", headers=AUTH, timeout=5)
            return str(r.json()["data"]["status"])

        assert status() == "created"
        wrong = requests.put(job["upload_url"], data=b"1\n", timeout=5)
        assert wrong.status_code == 403  # pre-signed for text/plain
        put = requests.put(
            job["upload_url"], data=b"1\n2\n3\n", headers={"Content-Type": "text/plain"}, timeout=5
        )
        assert put.status_code == 200
        assert requests.get(job["download_url"], timeout=5).status_code == 404  # not ready
        assert [status(), status(), status(), status()] == [
            "in_progress",
            "in_progress",
            "complete",
            "complete",
        ]
        lines = [json.loads(x) for x in requests.get(job["download_url"], timeout=5).iter_lines()]
        assert [(x["id"], x["action"], x["reason"]) for x in lines] == [
            ("2", "delete", "deleted"),
            ("3", "delete", "suspended"),
        ]
        assert lines[0]["created_at"] == "2026-11-20T09:02:00.000Z"
        assert requests.post(jobs, json={"type": "likes"}, headers=AUTH).status_code == 400
        assert requests.get(f"{jobs}/123", headers=AUTH, timeout=5).status_code == 404
