"""The fake X API v2 server speaks X's wire format and plays its stream script faithfully."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
    x_user,
)
from veille.models import parse_stream_payload

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
        remaining = [search(fx).headers["x-rate-limit-remaining"] for _ in range(2)]
        assert remaining == ["1", "0"]
        limited = search(fx)
        assert limited.status_code == 429 and limited.json()["title"] == "Too Many Requests"
        assert limited.headers["x-rate-limit-remaining"] == "0"
        assert 55 <= int(limited.headers["x-rate-limit-reset"]) - time.time() <= 61
        assert len(fx.search_queries) == 3


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
