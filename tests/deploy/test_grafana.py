"""Grafana provisioning: valid files, dashboards that are build.py's output, and SQL that runs.

No Grafana server runs here. What Grafana and the ClickHouse plugin would do to a panel's SQL
is done by `expand()` below, modelled on the plugin's code: Grafana first replaces the dashboard
variables (`$entry`, `${entry:singlequote}`, ...), then the plugin's backend replaces its macros
(`$__timeFilter(c)`, `$__fromTime`, `$__timeInterval(c)`, `$__interval_s`, ...; see
grafana/clickhouse-datasource pkg/macros/macros.go). Every panel, variable and annotation query
of every dashboard is expanded so, for every entry (All, one entry, an entry with a quote in its
name), and run against chDB filled with a few hours of realistic data.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from factories import REPO, make_enriched

from sinks.clickhouse import ClickHouseSink
from veille.models import AccountSnapshot, Alert, DeadLetter, RuleForecast, UsageSnapshot
from veille.settings import ClickHouseSettings

GRAFANA = REPO / "deploy" / "grafana"
DOCS = REPO / "docs" / "dashboards.md"
EXPECTED_DASHBOARDS = {
    "overview.json",
    "customer-care.json",
    "crisis-alerts.json",
    "audience.json",
    "pipeline-health.json",
}


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("veille_grafana_build", GRAFANA / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


build = _load_build()


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


# --------------------------------------------------------------------------------------------
# Grafana's and the plugin's expansion of a query


@dataclass(frozen=True)
class Range:
    """What Grafana sends with a query: the time range and the interval."""

    start: datetime
    end: datetime
    interval_s: int = 60


# Grafana's variable syntax: $name, [[name:format]], ${name.field:format}
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}"
)


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Grafana's templateSrv.replace() with the plugin's formatter, for single values.

    Unknown names (the plugin's `$__macros`) are left for the backend, as Grafana leaves them.
    """

    def replace(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(6)
        if name not in variables:
            return m.group(0)
        value = variables[name]
        if fmt is None or fmt == "raw":
            return value  # the plugin's format(): a single string goes in as it is
        if fmt == "singlequote":
            return "'" + value.replace("'", "\\'") + "'"
        if fmt == "sqlstring":
            return "'" + value.replace("'", "''") + "'"
        raise AssertionError(f"variable format {fmt!r} is not modelled here")

    return _VARIABLE.sub(replace, text)


def _args(text: str, start: int) -> tuple[list[str], int]:
    """Comma-separated arguments in the parentheses opening at `start`, and the end index."""
    depth, args, current = 0, [], ""
    for i in range(start, len(text)):
        c = text[i]
        if c == "(":
            depth += 1
            if depth == 1:
                continue
        elif c == ")":
            depth -= 1
            if depth == 0:
                args.append(current.strip())
                return args, i + 1
        elif c == "," and depth == 1:
            args.append(current.strip())
            current = ""
            continue
        current += c
    raise AssertionError(f"unbalanced macro arguments: {text[start : start + 60]!r}")


def _macros(r: Range) -> dict[str, tuple[int, Callable[[list[str]], str]]]:
    """The plugin's macros (pkg/macros/macros.go): name -> (argument count, expansion)."""
    f, t = int(r.start.timestamp()), int(r.end.timestamp())
    f_ms, t_ms = int(r.start.timestamp() * 1000), int(r.end.timestamp() * 1000)
    f_day, t_day = r.start.astimezone(UTC).date(), r.end.astimezone(UTC).date()
    n = max(r.interval_s, 1)
    return {
        "fromTime": (0, lambda a: f"toDateTime({f})"),
        "toTime": (0, lambda a: f"toDateTime({t})"),
        "fromTime_ms": (0, lambda a: f"fromUnixTimestamp64Milli({f_ms})"),
        "toTime_ms": (0, lambda a: f"fromUnixTimestamp64Milli({t_ms})"),
        "timeFilter": (
            1,
            lambda a: f"{a[0]} >= toDateTime({f}) AND {a[0]} <= toDateTime({t})",
        ),
        "timeFilter_ms": (
            1,
            lambda a: (
                f"{a[0]} >= fromUnixTimestamp64Milli({f_ms}) "
                f"AND {a[0]} <= fromUnixTimestamp64Milli({t_ms})"
            ),
        ),
        "dateFilter": (
            1,
            lambda a: f"{a[0]} >= toDate('{f_day}') AND {a[0]} <= toDate('{t_day}')",
        ),
        "timeInterval": (
            1,
            lambda a: f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {n} second)",
        ),
        "timeInterval_ms": (
            1,
            lambda a: (
                f"toStartOfInterval(toDateTime64({a[0]}, 3), INTERVAL {n * 1000} millisecond)"
            ),
        ),
        "interval_s": (0, lambda a: str(n)),
    }


def expand_macros(text: str, r: Range) -> str:
    macros = _macros(r)
    out, pos = [], 0
    for m in re.finditer(r"\$__(\w+)", text):
        if m.start() < pos:
            continue
        name = m.group(1)
        assert name in macros, f"$__{name} is not a macro of the ClickHouse plugin"
        count, expansion = macros[name]
        end = m.end()
        args: list[str] = []
        if end < len(text) and text[end] == "(":
            args, end = _args(text, end)
        assert len(args) == count, f"$__{name} takes {count} argument(s), got {args}"
        out.append(text[pos : m.start()] + expansion(args))
        pos = end
    return "".join(out) + text[pos:]


def expand(text: str, r: Range, variables: dict[str, str]) -> str:
    """The SQL ClickHouse receives for `text`; fails on any variable or macro left over."""
    result = expand_macros(interpolate(text, variables), r)
    left = re.findall(r"\$\{[^}]*\}|\$\w+|\[\[\w+", result)
    assert not left, f"not expanded: {left}"
    return result


def test_expansion_matches_the_plugin() -> None:
    r = Range(datetime(2026, 11, 20, 9, 0, tzinfo=UTC), datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    f, t = 1795165200, 1795168800
    assert expand("WHERE $__timeFilter(minute)", r, {}) == (
        f"WHERE minute >= toDateTime({f}) AND minute <= toDateTime({t})"
    )
    assert expand("$__fromTime - INTERVAL 7 DAY, $__toTime", r, {}) == (
        f"toDateTime({f}) - INTERVAL 7 DAY, toDateTime({t})"
    )
    assert expand("$__timeInterval(created_at) AS time, $__interval_s", r, {}) == (
        "toStartOfInterval(toDateTime(created_at), INTERVAL 60 second) AS time, 60"
    )
    assert expand("$__dateFilter(day)", r, {}) == (
        "day >= toDate('2026-11-20') AND day <= toDate('2026-11-20')"
    )
    variables = {"entry": "Crème d'Or"}
    assert expand("e = ${entry:singlequote} OR e = '$entry'", r, variables) == (
        "e = 'Crème d\\'Or' OR e = 'Crème d'Or'"
    )
    assert expand("match(w, '^[0-9]+$')", r, {}) == "match(w, '^[0-9]+$')"
    with pytest.raises(AssertionError, match="not expanded"):
        expand("entry = ${lang}", r, variables)
    with pytest.raises(AssertionError, match="not a macro"):
        expand("$__timeGroup(t, 1m)", r, {})


# --------------------------------------------------------------------------------------------
# The files


def test_committed_dashboards_are_what_build_py_makes() -> None:
    built = build.render()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in (GRAFANA / "dashboards").iterdir()}
    assert set(built) == EXPECTED_DASHBOARDS
    assert set(on_disk) == set(built), "run: python deploy/grafana/build.py"
    for name, text in built.items():
        assert on_disk[name] == text, f"{name} differs: run python deploy/grafana/build.py"
    assert build.main(["--check"]) == 0


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and data.get("apiVersion") == 1, path
    return data


def test_datasource_is_the_read_only_user_over_http_from_the_environment() -> None:
    path = GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml"
    (ds,) = _yaml(path)["datasources"]
    assert ds["uid"] == build.DATASOURCE["uid"] == "veille-clickhouse"
    assert ds["type"] == build.DATASOURCE["type"] == "grafana-clickhouse-datasource"
    j, secure = ds["jsonData"], ds["secureJsonData"]
    assert j["protocol"] == "http"
    assert j["host"] == "${CLICKHOUSE_HOST}" and j["port"] == "${CLICKHOUSE_PORT}"
    assert j["defaultDatabase"] == "${CLICKHOUSE_DATABASE}"
    assert j["username"] == "${CLICKHOUSE_READER_USER}"
    assert secure == {"password": "${CLICKHOUSE_READER_PASSWORD}"}
    assert "password" not in j and "CLICKHOUSE_PASSWORD" not in path.read_text()
    # every environment variable the file reads is documented
    docs = DOCS.read_text(encoding="utf-8")
    for var in re.findall(r"\$\{(\w+)\}", json.dumps(ds)):
        assert f"`{var}`" in docs, f"{var} is not documented in docs/dashboards.md"


def test_dashboard_provider_reads_the_generated_files() -> None:
    (provider,) = _yaml(GRAFANA / "provisioning" / "dashboards" / "veille.yaml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == build.GRAFANA_DASHBOARDS_DIR
    # docs/dashboards.md mounts deploy/grafana/dashboards there, and the provisioning folder
    docs = DOCS.read_text(encoding="utf-8")
    assert f"./deploy/grafana/dashboards:{build.GRAFANA_DASHBOARDS_DIR}" in docs
    for folder in ("datasources", "dashboards"):
        mount = f"./deploy/grafana/provisioning/{folder}:/etc/grafana/provisioning/{folder}"
        assert mount in docs
    assert set(_dashboards()) == EXPECTED_DASHBOARDS


def _targets(panel: dict[str, Any]) -> list[dict[str, Any]]:
    return list(panel.get("targets", []))


def _sql_targets(panel: dict[str, Any]) -> list[dict[str, Any]]:
    """The ClickHouse targets (Prometheus ones are checked in test_prometheus.py)."""
    return [t for t in _targets(panel) if t["datasource"] == build.DATASOURCE]


def test_dashboards_are_well_formed() -> None:
    uids = set()
    for name, d in _dashboards().items():
        assert d["uid"] not in uids and d["uid"].startswith("veille-"), name
        uids.add(d["uid"])
        assert d["title"] and d["schemaVersion"] >= 39 and d["panels"], name
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), name
        for p in d["panels"]:
            where = f"{name}: {p['title']}"
            assert p["type"] in {"timeseries", "table", "stat", "piechart", "bargauge"}, where
            pos = p["gridPos"]
            assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, where
            if p["datasource"] == build.PROMETHEUS:  # every target on Prometheus, in PromQL
                targets = _targets(p)
                assert targets and all(t["datasource"] == build.PROMETHEUS for t in targets)
                assert all(t["expr"].strip() and "rawSql" not in t for t in targets), where
                assert [t["refId"] for t in targets] == [chr(65 + i) for i in range(len(targets))]
                assert all(t["instant"] == (p["type"] == "stat") for t in targets), where
                continue
            assert p["datasource"] == build.DATASOURCE, where
            (target,) = _targets(p)
            assert target["datasource"] == build.DATASOURCE, where
            assert target["editorType"] == "sql" and target["rawSql"].strip(), where
            assert target["format"] == (0 if p["type"] == "timeseries" else 1), where
            assert "{" not in re.sub(r"\$\{\w+(:\w+)?\}", "", target["rawSql"]), where
        variables = d["templating"]["list"]
        for v in variables:
            assert v["datasource"] == build.DATASOURCE and v["query"]["rawSql"], name
        uses_entry = any("${entry" in t["rawSql"] for p in d["panels"] for t in _sql_targets(p))
        assert [v["name"] for v in variables] == (["entry"] if uses_entry else []), name


# --------------------------------------------------------------------------------------------
# The SQL, on chDB


@dataclass(frozen=True)
class Query:
    dashboard: str
    title: str
    sql: str
    timeseries: bool

    @property
    def id(self) -> str:
        return f"{self.dashboard}:{self.title}"


def _queries() -> list[Query]:
    out = []
    for d in _dashboards().values():
        uid = d["uid"].removeprefix("veille-")
        for v in d["templating"]["list"]:
            out.append(Query(uid, f"variable {v['name']}", v["query"]["rawSql"], False))
        for a in d["annotations"]["list"]:
            if a.get("datasource") == build.DATASOURCE:
                out.append(Query(uid, f"annotation {a['name']}", a["target"]["rawSql"], False))
        for p in d["panels"]:
            for t in _sql_targets(p):
                out.append(Query(uid, p["title"], t["rawSql"], t["format"] == 0))
    return out


QUERIES = _queries()

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(hours=6)
# The range ends an hour ahead: panels on insertion time (now() at insert) must still see rows
# inserted well after this module was imported, whatever the order the suite runs in.
RANGE = Range(NOW - timedelta(hours=7), NOW + timedelta(hours=1))

# entry -> (kind, official account)
ENTRIES = {
    "Orbital Telecom": ("brand", "orbital_care"),
    "Nimbus Télécom": ("competitor", "nimbus_help"),
    "Zephyr Net": ("competitor", "zephyrnet"),
    "Crème d'Or": ("partner", "cremedor"),
}
SCOPES = {"all": "", "entry": "Orbital Telecom", "quoted": "Crème d'Or"}
# Queries allowed to return no data, by scope: none with All or with Orbital Telecom, as the data
# below feeds every panel; not checked with Crème d'Or (few posts: any panel may be empty).
MAY_BE_EMPTY: dict[str, set[str]] = {"all": set(), "entry": set()}

TEXTS = {
    "en": [
        "still no signal since this morning, network down again",
        "how do I change my plan before the next bill",
        "the new fibre offer is great, speed is amazing",
        "my bill doubled this month, I want a refund",
        "customer service kept me waiting on hold for an hour",
    ],
    "fr": [
        "toujours pas de réseau depuis ce matin, encore une panne",
        "comment changer mon forfait avant la prochaine facture",
        "la nouvelle fibre est géniale, débit incroyable",
        "ma facture a doublé ce mois, je veux un remboursement",
        "le service client m'a fait attendre une heure",
    ],
    "es": [
        "sigo sin señal desde esta mañana, otra avería",
        "cómo cambio mi tarifa antes de la próxima factura",
        "la nueva fibra es genial, velocidad increíble",
    ],
    "de": [
        "seit heute morgen kein Netz, wieder eine Störung",
        "wie ändere ich meinen Tarif vor der nächsten Rechnung",
        "die neue Glasfaser ist super, tolle Geschwindigkeit",
    ],
}
TOPICS = [("outage",), ("pricing",), ("customer service", "outage"), ()]
HASHTAGS = {"outage": "panne", "pricing": "prix", "customer service": "SAV"}
INTENTS = ["question", "complaint", "request", "praise", "other"]
SENTIMENTS = ["negative", "neutral", "positive"]
ASKS = {"question", "complaint", "request"}


def _post(pid: int, created: datetime, text: str, entries: tuple[str, ...], **kw: Any) -> Any:
    p = make_enriched(
        pid,
        text,
        created_at=created,
        entries=entries,
        kinds=tuple(ENTRIES[e][0] for e in entries),
        **kw,
    )
    lag = timedelta(seconds=0.5 + (pid * 7) % 30)
    return p.model_copy(
        update={"received_at": created + lag, "enriched_at": created + lag + timedelta(seconds=1)}
    )


def _fill(sink: ClickHouseSink) -> None:
    """About 500 posts over six hours, a crisis in the last 40 minutes, and the rest."""
    combos = [
        ("Orbital Telecom",),
        ("Nimbus Télécom",),
        ("Zephyr Net",),
        ("Crème d'Or",),
        ("Orbital Telecom", "Nimbus Télécom"),
        (),
    ]
    langs = list(TEXTS)
    rng = random.Random(7)  # varied, and the same on every run
    posts, replies = [], []
    for i in range(360):
        created = START + timedelta(seconds=60 * i)
        entries = rng.choice(combos)
        lang = rng.choice(langs)
        topics = rng.choice(TOPICS)
        intent = rng.choice(INTENTS)
        author = 5000 + rng.randrange(60)
        account = ENTRIES[entries[0]][1] if entries else None
        addressed = (account,) if account and intent in ASKS and rng.random() < 0.6 else ()
        tags = [HASHTAGS[t] for t in topics] + (["5G"] if rng.random() < 0.3 else [])
        entities: dict[str, Any] = {
            "hashtags": [{"tag": t} for t in tags],
            "mentions": [{"username": a} for a in addressed],
        }
        if rng.random() < 0.2:
            entities["urls"] = [
                {"url": f"https://t.co/{i}", "expanded_url": "https://status.example/orbital"}
            ]
        text = rng.choice(TEXTS[lang])
        if addressed:
            text = f"@{account} {text}"
        posts.append(
            _post(
                100_000 + i,
                created,
                text,
                entries,
                topics=topics,
                sentiment=rng.choices(SENTIMENTS, weights=(3, 4, 3))[0],
                lang=lang,
                intent=intent,
                addressed=addressed,
                author_id=str(author),
                username=f"user{author}",
                entities=entities,
                public_metrics={"like_count": rng.randrange(50), "retweet_count": rng.randrange(9)},
            )
        )
        # an official account answers about half the asks addressed to it, minutes later
        answer_after = timedelta(minutes=rng.randrange(2, 90))
        if addressed and rng.random() < 0.5 and created + answer_after < NOW:
            entry = entries[0]
            replies.append(
                _post(
                    200_000 + i,
                    created + answer_after,
                    f"@user{author} sorry for the trouble, we are on it",
                    (entry,),
                    sentiment="positive",
                    lang="en",
                    author_entry=entry,
                    author_id=str(9000 + len(entry)),
                    username=account or "",
                    referenced_tweets=[{"type": "replied_to", "id": str(100_000 + i)}],
                    in_reply_to_user_id=str(author),
                    conversation_id=str(100_000 + i),
                )
            )
    crisis = [
        _post(
            300_000 + k,
            NOW - timedelta(minutes=40) + timedelta(seconds=55 * k),
            "@orbital_care panne géante, réseau coupé partout #panne #OrbitalDown",
            ("Orbital Telecom",),
            topics=("outage",),
            sentiment="negative",
            lang="fr",
            intent="complaint",
            addressed=("orbital_care",),
            author_id=str(7000 + k),
            username=f"angry{k}",
            entities={
                "hashtags": [{"tag": "panne"}, {"tag": "OrbitalDown"}],
                "mentions": [{"username": "orbital_care"}],
            },
        )
        for k in range(40)
    ]
    for p in posts + replies + crisis:
        sink.add(p)
    sink.flush()
    for p in posts[:60]:  # redelivered after a crash: must not count twice anywhere
        sink.add(p)

    stages = ["ingest", "process", "sink"]
    reasons = [
        "invalid JSON",
        "data.id: Field required",
        "enrichment failed: language model timeout",
        "ClickHouse refused inserting 3 rows into posts",
    ]
    for k in range(16):
        stage = stages[k % 3]
        sink.add(
            DeadLetter(
                stage=stage,  # type: ignore[arg-type]
                source=f"replay:sample.ndjson:{k}" if stage == "ingest" else "kafka",
                reason=reasons[k % len(reasons)],
                payload=b'{"data": {"id": ' + str(k).encode() + b"\xff",
                topic=None if stage == "ingest" else "tweets.raw",
                partition=None if stage == "ingest" else k % 4,
                offset=None if stage == "ingest" else 1000 + k,
                failed_at=START + timedelta(minutes=20 * k),
            )
        )
    alerts = [
        ("spike:Orbital Telecom", "spike", "warning", "Orbital Telecom", 35),
        ("spike:Orbital Telecom", "spike", "critical", "Orbital Telecom", 20),  # an update
        ("sentiment_dip:Nimbus Télécom", "sentiment_dip", "warning", "Nimbus Télécom", 180),
        ("impersonation:orbita1_care", "impersonation", "warning", "Orbital Telecom", 120),
        ("impersonation:cremedor_fr", "impersonation", "info", "Crème d'Or", 100),
        (f"budget:{NOW:%Y-%m}", "budget", "info", None, 60),
    ]
    for key, kind, severity, entry, minutes_ago in alerts:
        sink.add(
            Alert(
                key=key,
                kind=kind,
                severity=severity,  # type: ignore[arg-type]
                title=f"{kind} {entry or ''}".strip(),
                detail=f"{minutes_ago} minutes ago",
                entry=entry,
                created_at=NOW - timedelta(minutes=minutes_ago),
                data={"posts": 42},
            )
        )
    accounts = [
        ("orbital", "Orbital Telecom", 120_000),
        ("orbital_care", "Orbital Telecom", 30_000),
        ("nimbus_tel", "Nimbus Télécom", 90_000),
        ("zephyrnet", "Zephyr Net", 15_000),
        ("cremedor", "Crème d'Or", 4_000),
    ]
    for n, (username, entry, followers) in enumerate(accounts):
        for hour in range(7):
            sink.add(
                AccountSnapshot(
                    id=str(8000 + n),
                    username=username,
                    entry=entry,
                    entry_kind=ENTRIES[entry][0],  # type: ignore[arg-type]
                    followers_count=followers + hour * (n + 1) * 37,
                    observed_at=START + timedelta(hours=hour, minutes=n),
                )
            )
    for days_ago, reads in ((1, 6100), (0, 2300)):
        day = (NOW - timedelta(days=days_ago)).date()
        if day.month == NOW.month:
            sink.add(
                UsageSnapshot(
                    day=day.isoformat(),
                    month=f"{NOW:%Y-%m}",
                    reads_day=reads,
                    reads_month=8400 if days_ago == 0 else 6100,
                    duplicates_day=reads // 20,
                    budget_posts=100_000,
                    cost_month_usd=round(0.005 * (8400 if days_ago == 0 else 6100), 2),
                    x_reported_day=reads + 3 if days_ago else None,
                )
            )
    for hours_ago in (30, 2):  # two forecasts: the panel shows the newest
        for tag, per_day in (("brand:Orbital", 2100.0), ("sector:Telecoms", 900.0 + hours_ago)):
            sink.add(
                RuleForecast(
                    forecast_at=NOW - timedelta(hours=hours_ago),
                    tag=tag,
                    kind=tag.partition(":")[0],
                    rules=1,
                    counted_posts=int(per_day * 7),
                    days=7.0,
                    sample_pct=10 if tag.startswith("sector") else None,
                    posts_per_day=per_day,
                    cost_month_usd=round(per_day * 30.44 * 0.005, 2),
                    budget_usd=500.0,
                )
            )
    sink.flush()


@pytest.fixture(scope="module")
def filled(chdb_dir: Path) -> Iterator[Any]:
    """One migrated chDB database filled once for every query of this module (as `ch` does)."""
    from sinks.clickhouse import connect
    from sinks.migrate import migrate

    settings = ClickHouseSettings(url=None, database=f"t_{uuid.uuid4().hex[:10]}")
    client = connect(settings, chdb_dir)
    migrate(client)
    sink = ClickHouseSink(settings, client=client)
    sink.start()
    _fill(sink)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")
    client.close()


AGES = {"pipeline-health:Since the last post stored"}
"""Stats whose value is a time since something: 0 is an answer (it happened this second)."""


def _has_data(rows: list[Any], query_id: str = "") -> bool:
    empty: tuple[Any, ...] = (None, "") if query_id in AGES else (None, "", 0)
    return any(v not in empty for row in rows for v in row)


@pytest.mark.parametrize("scope", list(SCOPES))
@pytest.mark.parametrize("query", QUERIES, ids=[q.id for q in QUERIES])
def test_every_query_runs_on_chdb(filled: Any, query: Query, scope: str) -> None:
    sql = expand(query.sql, RANGE, {"entry": SCOPES[scope]})
    result = filled.query(sql)
    rows = result.result_rows
    if query.timeseries and rows:  # (chDB names no columns when no row comes back)
        first = result.column_types[0].name
        assert first.startswith(("DateTime", "Date")), f"time column is {first}"
        times = [r[0] for r in rows]
        assert times == sorted(times), "a time series must be sorted by time"
    if scope in MAY_BE_EMPTY and query.id not in MAY_BE_EMPTY[scope]:
        assert rows and _has_data(rows, query.id), f"{query.id} returned no data ({scope})"


def _run(client: Any, dashboard: str, title: str, entry: str = "") -> list[Any]:
    (q,) = [q for q in QUERIES if q.dashboard == dashboard and q.title == title]
    return list(client.query(expand(q.sql, RANGE, {"entry": entry})).result_rows)


def test_panels_count_each_post_once(filled: Any) -> None:
    """The panels agree with the deduplicated posts table, though 60 posts were written twice."""
    r = f"created_at >= toDateTime({int(RANGE.start.timestamp())})"
    distinct = filled.command(f"SELECT count() FROM posts FINAL WHERE {r}")
    assert filled.command("SELECT count() FROM posts") > distinct  # the copies are there
    assert _run(filled, "overview", "Posts") == [(distinct,)]
    assert sum(row[1] for row in _run(filled, "overview", "Posts over time")) == distinct
    orbital = filled.command(
        f"SELECT count() FROM posts FINAL WHERE {r} AND has(entries, 'Orbital Telecom')"
    )
    assert _run(filled, "overview", "Posts", "Orbital Telecom") == [(orbital,)]
    per_entry = _run(filled, "overview", "Posts per entry", "Orbital Telecom")
    assert {row[1] for row in per_entry} == {"Orbital Telecom"}
    assert sum(row[2] for row in per_entry) == orbital
    stored = _run(filled, "pipeline-health", "Posts stored")
    assert stored == [(filled.command("SELECT uniqExact(id) FROM posts"),)]


def test_entry_variable_offers_all_first_then_the_entries(filled: Any) -> None:
    rows = _run(filled, "overview", "variable entry")
    assert rows[0] == ("", "All")
    assert [r[0] for r in rows[1:]] == sorted(ENTRIES)


def test_alerts_show_their_latest_state(filled: Any) -> None:
    rows = _run(filled, "crisis-alerts", "Latest alerts", "Orbital Telecom")
    spikes = [r for r in rows if r[0] == "spike:Orbital Telecom"]
    assert len(spikes) == 1 and spikes[0][2] == "critical"
    quoted = _run(filled, "crisis-alerts", "Impersonation", "Crème d'Or")
    assert [r[0] for r in quoted] == ["impersonation:cremedor_fr"]


def test_care_panels_see_the_queue_and_the_answers(filled: Any) -> None:
    (waiting,) = _run(filled, "customer-care", "Waiting for an answer", "Orbital Telecom")
    queue = _run(filled, "customer-care", "Care queue (oldest first)", "Orbital Telecom")
    assert waiting[0] >= len(queue) > 40  # the 40 complaints of the crisis at least
    per_day = _run(filled, "customer-care", "Response time per day", "Orbital Telecom")
    # the answers' days have a response time; a day of the range without answers (the range
    # reaches past midnight when the suite runs late in the day) has none to show, not a wrong one
    assert any(row[1] is not None and row[1] > 0 for row in per_day)
    assert all(row[1] is None or row[1] >= 0 for row in per_day)


def test_reader_user_statements_in_the_docs_parse(filled: Any) -> None:
    """The CREATE USER / GRANT in docs/dashboards.md are valid ClickHouse (chDB cannot run
    them: it has no access control; EXPLAIN AST parses them)."""
    docs = DOCS.read_text(encoding="utf-8")
    block = re.search(r"```sql\n(.*?)```", docs, re.S)
    assert block, "docs/dashboards.md has no SQL block for the reader user"
    statements = [s.strip() for s in block.group(1).split(";") if s.strip()]
    assert any(s.startswith("CREATE USER") for s in statements)
    for s in statements:
        text = "\n".join(line for line in s.splitlines() if not line.startswith("--"))
        assert filled.query(f"EXPLAIN AST {text}").result_rows
