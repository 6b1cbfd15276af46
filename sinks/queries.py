"""Named trend queries: `.sql` files with ClickHouse `{name:Type}` parameters.

Each file in `sinks/queries/` starts with comment lines: a description, then one
`-- param NAME: TYPE = DEFAULT  description` line per parameter and `-- example:` lines. Values
are always bound as query parameters by ClickHouse itself, never formatted into the SQL, so a
hostile value cannot change a query; ClickHouse checks each value against its declared type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.base import SinkError
from sinks.clickhouse.connection import translate

_PARAM = re.compile(
    r"^--\s*param\s+(?P<name>\w+)\s*:\s*(?P<type>[\w()]+(?:\([^)]*\))?)"
    r"(?:\s*=\s*(?P<default>'[^']*'|\S+))?\s*(?P<doc>.*)$"
)


class QueryError(SinkError):
    """An unknown query or parameter, or a value ClickHouse refuses for its type."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    doc: str


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str
    params: tuple[Param, ...]
    examples: tuple[str, ...] = field(default=())

    def bind(self, values: dict[str, str]) -> dict[str, str]:
        """Parameter values for a run: defaults overridden by `values`. Raises `QueryError`."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise QueryError(
                f"{self.name} has no parameter {', '.join(unknown)} "
                f"(it takes: {', '.join(known) or 'none'})"
            )
        bound = {}
        for p in self.params:
            if p.name in values:
                bound[p.name] = values[p.name]
            elif p.default is not None:
                bound[p.name] = p.default
            else:
                raise QueryError(f"{self.name} needs --param {p.name}=<{p.type}>")
        return bound


def parse(name: str, text: str) -> NamedQuery:
    description, params, examples = [], [], []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        m = _PARAM.match(line)
        if m:
            default = m.group("default")
            if default is not None and default.startswith("'"):
                default = default[1:-1]
            params.append(Param(m.group("name"), m.group("type"), default, m.group("doc")))
        elif line.lstrip("- ").startswith("example:"):
            examples.append(line.split("example:", 1)[1].strip())
        else:
            description.append(line.lstrip("- ").rstrip())
    return NamedQuery(
        name, " ".join(d for d in description if d), text, tuple(params), tuple(examples)
    )


def available() -> dict[str, NamedQuery]:
    """Every named query shipped with veille, by name."""
    folder = resources.files("sinks") / "queries"
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            name = entry.name[:-4]
            out[name] = parse(name, entry.read_text(encoding="utf-8"))
    return out


def get(name: str) -> NamedQuery:
    queries = available()
    if name not in queries:
        raise QueryError(f"no query named {name!r}; available: {', '.join(queries)}")
    return queries[name]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def run(
    client: Client, name: str, values: dict[str, str] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Run a named query; returns column names and rows (datetimes as ISO strings)."""
    q = get(name)
    params = q.bind(values or {})
    try:
        result = client.query(q.sql, parameters=params)
    except Exception as e:
        raise QueryError(str(translate(e, f"query {name}"))) from None
    rows = [[_plain(v) for v in row] for row in result.result_rows]
    return list(result.column_names), rows


def rows(client: Client, name: str, values: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Run a named query; returns its rows as dicts (column name -> value), as `run` does."""
    columns, found = run(client, name, values)
    return [dict(zip(columns, r, strict=True)) for r in found]
