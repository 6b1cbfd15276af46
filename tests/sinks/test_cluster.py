"""Migrations rendered for a ClickHouse cluster (`CLICKHOUSE_CLUSTER`), and the example cluster
configuration in deploy/clickhouse-cluster."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from factories import REPO

from sinks import migrate
from sinks.clickhouse import ClickHouseSink
from sinks.cluster import EVERYWHERE, SHARDING_KEYS, ClusterRenderError, render
from veille.settings import ClickHouseSettings

CLUSTER_DIR = REPO / "deploy" / "clickhouse-cluster"
NETWORK_ERRORS = {198, 209, 210, 279, 519}  # DNS, timeout, refused, all tries failed, ...


def rendered(name: str = "veille", database: str = "veille") -> list[str]:
    out = migrate.ledger_statements(name, database)
    for mg in migrate.available():
        out += mg.statements_for(name, database)
    return out


def created_tables() -> set[str]:
    """Tables the single-server migrations create (and the ledger)."""
    names = {"schema_migrations"}
    for mg in migrate.available():
        for s in mg.statements():
            m = re.match(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", s)
            if m:
                names.add(m.group(1))
    return names


# --- one server: nothing changes ----------------------------------------------------------


def test_single_server_statements_are_unchanged() -> None:
    # sha256 of migrations 0001-0005 and the ledger exactly as `migrate()` ran them before
    # clusters existed (statements, names, file checksums): no cluster setting, no change.
    mgs = [m for m in migrate.available() if m.version <= 5]
    assert [m.version for m in mgs] == [1, 2, 3, 4, 5]
    for database in ("veille", "other"):
        payload = json.dumps(
            [[m.version, m.name, m.checksum, m.statements_for(None, database)] for m in mgs]
            + migrate.ledger_statements(None, database)
        )
        digest = hashlib.sha256(payload.encode()).hexdigest()
        assert digest == "17e4af2f132ed9537aca435d9703b43e9b22b9bcc5da02b99d1b06b3ff5ecbee"
    assert all(m.statements_for("", "veille") == m.statements() for m in mgs)


# --- the cluster rendering ----------------------------------------------------------------


def test_every_cluster_statement_parses(ch: Any) -> None:
    statements = rendered()
    assert len(statements) > len([s for m in migrate.available() for s in m.statements()])
    for stmt in statements:
        formatted = ch.command("SELECT formatQuery({q:String})", parameters={"q": stmt})
        assert isinstance(formatted, str) and formatted, stmt
        if not stmt.startswith("INSERT"):
            assert "ON CLUSTER veille" in formatted, stmt


def test_every_table_has_a_place_on_the_cluster() -> None:
    assert created_tables() == set(SHARDING_KEYS) | EVERYWHERE
    assert SHARDING_KEYS["posts"] == "cityHash64(id)"


def test_sharded_tables_are_replicated_locals_behind_distributed_tables() -> None:
    statements = rendered("veille", "db1")
    creates = {
        m.group(1): s
        for s in statements
        if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER `veille`", s))
    }
    for table, key in SHARDING_KEYS.items():
        local = creates[f"{table}_local"]
        assert re.search(
            rf"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/{{shard}}/{{database}}/"
            rf"{table}_local', '{{replica}}'",
            local,
        ), local
        assert creates[table] == (
            f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER `veille` AS {table}_local\n"
            f"ENGINE = Distributed('veille', 'db1', '{table}_local', {key})"
        )
        # the local table exists before the Distributed table that reads it
        assert statements.index(local) < statements.index(creates[table])
    # engine parameters are kept after the replication ones
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/posts_local'"
        ", '{replica}', stored_at)" in creates["posts_local"]
    )
    assert "ReplicatedAggregatingMergeTree(" in creates["mentions_1m_local"]
    for table in EVERYWHERE:
        assert re.search(
            rf"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/all/{{database}}/{table}', "
            r"'\{shard\}-\{replica\}'",
            creates[table],
        ), creates[table]
        assert f"{table}_local" not in creates


def test_the_rollup_view_aggregates_each_shard_and_queries_read_distributed_tables() -> None:
    statements = rendered()
    (mv,) = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    assert mv.startswith(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS mentions_1m_mv ON CLUSTER `veille` "
        "TO mentions_1m_local AS"
    )
    assert re.search(r"\bFROM posts_local\b", mv) and not re.search(r"\bFROM posts\b", mv)
    assert "ARRAY JOIN\n    if(empty(entries)" in mv  # untouched apart from the tables
    (view,) = [s for s in statements if s.startswith("CREATE VIEW")]
    assert view.startswith("CREATE VIEW IF NOT EXISTS mentions_1m_source ON CLUSTER `veille` AS")
    assert "FROM posts FINAL" in view  # the whole cluster's posts, through `posts`
    # 0005's column additions: local table first, then the Distributed table
    alters = [s for s in statements if s.startswith("ALTER TABLE")]
    assert alters == [
        "ALTER TABLE posts_local ON CLUSTER `veille` ADD COLUMN IF NOT EXISTS author_entry "
        "LowCardinality(String) DEFAULT ''",
        "ALTER TABLE posts ON CLUSTER `veille` ADD COLUMN IF NOT EXISTS author_entry "
        "LowCardinality(String) DEFAULT ''",
        "ALTER TABLE posts_local ON CLUSTER `veille` ADD COLUMN IF NOT EXISTS addressed "
        "Array(String) DEFAULT []",
        "ALTER TABLE posts ON CLUSTER `veille` ADD COLUMN IF NOT EXISTS addressed "
        "Array(String) DEFAULT []",
        # 0007's: X's own usage count beside veille's
        "ALTER TABLE x_usage_local ON CLUSTER `veille` ADD COLUMN IF NOT EXISTS x_reported_day "
        "Nullable(UInt64) AFTER paused",
        "ALTER TABLE x_usage ON CLUSTER `veille` ADD COLUMN IF NOT EXISTS x_reported_day "
        "Nullable(UInt64) AFTER paused",
        "ALTER TABLE x_usage_local ON CLUSTER `veille` ADD COLUMN IF NOT EXISTS x_checked_at "
        "Nullable(DateTime64(3, 'UTC')) AFTER x_reported_day",
        "ALTER TABLE x_usage ON CLUSTER `veille` ADD COLUMN IF NOT EXISTS x_checked_at "
        "Nullable(DateTime64(3, 'UTC')) AFTER x_reported_day",
    ]
    (insert,) = [s for s in statements if s.startswith("INSERT")]
    assert insert.startswith("INSERT INTO stop_words (lang, word) VALUES")


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        (
            "CREATE TABLE IF NOT EXISTS brand_new\n(\n    x UInt8\n)\n"
            "ENGINE = MergeTree\nORDER BY x",
            "brand_new is neither sharded",
        ),
        ("CREATE TABLE IF NOT EXISTS posts\n(\n    x UInt8\n)\nENGINE = Memory", "Memory"),
        (
            "CREATE TABLE IF NOT EXISTS posts\n(\n    x UInt8\n)\nENGINE = ReplicatedMergeTree"
            "('/p', 'r')\nORDER BY x",
            "ReplicatedMergeTree",
        ),
        (
            "CREATE MATERIALIZED VIEW IF NOT EXISTS v TO stop_words AS SELECT 1 FROM posts",
            "not a sharded table",
        ),
        (
            "CREATE MATERIALIZED VIEW IF NOT EXISTS v TO posts AS SELECT 1 FROM stop_words",
            "reads no sharded table",
        ),
        ("ALTER TABLE nowhere ADD COLUMN x UInt8", "nowhere"),
        ("INSERT INTO nowhere VALUES (1)", "nowhere"),
        ("DROP TABLE posts", "no cluster rendering"),
    ],
)
def test_statements_that_cannot_be_placed_are_refused(statement: str, reason: str) -> None:
    with pytest.raises(ClusterRenderError, match=reason):
        render(statement, "veille", "veille")


def test_only_column_alters_reach_the_distributed_table() -> None:
    assert render("ALTER TABLE posts DELETE WHERE id = 1", "c", "veille") == [
        "ALTER TABLE posts_local ON CLUSTER `c` DELETE WHERE id = 1"
    ]
    assert render("ALTER TABLE stop_words ADD COLUMN x UInt8", "c", "veille") == [
        "ALTER TABLE stop_words ON CLUSTER `c` ADD COLUMN x UInt8"
    ]


# --- what runs the migrations passes the setting --------------------------------------------


class RecordingClient:
    """Just enough of clickhouse-connect's client to run `migrate()` without a server."""

    database = "veille"

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.inserts: list[tuple[str, list[list[Any]]]] = []

    def command(self, sql: str, parameters: Any = None) -> str:
        self.commands.append(sql)
        return ""

    def query(self, sql: str, parameters: Any = None) -> Any:
        return type("Result", (), {"result_rows": []})()

    def insert(self, table: str, data: list[list[Any]], column_names: Any = None) -> None:
        self.inserts.append((table, data))

    def close(self) -> None:
        pass


def test_the_sink_migrates_the_cluster_named_by_the_setting() -> None:
    client = RecordingClient()
    sink = ClickHouseSink(ClickHouseSettings(url="http://ch:8123", cluster="veille"), client=client)
    sink.start()  # type: ignore[arg-type]
    assert client.commands == rendered()
    assert client.commands[0] == "CREATE DATABASE IF NOT EXISTS `veille` ON CLUSTER `veille`"
    assert [t for t, _ in client.inserts] == ["schema_migrations"] * len(migrate.available())

    single = RecordingClient()
    ClickHouseSink(ClickHouseSettings(url="http://ch:8123"), client=single).start()  # type: ignore[arg-type]
    assert single.commands == [migrate._LEDGER] + [
        s for m in migrate.available() for s in m.statements()
    ]


def test_the_cluster_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_CLUSTER", "veille")
    assert ClickHouseSettings().cluster == "veille"
    monkeypatch.setenv("CLICKHOUSE_CLUSTER", "")
    assert ClickHouseSettings().cluster is None
    monkeypatch.setenv("CLICKHOUSE_CLUSTER", "bad'name")
    with pytest.raises(ValueError):
        ClickHouseSettings()


# --- the example cluster configuration ----------------------------------------------------


def _xml(path: str) -> ET.Element:
    return ET.parse(CLUSTER_DIR / path).getroot()


def test_example_cluster_config_is_two_shards_of_two_replicas_with_keeper() -> None:
    root = _xml("config.d/cluster.xml")
    shards = root.findall("remote_servers/veille/shard")
    assert len(shards) == 2
    hosts = []
    for shard in shards:
        assert shard.findtext("internal_replication") == "true"
        replicas = shard.findall("replica")
        assert len(replicas) == 2
        hosts += [r.findtext("host") for r in replicas]
    assert len(set(hosts)) == 4
    assert root.find("remote_servers/veille/secret").get("from_env")  # type: ignore[union-attr]
    assert {m.tag: m.get("from_env") for m in root.find("macros")} == {  # type: ignore[union-attr]
        "shard": "CLICKHOUSE_SHARD",
        "replica": "CLICKHOUSE_REPLICA",
    }
    zk = [(n.findtext("host"), n.findtext("port")) for n in root.findall("zookeeper/node")]
    keeper = _xml("keeper/keeper.xml")
    raft = keeper.findall("keeper_server/raft_configuration/server")
    assert zk == [(s.findtext("hostname"), keeper.findtext("keeper_server/tcp_port")) for s in raft]
    assert len(raft) == 3 and len({s.findtext("id") for s in raft}) == 3
    assert root.findtext("distributed_ddl/path")
    users = _xml("users.d/cluster.xml")
    profile = users.find("profiles/default")
    assert {c.tag: c.text for c in profile} == {  # type: ignore[union-attr]
        "distributed_product_mode": "global",
        "distributed_foreground_insert": "1",
    }
    # the writer keeps the single-server grants and may run ON CLUSTER queries
    single = ET.parse(REPO / "deploy" / "clickhouse" / "users.d" / "veille.xml").getroot()
    grants = users.find("users/veille_writer/grants")
    assert grants is not None and grants.get("replace") == "replace"
    assert [q.text for q in grants] == [
        q.text for q in single.findall("users/veille_writer/grants/query")
    ] + ["GRANT CLUSTER ON *.*"]


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The cluster schema and the named queries in a chDB that reads the example config."""
    data = tmp_path_factory.mktemp("chdb-cluster")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "CLICKHOUSE_SHARD": "01",
        "CLICKHOUSE_REPLICA": "ch-s1-r1",
        "CLICKHOUSE_CLUSTER_SECRET": "not-a-secret",
    }
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("chdb_cluster_probe.py")),
            str(data),
            "veille",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.integration
def test_chdb_reads_the_example_cluster(probe: dict[str, Any]) -> None:
    assert probe["clusters"] == [
        ["veille", 1, 1, "ch-s1-r1"],
        ["veille", 1, 2, "ch-s1-r2"],
        ["veille", 2, 1, "ch-s2-r1"],
        ["veille", 2, 2, "ch-s2-r2"],
    ]
    assert probe["macros"] == {"shard": "01", "replica": "ch-s1-r1"}


@pytest.mark.integration
def test_the_cluster_schema_runs_on_one_server(probe: dict[str, Any]) -> None:
    tables = probe["tables"]
    for table, key in SHARDING_KEYS.items():
        assert tables[table] == [
            "Distributed",
            f"Distributed('veille', 'veille', '{table}_local', {key})",
        ]
        assert tables[f"{table}_local"][0].endswith("MergeTree")
    assert tables["mentions_1m_mv"][0] == "MaterializedView"
    assert tables["mentions_1m_source"][0] == "View"
    assert tables["stop_words"][0] == "ReplacingMergeTree"
    # after 0005's ALTERs both show the same columns, the new ones included
    assert probe["columns"]["posts"] == probe["columns"]["posts_local"]
    assert {"author_entry", "addressed"} <= set(probe["columns"]["posts"])


@pytest.mark.integration
def test_every_named_query_plans_over_the_distributed_tables(probe: dict[str, Any]) -> None:
    from sinks import queries

    plans = probe["plans"]["profile"]
    assert set(plans) == set(queries.available())
    for name, plan in plans.items():
        # planned, or analysed and then stopped reaching for the (absent) shards to run a
        # GLOBAL subquery first
        assert plan["ok"] or plan["code"] in NETWORK_ERRORS, (name, plan)
        # and every one reads the shards (through a Distributed table)
        assert not plan["ok"] or plan["remote"], (name, plan)
    # x_forecast's scalar subqueries (the newest forecast, the billed average) run on the
    # shards before the plan: here they stop at the absent shards, like care_queue below
    assert not plans["x_forecast"]["ok"] and plans["x_forecast"]["code"] in NETWORK_ERRORS
    assert sum(p["ok"] for p in plans.values()) >= len(plans) - 2
    # care_queue compares questions with replies stored on other shards: GLOBAL IN under the
    # profile's distributed_product_mode; ClickHouse's default refuses the query
    assert not plans["care_queue"]["ok"]
    assert plans["care_queue"]["code"] in NETWORK_ERRORS
    defaults = probe["plans"]["defaults"]["care_queue"]
    assert defaults["ok"] is False and defaults["code"] == 288, defaults


def test_compliance_deletes_on_the_cluster_local_tables(ch: Any) -> None:
    from datetime import UTC, datetime

    from sinks.compliance import removal_statements, remove
    from sinks.rollup import rebuild_statements

    minute = datetime(2026, 11, 26, 10, 5)
    statements = removal_statements([7, 3], cluster="veille")
    statements += rebuild_statements([minute], cluster="veille")
    assert [sql.split(" WHERE")[0] for sql, _ in statements] == [
        "DELETE FROM posts_local ON CLUSTER `veille`",
        "DELETE FROM dead_letters_local ON CLUSTER `veille`",
        "DELETE FROM mentions_1m_local ON CLUSTER `veille`",
        "INSERT INTO mentions_1m SELECT * FROM mentions_1m_source",
    ]
    assert "id IN (7, 3)" in statements[0][0] and "['7', '3']" in statements[1][0]
    assert f"toDateTime({int(minute.replace(tzinfo=UTC).timestamp())})" in statements[2][0]
    for sql, parameters in statements[:3]:  # real ClickHouse syntax, no parameter left unbound
        assert parameters == {} and "{" not in sql
        assert ch.command("SELECT formatQuery({q:String})", parameters={"q": sql})
    assert statements[3][1] == {"m": [minute]}  # through the Distributed rollup, bound
    single = removal_statements([7])
    assert single[0][0].startswith("DELETE FROM posts WHERE") and single[0][1] == {"ids": [7]}
    assert single[1][1] == {"ids": ["7"]}

    class Stored(RecordingClient):
        def command(self, sql: str, parameters: Any = None) -> str:
            super().command(sql, parameters)
            return "1" if sql.startswith("SELECT") else ""

    client = Stored()
    assert remove(client, {3: "deleted"}, cluster="veille") == 1  # type: ignore[arg-type]
    deletes = [c.split(" WHERE")[0] for c in client.commands if c.startswith("DELETE")]
    assert deletes[:2] == [
        "DELETE FROM posts_local ON CLUSTER `veille`",
        "DELETE FROM dead_letters_local ON CLUSTER `veille`",
    ]
    assert [t for t, _ in client.inserts] == ["deleted_posts"]
