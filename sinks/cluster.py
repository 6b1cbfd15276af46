"""veille's migrations rendered for a replicated, sharded ClickHouse cluster (`CLICKHOUSE_CLUSTER`).

The migration files are written for one server. `render()` turns each of their statements into
the statements of a cluster named in the servers' `remote_servers`, so that one set of files
serves both, and every query, view and insert keeps using the same table names:

- a **sharded** table `t` (posts and everything the sink writes) becomes `t_local`, created
  `ON CLUSTER` with the Replicated variant of its engine (Keeper path
  `/clickhouse/tables/{shard}/{database}/t_local`, replica `{replica}`), plus `t` itself, a
  `Distributed` table over `t_local` with the table's sharding key (`SHARDING_KEYS`). The keys
  keep every version of a row on one shard: ReplacingMergeTree deduplication and `FINAL` work
  per shard, so a post written twice (at-least-once delivery) must land twice on the same
  shard, which `cityHash64(id)` guarantees;
- a **materialized view** reads the local table and writes the local table of its target: it
  fires on the shard that stores the inserted rows, so each shard aggregates its own posts, and
  queries over the Distributed rollup merge the shards' aggregate states (`groupBitmapMerge`
  stays exact: a post is on one shard only);
- a table needed **whole on every server** (`EVERYWHERE`: the stop words that `emerging_terms`
  reads in a subquery, the migration ledger) is replicated to all servers of the cluster
  (Keeper path without `{shard}`, replica `{shard}-{replica}`) and has no Distributed table;
- plain views are created `ON CLUSTER` unchanged (they read the Distributed tables); `ALTER`s
  of columns apply to the local table and then to the Distributed one; `INSERT`s are unchanged.

A statement this module does not know how to place (a new table missing from both lists, an
unknown kind of statement) raises `ClusterRenderError`: a new migration must say where its
tables live rather than silently get a single-server table on a cluster. Rendering is pure
text: nothing here connects to ClickHouse.
"""

from __future__ import annotations

import re

from sinks.base import SinkError

# Sharded tables and the sharding key of their Distributed table. Rows with the same key (a
# post's id, an alert's key, ...) always go to the same shard, where ReplacingMergeTree keeps
# one version. `mentions_1m` is filled on each shard by its materialized view (rows stay on
# the shard of their posts); its key only places rows inserted through the Distributed table
# (the compliance rebuild), which the queries merge like any other.
SHARDING_KEYS: dict[str, str] = {
    "posts": "cityHash64(id)",
    "dead_letters": "cityHash64(id)",
    "mentions_1m": "cityHash64(minute)",
    "account_metrics": "cityHash64(username)",
    "alerts": "cityHash64(key)",
    "x_usage": "cityHash64(day)",
    "x_forecasts": "cityHash64(tag)",
    "deleted_posts": "cityHash64(id)",
}

# Small tables kept whole on every server of the cluster (the rollup's pending rebuilds: any
# sink may rebuild a minute, whichever shard its posts are on).
EVERYWHERE: frozenset[str] = frozenset({"stop_words", "schema_migrations", "rollup_rebuilds"})

LOCAL_SUFFIX = "_local"

_CREATE_TABLE = re.compile(r"^CREATE TABLE (IF NOT EXISTS )?(\w+)(?=\s*\()")
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w+)(?:\(([^()]*)\))?")
_CREATE_MV = re.compile(r"^CREATE MATERIALIZED VIEW (IF NOT EXISTS )?(\w+) TO (\w+)(?=\s+AS\s)")
_CREATE_VIEW = re.compile(r"^CREATE VIEW (IF NOT EXISTS )?(\w+)(?=\s+AS\s)")
_ALTER = re.compile(r"^ALTER TABLE (\w+)\s+(.*)$", re.DOTALL)
_COLUMN_ALTER = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR) COLUMN\b")
_INSERT = re.compile(r"^INSERT INTO (\w+)\b")
_SOURCE = re.compile(r"\b(FROM|JOIN)(\s+)(\w+)\b")


class ClusterRenderError(SinkError):
    """A migration statement that cannot be placed on a cluster (see the module docstring)."""


def local_name(table: str) -> str:
    """The name of a sharded table's replicated local table (`posts` -> `posts_local`)."""
    return table + LOCAL_SUFFIX


def _on_cluster(cluster: str) -> str:
    return f" ON CLUSTER `{cluster}`"


def _first_line(statement: str) -> str:
    return statement.splitlines()[0] if statement else statement


def _replicated_engine(statement: str, table: str, everywhere: bool) -> str:
    """`statement` with its *MergeTree engine replaced by the Replicated variant."""
    m = _ENGINE.search(statement)
    if m is None:
        raise ClusterRenderError(f"table {table}: no ENGINE clause to replicate")
    engine, args = m.group(1), m.group(2)
    if not engine.endswith("MergeTree") or engine.startswith("Replicated"):
        raise ClusterRenderError(
            f"table {table}: engine {engine} has no replicated variant here "
            "(a cluster needs a *MergeTree engine, written without Replicated)"
        )
    if everywhere:
        path = "/clickhouse/tables/all/{database}/" + table
        replica = "{shard}-{replica}"
    else:
        path = "/clickhouse/tables/{shard}/{database}/" + table
        replica = "{replica}"
    params = [f"'{path}'", f"'{replica}'"]
    if args and args.strip():
        params.append(args.strip())
    engine_clause = f"ENGINE = Replicated{engine}({', '.join(params)})"
    return statement[: m.start()] + engine_clause + statement[m.end() :]


def _create_table(m: re.Match[str], statement: str, cluster: str, database: str) -> list[str]:
    if_not_exists, table = m.group(1) or "", m.group(2)
    rest = statement[m.end() :]
    if table in EVERYWHERE:
        head = f"CREATE TABLE {if_not_exists}{table}{_on_cluster(cluster)}"
        return [_replicated_engine(head + rest, table, everywhere=True)]
    if table not in SHARDING_KEYS:
        raise ClusterRenderError(
            f"table {table} is neither sharded nor kept on every server: add it to "
            "sinks.cluster.SHARDING_KEYS (with a sharding key) or EVERYWHERE"
        )
    local = local_name(table)
    head = f"CREATE TABLE {if_not_exists}{local}{_on_cluster(cluster)}"
    distributed = (
        f"CREATE TABLE {if_not_exists}{table}{_on_cluster(cluster)} AS {local}\n"
        f"ENGINE = Distributed('{cluster}', '{database}', '{local}', {SHARDING_KEYS[table]})"
    )
    return [_replicated_engine(head + rest, local, everywhere=False), distributed]


def _create_mv(m: re.Match[str], statement: str, cluster: str) -> list[str]:
    if_not_exists, view, target = m.group(1) or "", m.group(2), m.group(3)
    if target not in SHARDING_KEYS:
        raise ClusterRenderError(
            f"materialized view {view} writes {target}, which is not a sharded table"
        )
    body = statement[m.end() :]
    sources = {s.group(3) for s in _SOURCE.finditer(body)} & set(SHARDING_KEYS)
    if not sources:
        raise ClusterRenderError(
            f"materialized view {view} reads no sharded table: it would fire on no shard"
        )

    def to_local(s: re.Match[str]) -> str:
        name = s.group(3)
        return f"{s.group(1)}{s.group(2)}{local_name(name) if name in SHARDING_KEYS else name}"

    head = (
        f"CREATE MATERIALIZED VIEW {if_not_exists}{view}{_on_cluster(cluster)} "
        f"TO {local_name(target)}"
    )
    return [head + _SOURCE.sub(to_local, body)]


def _alter(m: re.Match[str], cluster: str) -> list[str]:
    table, action = m.group(1), m.group(2)
    if table in EVERYWHERE:
        return [f"ALTER TABLE {table}{_on_cluster(cluster)} {action}"]
    if table not in SHARDING_KEYS:
        raise ClusterRenderError(f"ALTER of {table}, which is neither sharded nor everywhere")
    out = [f"ALTER TABLE {local_name(table)}{_on_cluster(cluster)} {action}"]
    if _COLUMN_ALTER.match(action):  # the Distributed table must show the same columns
        out.append(f"ALTER TABLE {table}{_on_cluster(cluster)} {action}")
    return out


def render(statement: str, cluster: str, database: str) -> list[str]:
    """The cluster statements for one single-server migration statement, in order.

    `statement` is one statement as `Migration.statements()` returns it (comments removed,
    no trailing `;`). Raises `ClusterRenderError` for a statement it cannot place.
    """
    if m := _CREATE_TABLE.match(statement):
        return _create_table(m, statement, cluster, database)
    if m := _CREATE_MV.match(statement):
        return _create_mv(m, statement, cluster)
    if m := _CREATE_VIEW.match(statement):
        if_not_exists, view = m.group(1) or "", m.group(2)
        head = f"CREATE VIEW {if_not_exists}{view}{_on_cluster(cluster)}"
        return [head + statement[m.end() :]]
    if m := _ALTER.match(statement):
        return _alter(m, cluster)
    if m := _INSERT.match(statement):
        if m.group(1) not in SHARDING_KEYS and m.group(1) not in EVERYWHERE:
            raise ClusterRenderError(f"INSERT into {m.group(1)}, an unknown table")
        return [statement]
    raise ClusterRenderError(f"no cluster rendering for: {_first_line(statement)[:120]}")


def render_all(statements: list[str], cluster: str, database: str) -> list[str]:
    """`render()` of every statement, flattened, in order."""
    return [out for s in statements for out in render(s, cluster, database)]


def create_database(cluster: str, database: str) -> str:
    """The statement creating veille's database on every server of the cluster."""
    return f"CREATE DATABASE IF NOT EXISTS `{database}`{_on_cluster(cluster)}"
