"""Forward-only, numbered ClickHouse migrations (`sinks/migrations/NNNN_name.sql`).

`migrate()` applies, in order, the files whose number is not yet recorded in
`schema_migrations`, one statement at a time, and records each file after all its statements
ran. Statements are written `IF NOT EXISTS`, so re-running a file interrupted half-way (or two
sinks migrating at once) is harmless. A file already applied is never run again: change the
schema with a new file, never by editing an old one (a changed checksum is reported).

With a cluster name (`CLICKHOUSE_CLUSTER`), the same files are rendered for that cluster by
`sinks.cluster` (replicated local tables created ON CLUSTER, Distributed tables under the usual
names) and the database and the ledger are created on every server; without one, the files run
exactly as written.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

from sinks import cluster as clustering
from sinks.base import SinkError
from sinks.clickhouse.connection import translate

logger = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        """The file's statements: split on `;` at the end of a line, comments removed."""
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]

    def statements_for(self, cluster: str | None, database: str) -> list[str]:
        """The statements to run: `statements()` as written on one server (`cluster` None),
        else rendered for `cluster` (raises `sinks.cluster.ClusterRenderError`)."""
        if not cluster:
            return self.statements()
        return clustering.render_all(self.statements(), cluster, database)


def available() -> list[Migration]:
    """Every migration shipped with veille, in order."""
    out = []
    folder = resources.files("sinks") / "migrations"
    for entry in folder.iterdir():
        m = _FILE.match(entry.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    out.sort(key=lambda mg: mg.version)
    versions = [mg.version for mg in out]
    if len(set(versions)) != len(versions):
        raise SinkError(f"two migrations share a number: {versions}")
    return out


def _database(client: Client, cluster: str | None) -> str:
    """The client's database, which a cluster's Distributed tables name ('' on one server)."""
    if not cluster:
        return ""
    if not client.database:
        raise SinkError("migrating a cluster needs a client connected to veille's database")
    return client.database


def ledger_statements(cluster: str | None, database: str) -> list[str]:
    """What creates the `schema_migrations` ledger (on every server of `cluster`, if any)."""
    if not cluster:
        return [_LEDGER]
    return [
        clustering.create_database(cluster, database),
        *clustering.render(_LEDGER.strip(), cluster, database),
    ]


def applied(client: Client, cluster: str | None = None) -> dict[int, str]:
    """version -> checksum of the migrations recorded in this database."""
    try:
        for stmt in ledger_statements(cluster, _database(client, cluster)):
            client.command(stmt)
        rows = client.query("SELECT version, checksum FROM schema_migrations FINAL").result_rows
    except Exception as e:
        raise translate(e, "reading schema_migrations") from None
    return {int(v): str(c) for v, c in rows}


def migrate(client: Client, cluster: str | None = None) -> list[Migration]:
    """Apply pending migrations; returns those applied now. Raises `SinkError` on failure.

    `cluster`: the ClickHouse cluster to create the tables on (`CLICKHOUSE_CLUSTER`); None or
    empty: the connected server alone, with the files as written.
    """
    done = applied(client, cluster)
    ran = []
    for mg in available():
        if mg.version in done:
            if done[mg.version] != mg.checksum:
                logger.warning(
                    "migration %04d_%s changed after it was applied (checksum %s, now %s); "
                    "edits to applied migrations are not run: add a new migration",
                    mg.version,
                    mg.name,
                    done[mg.version],
                    mg.checksum,
                )
            continue
        for stmt in mg.statements_for(cluster, _database(client, cluster)):
            try:
                client.command(stmt)
            except Exception as e:
                raise translate(e, f"migration {mg.version:04d}_{mg.name}") from None
        client.insert(
            "schema_migrations",
            [[mg.version, mg.name, mg.checksum]],
            column_names=["version", "name", "checksum"],
        )
        logger.info("applied migration version=%04d name=%s", mg.version, mg.name)
        ran.append(mg)
    return ran
