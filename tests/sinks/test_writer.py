"""The ClickHouse sink against chDB: rows land intact, redelivery counts once everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import make_enriched

from sinks import queries
from sinks.base import SinkError
from sinks.clickhouse import ClickHouseSink
from sinks.migrate import available, migrate
from veille.models import AccountSnapshot, Alert, DeadLetter, RuleForecast, UsageSnapshot
from veille.settings import ClickHouseSettings


def _sink(ch: Any, clickhouse: ClickHouseSettings, chunk_rows: int = 10_000) -> ClickHouseSink:
    s = ClickHouseSink(clickhouse, client=ch, chunk_rows=chunk_rows)
    s.start()
    return s


def _posts(n: int, start: int = 1) -> list[Any]:
    entries = [("Orbital Telecom",), ("Nimbus Télécom",), ("Orbital Telecom", "Nimbus Télécom"), ()]
    kinds = [("brand",), ("competitor",), ("brand", "competitor"), ()]
    topics = [("outage",), (), ("pricing", "outage"), ()]
    sentiments = ["negative", "neutral", "positive"]
    return [
        make_enriched(
            start + i,
            f"post {i} #Orbital #5G",
            entries=entries[i % 4],
            kinds=kinds[i % 4],
            topics=topics[i % 4],
            sentiment=sentiments[i % 3],
            entities={
                "hashtags": [
                    {"start": 7, "end": 15, "tag": "Orbital"},
                    {"start": 16, "end": 19, "tag": "5G"},
                ]
            },
        )
        for i in range(n)
    ]


def test_migrations_apply_once_and_record_versions(ch: Any) -> None:
    assert migrate(ch) == []  # the fixture already applied them
    versions = [
        r[0]
        for r in ch.query(
            "SELECT version FROM schema_migrations FINAL ORDER BY version"
        ).result_rows
    ]
    assert versions == [m.version for m in available()]
    for table in ("posts", "dead_letters", "mentions_1m"):
        assert ch.command(f"EXISTS TABLE {table}") == 1


def test_posts_round_trip_with_x_fields(ch: Any, clickhouse: ClickHouseSettings) -> None:
    sink = _sink(ch, clickhouse)
    post = make_enriched(
        424242,
        "@orbital_care still no signal #outage",
        lang="en",
        sentiment="negative",
        topics=("outage",),
        referenced_tweets=[{"type": "replied_to", "id": "4242"}],
        in_reply_to_user_id="77",
        public_metrics={"retweet_count": 3, "reply_count": 1, "like_count": 9, "quote_count": 0},
        context_annotations=[
            {
                "domain": {"id": "45", "name": "Brand Vertical"},
                "entity": {"id": "781", "name": "Telecom"},
            }
        ],
    )
    sink.add(post)
    sink.flush()
    row = ch.query(
        "SELECT id, kind, replied_to_id, in_reply_to_user_id, like_count, retweet_count, "
        "context_entities, topics, entries, sentiment, author_username, author_followers "
        "FROM posts FINAL WHERE id = 424242"
    ).result_rows
    assert row == [
        (
            424242,
            "reply",
            4242,
            77,
            9,
            3,
            ["Telecom"],
            ["outage"],
            ["Orbital Telecom"],
            "negative",
            "someone",
            120,
        )
    ]


def test_redelivered_batch_counts_once_in_posts_rollup_and_queries(
    ch: Any, clickhouse: ClickHouseSettings
) -> None:
    sink = _sink(ch, clickhouse, chunk_rows=7)
    batch = _posts(40)
    for p in batch:
        sink.add(p)
    sink.flush()
    # the same batch again, as after a crash between insert and commit, split differently
    for p in batch[5:] + batch[:5]:
        sink.add(p)
    sink.flush()

    assert ch.command("SELECT count() FROM posts FINAL") == 40
    assert ch.command("SELECT groupBitmapMerge(posts) FROM mentions_1m") == 40

    _, rows = queries.run(ch, "mentions_over_time", {"interval_s": "60"})
    assert sum(r[1] for r in rows) == 40

    # per entry, the rollup agrees with the deduplicated posts table
    from_rollup = dict(
        ch.query(
            "SELECT entry, groupBitmapMerge(posts) FROM mentions_1m GROUP BY entry"
        ).result_rows
    )
    from_posts = dict(
        ch.query(
            "SELECT entry, count() FROM posts FINAL "
            "ARRAY JOIN if(empty(entries), [''], entries) AS entry GROUP BY entry"
        ).result_rows
    )
    assert from_rollup == from_posts
    assert from_posts["Orbital Telecom"] == 20


CHANGES: tuple[dict[str, Any], ...] = (
    {"sentiment": "positive"},
    {"entries": ("Nimbus Télécom",), "entry_kinds": ("competitor",)},
    {"entries": (), "entry_kinds": ()},
    {"topics": ("pricing",)},
    {"lang": "fr"},
)


def _named_queries(client: Any) -> dict[str, list[list[Any]]]:
    return {n: [list(r) for r in queries.run(client, n)[1]] for n in queries.available()}


def _reference(clickhouse: ClickHouseSettings, chdb_dir: Any, last: list[Any]) -> Any:
    """Every named query on a database of its own where the last copy of each post was written
    once."""
    ref = ClickHouseSink(
        clickhouse.model_copy(update={"database": f"{clickhouse.database}_ref"}), chdb_dir
    )
    ref.start()
    try:
        for p in last:
            ref.add(p)
        ref.flush()
        return _named_queries(ref.client)
    finally:
        ref.client.command(f"DROP DATABASE IF EXISTS `{clickhouse.database}_ref`")
        ref.close()


def test_copies_that_differ_count_as_the_stored_copy_in_every_query(
    ch: Any, clickhouse: ClickHouseSettings, chdb_dir: Any
) -> None:
    """A second copy of a post that differs in what the rollup counts (sentiment, entries,
    topics, language) replaces the first in every named query, as it does in `posts FINAL`:
    within one batch, in a later batch, and across chunks."""
    sink = _sink(ch, clickhouse, chunk_rows=7)
    first = _posts(40)
    for p in first:
        sink.add(p)
    sink.flush()
    last = {p.id: p for p in first}
    again = [p.model_copy(update=CHANGES[i % len(CHANGES)]) for i, p in enumerate(first[:25])]
    # two copies of post 31 in one batch, both differing from the stored one: the last wins
    again += [first[30].model_copy(update=CHANGES[0]), first[30].model_copy(update=CHANGES[2])]
    for p in again:
        sink.add(p)
        last[p.id] = p
    assert sink.flush().rollup_rebuilt > 0

    assert ch.command("SELECT count() FROM posts FINAL") == 40
    _, by_brand = queries.run(ch, "sentiment_by_brand")
    stored = dict(
        ch.query(
            "SELECT entry, count() FROM posts FINAL ARRAY JOIN entries AS entry GROUP BY entry"
        ).result_rows
    )
    assert {r[0]: r[2] for r in by_brand} == stored
    for row in by_brand:  # posts = positive + neutral + negative, each post once
        assert row[2] == row[3] + row[4] + row[5]
    assert _named_queries(ch) == _reference(clickhouse, chdb_dir, list(last.values()))
    assert ch.command("SELECT countIf(pending) FROM rollup_rebuilds FINAL") == 0


def test_a_rebuild_cut_short_is_done_by_the_next_sink(
    ch: Any, clickhouse: ClickHouseSettings, chdb_dir: Any
) -> None:
    """The sink stops after inserting differing copies and before rebuilding their minutes (a
    crash): the next sink, given the same batch again, rebuilds them from the marks it finds."""
    sink = _sink(ch, clickhouse)
    first = _posts(12)
    for p in first:
        sink.add(p)
    sink.flush()
    changed = [p.model_copy(update={"sentiment": "positive"}) for p in first]

    class CutShort:
        def __init__(self, client: Any) -> None:
            self._client = client

        def command(self, sql: str, parameters: Any = None) -> Any:
            if sql.startswith("DELETE FROM mentions_1m"):
                raise RuntimeError("killed")
            return self._client.command(sql, parameters=parameters)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

    crashing = ClickHouseSink(clickhouse, client=CutShort(ch))
    crashing.start()
    for p in changed:
        crashing.add(p)
    with pytest.raises(SinkError):
        crashing.flush()
    assert ch.command("SELECT countIf(pending) FROM rollup_rebuilds FINAL") > 0

    restarted = _sink(ch, clickhouse)  # reads the same batch again: its copies are stored now
    for p in changed:
        restarted.add(p)
    assert restarted.flush().rollup_rebuilt > 0
    assert _named_queries(ch) == _reference(clickhouse, chdb_dir, changed)


def test_every_named_query_runs_and_agrees_with_posts(
    ch: Any, clickhouse: ClickHouseSettings
) -> None:
    sink = _sink(ch, clickhouse)
    for p in _posts(30):
        sink.add(p)
    now = datetime.now(UTC)
    for hours, followers in ((48, 1000), (24, 1100), (0, 1250)):
        sink.add(
            AccountSnapshot(
                id="42",
                username="orbital",
                entry="Orbital Telecom",
                entry_kind="brand",
                followers_count=followers,
                observed_at=now - timedelta(hours=hours),
            )
        )
    sink.add(
        Alert(
            key="spike:Orbital Telecom", kind="spike", title="Volume spike", entry="Orbital Telecom"
        )
    )
    sink.add(
        make_enriched(
            900,
            "@orbital_care how do I change my plan? https://t.co/x",
            intent="question",
            addressed=("orbital_care",),
            entities={
                "urls": [
                    {"url": "https://t.co/x", "expanded_url": "https://orbital.example/plans"}
                ],
                "mentions": [{"username": "orbital_care"}],
            },
        )
    )
    sink.add(
        UsageSnapshot(
            day=f"{now:%Y-%m-%d}",
            month=f"{now:%Y-%m}",
            reads_day=30,
            reads_month=30,
            budget_posts=1000,
            cost_month_usd=0.15,
            x_reported_day=32,
            x_checked_at=now,
        )
    )
    for at, per_day in ((now - timedelta(days=1), 50.0), (now, 40.0)):
        sink.add(
            RuleForecast(
                forecast_at=at,
                tag="brand:Orbital Telecom",
                kind="brand",
                rules=1,
                counted_posts=int(per_day * 7),
                days=7.0,
                posts_per_day=per_day,
                cost_month_usd=round(per_day * 30.44 * 0.005, 2),
                budget_usd=5.0,
                over_budget=per_day > 40,
            )
        )
    sink.flush()
    for name in queries.available():
        columns, rows = queries.run(ch, name)
        assert columns, name
        assert rows, f"{name} returned no rows on a filled table"

    _, audience = queries.run(ch, "audience_growth")
    assert audience[0][:6] == ["orbital", "Orbital Telecom", "brand", 1000, 1250, 250]
    assert audience[0][6] == pytest.approx(125.0)
    _, usage = queries.run(ch, "x_usage")
    assert usage[0][1] == 30 and usage[0][4] == pytest.approx(0.15)
    assert usage[0][-2:] == [32, 2]  # X's own count, and X's minus veille's
    columns, forecast = queries.run(ch, "x_forecast")
    assert len(forecast) == 1  # the newest forecast only
    row = dict(zip(columns, forecast[0], strict=True))
    assert (row["tag"], row["posts_per_day"], row["over_budget"]) == (
        "brand:Orbital Telecom",
        40.0,
        False,
    )
    _, sov = queries.run(ch, "share_of_voice")
    assert sum(r[3] for r in sov) == pytest.approx(1.0, abs=1e-3)
    _, by_brand = queries.run(ch, "sentiment_by_brand", {"kind": "brand"})
    assert [r[0] for r in by_brand] == ["Orbital Telecom"]
    assert by_brand[0][2] == by_brand[0][3] + by_brand[0][4] + by_brand[0][5]
    _, tags = queries.run(ch, "top_hashtags", {"limit": "1"})
    assert tags == [["5g", 30, 1]] or tags == [["orbital", 30, 1]]
    _, recent = queries.run(ch, "recent_posts", {"limit": "3", "sentiment": "negative"})
    assert len(recent) == 3 and all(r[5] == "negative" for r in recent)

    # the trends over time add up, bucket by bucket, to the deduplicated posts
    def posts_with(condition: str) -> int:
        return int(ch.command(f"SELECT count() FROM posts FINAL WHERE {condition}"))

    _, per_entry = queries.run(ch, "entries_over_time", {"interval_s": "60"})
    for entry in ("Orbital Telecom", "Nimbus Télécom"):
        rows = [r for r in per_entry if r[1] == entry]
        assert sum(r[2] for r in rows) == posts_with(f"has(entries, '{entry}')")
        for _, _, posts, negative, positive, share_negative, net in rows:
            assert share_negative == pytest.approx(round(negative / posts, 3))
            assert net == pytest.approx(round((positive - negative) / posts, 3))
    _, brands = queries.run(ch, "entries_over_time", {"kind": "brand"})
    assert {r[1] for r in brands} == {"Orbital Telecom"}
    _, per_topic = queries.run(ch, "topics_over_time", {"interval_s": "60"})
    assert {r[1] for r in per_topic} == {"outage", "pricing"}
    for topic in ("outage", "pricing"):
        counted = sum(r[2] for r in per_topic if r[1] == topic)
        assert counted == posts_with(f"has(topics, '{topic}')")
    _, per_lang = queries.run(ch, "languages_over_time", {"interval_s": "60"})
    assert sum(r[2] for r in per_lang) == posts_with("1")
    _, asks = queries.run(ch, "asks_over_time")
    assert [r[1:] for r in asks] == [["question", 1]]
    _, followers = queries.run(ch, "followers_over_time", {"entry": "Orbital Telecom"})
    assert [r[1:] for r in followers] == [["orbital", n] for n in (1000, 1100, 1250)]


def test_hostile_parameter_values_are_bound_not_formatted(
    ch: Any, clickhouse: ClickHouseSettings
) -> None:
    sink = _sink(ch, clickhouse)
    for p in _posts(8):
        sink.add(p)
    sink.flush()
    hostile = "x' OR 1=1 --"
    _, rows = queries.run(ch, "recent_posts", {"entry": hostile})
    assert rows == []
    _, rows = queries.run(ch, "recent_posts", {"entry": "'; DROP TABLE posts; --"})
    assert rows == [] and ch.command("EXISTS TABLE posts") == 1
    with pytest.raises(queries.QueryError, match="limit"):
        queries.run(ch, "recent_posts", {"limit": "1; DROP TABLE posts"})
    with pytest.raises(queries.QueryError, match="no parameter"):
        queries.run(ch, "recent_posts", {"nope": "1"})
    with pytest.raises(queries.QueryError, match="no query named"):
        queries.run(ch, "does_not_exist")


def test_dead_letters_keep_original_bytes_and_dedupe(
    ch: Any, clickhouse: ClickHouseSettings
) -> None:
    sink = _sink(ch, clickhouse)
    raw = b'{"data": {"id": "1", "text": \xff\xfe'
    dl = DeadLetter(stage="ingest", source="replay:x.ndjson:3", reason="invalid JSON", payload=raw)
    sink.add(dl)
    sink.add(DeadLetter.from_json(dl.model_dump_json()))  # the same record again
    sink.flush()
    rows = ch.query(
        "SELECT stage, source, reason, hex(payload) FROM dead_letters FINAL"
    ).result_rows
    assert rows == [("ingest", "replay:x.ndjson:3", "invalid JSON", raw.hex().upper())]


class _FlakyClient:
    """Fails the first `failures` inserts, then delegates to the real client."""

    def __init__(self, client: Any, failures: int) -> None:
        self.client = client
        self.failures = failures
        self.calls = 0

    def insert(self, *a: Any, **kw: Any) -> Any:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            from clickhouse_connect.driver.exceptions import OperationalError

            raise OperationalError("connection refused")
        return self.client.insert(*a, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_failed_flush_keeps_the_batch_and_skips_chunks_already_written(
    ch: Any, clickhouse: ClickHouseSettings
) -> None:
    from sinks.base import SinkUnavailable

    sink = _sink(ch, clickhouse, chunk_rows=10)
    for p in _posts(25):
        sink.add(p)
    flaky = _FlakyClient(ch, failures=0)
    sink._client = flaky  # type: ignore[assignment]
    original = flaky.insert

    def fail_second(*a: Any, **kw: Any) -> Any:
        if flaky.calls == 1:
            flaky.calls += 1
            from clickhouse_connect.driver.exceptions import OperationalError

            raise OperationalError("connection reset")
        return original(*a, **kw)

    flaky.insert = fail_second  # type: ignore[method-assign]
    with pytest.raises(SinkUnavailable):
        sink.flush()
    assert sink.pending == 25
    assert ch.command("SELECT count() FROM posts") == 10
    sink.flush()
    assert sink.pending == 0
    assert ch.command("SELECT count() FROM posts") == 25  # the first chunk was not sent again


def test_a_block_over_many_months_is_split_not_retried_for_ever(
    ch: Any, clickhouse: ClickHouseSettings
) -> None:
    """150 posts from 150 months (a multi-year replay): ClickHouse refuses a block spanning
    more than 100 partitions with code 252, which the sink took for "too many parts" and
    retried for ever. Now the block is split and every post written."""
    sink = _sink(ch, clickhouse)
    t0 = datetime(2012, 1, 15, tzinfo=UTC)
    for i in range(150):
        sink.add(make_enriched(10_000 + i, created_at=t0 + timedelta(days=31 * i)))
    result = sink.flush()
    assert result.refused == [] and result.inserts >= 2 and result.posts == 150
    assert ch.command("SELECT count() FROM posts FINAL") == 150


def test_rows_refused_alone_come_back_with_the_reason_the_rest_is_written(
    ch: Any, clickhouse: ClickHouseSettings
) -> None:
    from clickhouse_connect.driver.exceptions import DatabaseError

    sink = _sink(ch, clickhouse)
    posts = _posts(40)
    bad = {posts[7].id, posts[31].id}

    class Refusing:
        """The real client, refusing any block that holds a bad post (as ClickHouse refuses a
        value it cannot store)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(ch, name)

        def insert(self, table: str, rows: list[list[Any]], **kw: Any) -> Any:
            if table == "posts" and any(str(r[0]) in bad for r in rows):
                raise DatabaseError("Code: 53. DB::Exception: Type mismatch in a bad post")
            return ch.insert(table, rows, **kw)

    sink._client = Refusing()  # type: ignore[assignment]
    for p in posts:
        sink.add(p)
    result = sink.flush()
    assert sorted(r.id for r, _ in result.refused) == sorted(bad)
    assert all("Code: 53" in reason for _, reason in result.refused)
    assert result.posts == 38 and sink.pending == 0
    assert ch.command("SELECT count() FROM posts FINAL") == 38
