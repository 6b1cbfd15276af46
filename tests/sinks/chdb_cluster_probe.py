"""Run by tests/sinks/test_cluster.py in a process of its own: veille's cluster schema in chDB.

chDB reads deploy/clickhouse-cluster/config.d/cluster.xml (the cluster `veille`, 2 shards x 2
replicas, macros from the environment) but has no Keeper and no server port, so this probe:
- runs every rendered migration statement with `ON CLUSTER` removed and each Replicated engine
  replaced by its plain variant (what a server does on its own part of the cluster, less the
  replication), so ClickHouse itself checks the columns, the sharding keys, the views;
- plans every named query (`EXPLAIN`) against the Distributed tables, with the settings of the
  profile in deploy/clickhouse-cluster/users.d/cluster.xml, and once with ClickHouse's defaults.
Planning a query over a Distributed table analyses it without reading the shards, except for
the subqueries the initiator must run first (scalar and GLOBAL subqueries): those reach for the
shards' hosts, which do not exist here, and fail with a network error *after* the analysis.

argv: the chDB data directory and the database. Prints one JSON object on its last line.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import chdb

from sinks import migrate, queries

REPO = Path(__file__).resolve().parents[2]
CLUSTER_DIR = REPO / "deploy" / "clickhouse-cluster"
_CODE = re.compile(r"Code: (\d+)")
# Parameters given when planning, so that no scalar subquery reads the shards first: with
# their defaults these queries take the newest post's time from `posts` (a scalar subquery
# the initiator runs before anything else), which would hide the rest of the analysis.
PLAN_VALUES = {
    "care_queue": {"as_of": "2026-11-26 12:00:00"},
    "emerging_terms": {"end": "2026-11-26 12:00:00"},
}


def profile_settings() -> dict[str, str]:
    root = ET.parse(CLUSTER_DIR / "users.d" / "cluster.xml").getroot()
    default = root.find("profiles/default")
    assert default is not None
    return {child.tag: (child.text or "").strip() for child in default}


def unclustered(statement: str) -> str:
    """What one server of the cluster runs, without Keeper: no ON CLUSTER, no replication."""
    s = re.sub(r" ON CLUSTER `[^`]+`", "", statement)
    return re.sub(r"\bReplicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?", r"\1(", s)


def error_code(exc: BaseException) -> int:
    m = _CODE.search(str(exc))
    return int(m.group(1)) if m else -1


def main(data_dir: str, database: str) -> dict[str, object]:
    conn = chdb.connect(f"{data_dir}?config-file={CLUSTER_DIR / 'config.d' / 'cluster.xml'}")
    out: dict[str, object] = {}

    def rows(sql: str, params: dict[str, str] | None = None) -> list[list[object]]:
        res = conn.query(sql, "JSONCompact", params=params)
        return json.loads(res.bytes() or b'{"data": []}')["data"]

    out["clusters"] = rows(
        "SELECT cluster, shard_num, replica_num, host_name FROM system.clusters "
        "ORDER BY shard_num, replica_num"
    )
    out["macros"] = dict(rows("SELECT macro, substitution FROM system.macros"))  # type: ignore[arg-type]
    conn.query(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    conn.query(f"USE `{database}`")
    statements = migrate.ledger_statements("veille", database)[1:]  # the database exists
    for mg in migrate.available():
        statements += mg.statements_for("veille", database)
    for stmt in statements:
        conn.query(unclustered(stmt))
    out["tables"] = {
        name: [engine, full]
        for name, engine, full in rows(
            "SELECT name, engine, engine_full FROM system.tables WHERE database = {db:String}",
            {"db": database},
        )
    }
    out["columns"] = {
        t: [
            c
            for (c,) in rows(
                "SELECT name FROM system.columns "
                "WHERE database = {db:String} AND table = {t:String} ORDER BY position",
                {"db": database, "t": t},
            )
        ]
        for t in ("posts", "posts_local")
    }

    # the shards' hosts do not exist: give up on them after one try (planning only)
    conn.query("SET connections_with_failover_max_tries = 1")
    plans: dict[str, dict[str, object]] = {}
    for mode, settings in (("profile", profile_settings()), ("defaults", {})):
        for name, q in queries.available().items():
            params = q.bind(PLAN_VALUES.get(name, {}))
            sql = q.sql.rstrip().rstrip(";")
            if settings:
                sql += " SETTINGS " + ", ".join(f"{k} = '{v}'" for k, v in settings.items())
            try:
                plan = rows("EXPLAIN " + sql, params)
                plans.setdefault(mode, {})[name] = {
                    "ok": True,
                    "remote": any("ReadFromRemote" in str(r) for r in plan),
                }
            except Exception as e:  # the probe reports; the test decides
                plans.setdefault(mode, {})[name] = {
                    "ok": False,
                    "code": error_code(e),
                    "error": str(e)[:300],
                }
    out["plans"] = plans
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), default=str))
