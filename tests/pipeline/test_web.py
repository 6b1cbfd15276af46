"""The read-only ClickHouse HTTP endpoint and the live page, over the session's chDB.

clickhouse-connect talks HTTP to `LiveServer` exactly as it would to a ClickHouse server; every
named query must answer the same rows as in process, writes must be refused in ClickHouse's
error shape, and the page must show the store's values, escaped.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from factories import make_enriched

from pipeline.web import discovery
from pipeline.web.server import LiveServer
from pipeline.web.store import ChdbStore, ClickHouseError, ReadRequest, statement_kind
from sinks import queries
from sinks.clickhouse import ClickHouseSink
from veille.models import Alert, UsageSnapshot
from veille.settings import ClickHouseSettings

HOSTILE = '<script>alert(1)</script> @orbital_care "q" & <img src=x onerror=alert(2)>'
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def fill(ch: Any, clickhouse: ClickHouseSettings) -> int:
    """A day of posts (one hostile), an alert with markup in it, X usage; returns the posts."""
    sink = ClickHouseSink(clickhouse, client=ch)
    sink.start()
    entries = [("Orbital Telecom",), ("Nimbus Télécom",), ("Orbital Telecom", "Nimbus Télécom")]
    kinds = [("brand",), ("competitor",), ("brand", "competitor")]
    n = 120
    for i in range(n):
        sink.add(
            make_enriched(
                1000 + i,
                f"post {i} about #fibre and #5G",
                created_at=T0 - timedelta(minutes=12 * i),
                entries=entries[i % 3],
                kinds=kinds[i % 3],
                sentiment=("negative", "neutral", "positive")[i % 3],
                lang=("en", "fr")[i % 2],
                intent="question" if i % 10 == 0 else "other",
                addressed=("orbital_care",) if i % 10 == 0 else (),
            )
        )
    sink.add(
        make_enriched(
            99,
            HOSTILE,
            created_at=T0,
            sentiment="negative",
            intent="complaint",
            addressed=("orbital_care",),
            username="evil_user",
            entries=("Orbital Telecom", "<b>Evil & Co</b>"),
            kinds=("brand", "brand"),
        )
    )
    sink.add(
        Alert(
            key="spike:Orbital Telecom",
            kind="spike",
            severity="critical",
            title="Volume spike: Orbital <Telecom>",
            detail="<i>6x</i> the usual volume",
            entry="Orbital Telecom",
            created_at=T0 - timedelta(hours=1),
        )
    )
    now = datetime.now(UTC)
    sink.add(
        UsageSnapshot(
            day=f"{now:%Y-%m-%d}",
            month=f"{now:%Y-%m}",
            reads_day=40,
            reads_month=400,
            budget_posts=10_000,
            cost_month_usd=2.0,
        )
    )
    sink.flush()
    return n + 1


@pytest.fixture
def server(ch: Any, clickhouse: ClickHouseSettings, chdb_dir: Path) -> Iterator[LiveServer]:
    srv = LiveServer(ChdbStore(chdb_dir, clickhouse.database), database=clickhouse.database, port=0)
    srv.start()
    yield srv
    srv.stop()


def _example_params(q: queries.NamedQuery) -> list[dict[str, str]]:
    """The query's defaults, then the parameters of each of its `-- example:` lines."""
    out: list[dict[str, str]] = [{}]
    for example in q.examples:
        words = shlex.split(example)
        params = {}
        for flag, value in itertools.pairwise(words):
            if flag in ("--param", "-p"):
                key, _, val = value.partition("=")
                params[key] = val
        out.append(params)
    return out


def test_every_named_query_answers_over_http_as_in_process(
    ch: Any, clickhouse: ClickHouseSettings, server: LiveServer
) -> None:
    fill(ch, clickhouse)
    http = clickhouse_connect.get_client(host="127.0.0.1", port=server.port)
    try:
        assert http.server_version and http.ping()
        compared = 0
        for q in queries.available().values():
            for params in _example_params(q):
                assert queries.run(http, q.name, params) == queries.run(ch, q.name, params), (
                    q.name,
                    params,
                )
                compared += 1
        assert compared >= 2 * len(queries.available())
        rows = queries.run(http, "recent_posts", {"limit": "200"})[1]
        assert len(rows) == 121 and any(r[-1] == HOSTILE for r in rows)
        # every column type of the posts table survives the Native format, byte for byte
        sql = "SELECT * FROM posts FINAL ORDER BY id"
        assert http.query(sql).result_rows == ch.query(sql).result_rows
        # server-side parameters are bound by ClickHouse, never formatted into the SQL
        evil = "'; DROP TABLE posts; --"
        assert http.query("SELECT {v:String}", parameters={"v": evil}).result_rows == [(evil,)]
        assert http.command("EXISTS TABLE posts") == 1
    finally:
        http.close()


def _raw(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, data=body, headers=headers or {"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_writes_are_refused_with_clickhouses_error_shape(
    ch: Any, clickhouse: ClickHouseSettings, server: LiveServer
) -> None:
    fill(ch, clickhouse)
    http = clickhouse_connect.get_client(host="127.0.0.1", port=server.port)
    try:
        for sql in (
            "INSERT INTO posts (id) VALUES (1)",
            "ALTER TABLE posts DELETE WHERE 1",
            "DROP TABLE posts",
            "CREATE TABLE t (a Int8) ENGINE = Memory",
            "SELECT 1; DROP TABLE posts",  # a second statement runs read-only too
            "SELECT * FROM file('/etc/hostname', 'LineAsString')",
            "INSERT INTO FUNCTION file('/tmp/x.tsv', 'TSV') SELECT 1",
        ):
            with pytest.raises(DatabaseError) as err:
                http.command(sql)
            assert err.value.code == 164 and "(READONLY)" in str(err.value), sql
        assert ch.command("EXISTS TABLE posts") == 1
    finally:
        http.close()

    url = server.url
    status, headers, body = _raw(url + "?readonly=0", b"SELECT 1")
    assert status == 500 and headers["X-ClickHouse-Exception-Code"] == "164"
    assert re.fullmatch(r"Code: 164\. DB::Exception: .+\. \(READONLY\)\n", body), body
    status, headers, body = _raw(url, b"DROP TABLE posts")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (500, "164")
    assert body.startswith("Code: 164. DB::Exception:") and body.endswith("(READONLY)\n")
    assert _raw(url + "?readonly=2", b"SELECT 7")[::2] == (200, "7\n")
    status, headers, body = _raw(url + "?query=SELECT%20nope", None, {})
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (404, "47")  # UNKNOWN_IDENTIFIER
    assert _raw(url + "?query=SELECT%20count()%20FROM%20posts", None, {})[2] == "121\n"
    assert _raw(url + "ping", None, {})[::2] == (200, "Ok.\n")
    # a web page of another origin cannot make the user's browser read the store
    status, headers, _ = _raw(url, b"SELECT 1", {"Origin": "https://evil.example"})
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (403, "497")


def test_statement_kinds_and_settings_are_checked_before_running() -> None:
    assert statement_kind("  -- note\n/* c */ (SELECT 1)") == "SELECT"
    assert statement_kind("# hash comment\nwith x as (select 1) select * from x") == "WITH"
    assert statement_kind("OPTIMIZE TABLE posts") == "OPTIMIZE"
    store = ChdbStore(Path("/nonexistent"), "veille")
    for request in (
        ReadRequest("SET readonly = 0"),
        ReadRequest("SELECT 1", settings={"readonly": "0"}),
        ReadRequest("KILL QUERY WHERE 1"),
    ):
        with pytest.raises(ClickHouseError) as err:
            store.read(request)  # refused before chDB is even opened
        assert err.value.code == 164 and err.value.name == "READONLY"


def test_page_shows_the_stores_values_escaped(
    ch: Any, clickhouse: ClickHouseSettings, server: LiveServer
) -> None:
    stored = fill(ch, clickhouse)
    status, headers, html = _raw(server.url + "?since=30d", None, {})
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
    kpi = re.search(r'Posts stored</div><div class="value">([\d,]+)<', html)
    assert kpi and int(kpi.group(1).replace(",", "")) == stored
    for panel in ("timeline", "per-entry", "share-of-voice", "care", "alerts", "recent", "health"):
        assert f'id="{panel}"' in html, panel
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>Evil" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;Evil &amp; Co" in html
    assert "Volume spike: Orbital &lt;Telecom&gt;" in html and "&lt;i&gt;6x&lt;/i&gt;" in html
    assert "Orbital Telecom" in html and "Nimbus Télécom" in html and "<svg" in html
    # the filters reach the recent posts (bound as parameters: a hostile value finds nothing)
    _, _, fr = _raw(server.url + "panels?since=30d&lang=fr&sentiment=negative", None, {})
    recent = fr[fr.index('id="recent"') :]
    assert "post 3 about" in recent and "post 1 about" not in recent  # i=3: fr and negative
    _, _, none = _raw(server.url + "panels?entry=%27%3B%20DROP%20TABLE%20posts%3B--", None, {})
    assert "No post matches." in none and ch.command("EXISTS TABLE posts") == 1
    for name, kind in (("live.js", "javascript"), ("live.css", "css"), ("report.css", "css")):
        status, headers, _ = _raw(server.url + "static/" + name, None, {})
        assert status == 200 and kind in headers["Content-Type"], name


def test_discovery_file_points_to_a_live_process_only(tmp_path: Path) -> None:
    assert discovery.find(tmp_path) is None
    served = discovery.Served(os.getpid(), "127.0.0.1", 8765, "veille")
    discovery.announce(tmp_path, served)
    assert discovery.find(tmp_path) == served
    discovery.withdraw(tmp_path, pid=os.getpid() + 1)  # not ours: kept
    assert discovery.find(tmp_path) == served
    discovery.withdraw(tmp_path)
    assert not discovery.path_for(tmp_path).exists()
    dead = discovery.Served(2**22 + 12345, "127.0.0.1", 8765, "veille")  # above pid_max
    discovery.announce(tmp_path, dead)
    assert discovery.find(tmp_path) is None
