"""Security checks through the command line, as an operator or an attacker meets it.

One `veille up` run on a replayed stream with bad lines, with every secret set and DEBUG logs:
the secrets appear in none of its output, logs or stored rows (dead letters included). On the
data it stored, every named query gets hostile strings for each of its parameters through
`veille query --param`: values are bound, never spliced into SQL, so nothing is dropped,
nothing leaks, a mistyped value is a clear error, and the data is intact afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from factories import SAMPLE, run_veille

from sinks import queries

pytestmark = pytest.mark.integration

SECRETS = {
    "X_BEARER_TOKEN": "xbearer-Zq8s3cretTOKEN",
    "CLICKHOUSE_PASSWORD": "chpass-Wm4s3cretPW",
    "KAFKA_SASL_PASSWORD": "kafkapass-Jr7s3cretPW",
    "VEILLE_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hooks/whook-Tx2s3cretPATH",
}
HOSTILE = [
    "x' OR 1=1 --",
    "'; DROP TABLE posts; --",
    "') UNION ALL SELECT name, password FROM system.users --",
    "{entry:String} \\'; TRUNCATE TABLE posts; --",
    "%s %(x)s $1 ? ü\u202e\U0001f600\t\r\n",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("security")
    lines = [ln for ln in SAMPLE.read_bytes().splitlines() if ln.strip()]
    bad = [b'{"data": {"id": "99", "text": "cut', b'{"data": {"id": "x"}}', b"\xff\xfe\x00"]
    stream = tmp / "stream.ndjson"
    stream.write_bytes(b"\n".join(lines[:4] + bad + lines[4:]) + b"\n")
    data = tmp / "d"
    env = {**SECRETS, "VEILLE_LOG_LEVEL": "DEBUG"}
    proc = run_veille(
        "up", "--source", "replay", "--input", str(stream), "--data-dir", str(data), "--json",
        env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["stored"] == len(lines) and summary["dead_lettered"] == len(bad)
    return {"proc": proc, "data": data, "posts": len(lines), "dead": len(bad)}


_CHILD = """
import json, sys
from pathlib import Path
from typer.testing import CliRunner
from pipeline.cli import app

job = json.load(sys.stdin)
out = {"runs": [], "rows": {}}
runner = CliRunner()
for argv in job["argv"]:
    r = runner.invoke(app, argv)
    out["runs"].append({"code": r.exit_code, "stdout": r.stdout, "stderr": r.stderr,
                        "exception": repr(r.exception) if r.exit_code not in (0, 1, 2) else ""})
from sinks.clickhouse import connect
from veille.settings import ClickHouseSettings
c = connect(ClickHouseSettings(), Path(job["data"]) / "clickhouse")
for t in ("posts", "dead_letters"):
    r = c.query(f"SELECT * FROM {t}")
    out["rows"][t] = [dict(zip(r.column_names, map(repr, row))) for row in r.result_rows]
print(json.dumps(out))
"""


def _cli(data: Path, argv: list[list[str]]) -> dict[str, Any]:
    """Run many `veille` command lines in one child process (chDB: one process per directory),
    then dump every row of posts and dead_letters."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps({"data": str(data), "argv": argv}),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_secrets_are_in_no_output_log_or_stored_row(run: dict[str, Any]) -> None:
    proc: subprocess.CompletedProcess[str] = run["proc"]
    assert "DEBUG" in proc.stderr or any(  # the logs were verbose, so the check means something
        "DEBUG" in p.read_text(errors="replace") for p in run["data"].rglob("*.log")
    )
    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    for path in run["data"].rglob("*"):
        if path.is_file() and path.suffix in (".log", ".json", ".txt", ".jsonl"):
            texts[str(path)] = path.read_text(errors="replace")
    rows = _cli(run["data"], [])["rows"]
    assert len(rows["dead_letters"]) == run["dead"] and len(rows["posts"]) == run["posts"]
    assert all(r["reason"].strip("'") for r in rows["dead_letters"])
    texts["rows"] = json.dumps(rows)
    for name, value in SECRETS.items():
        needle = value.rsplit("/", 1)[-1]
        for where, text in texts.items():
            assert needle not in text, f"{name} found in {where}"


def test_hostile_parameter_values_are_bound(run: dict[str, Any]) -> None:
    data: Path = run["data"]
    base = ["--data-dir", str(data), "--format", "json"]
    cases = [  # a number or a date parameter refuses them all alike: two values suffice there
        (named.name, param, value)
        for named in queries.available().values()
        for param in named.params
        for value in (HOSTILE if param.type == "String" else HOSTILE[:2])
    ]
    argv = [["query", name, *base, "--param", f"{p.name}={v}"] for name, p, v in cases]
    argv.append(["query", "recent_posts", *base, "--param", "limit=1000"])
    for value in HOSTILE:  # a filter on a hostile name matches nothing, not everything
        argv.append(["query", "recent_posts", *base, "--param", f"entry={value}"])
    result = _cli(data, argv)
    runs = result["runs"]
    assert sum(p.type == "String" for _, p, _ in cases) >= len(HOSTILE) * 20
    refused = 0
    for (name, param, value), r in zip(cases, runs, strict=False):
        where = f"{name} {param.name}={value!r}: {r['stderr'][-300:]}"
        assert not r["exception"], where
        if r["code"] == 0:
            assert isinstance(json.loads(r["stdout"]), list), where
            assert "password" not in r["stdout"].lower(), where
        else:  # a value the parameter cannot take (a number, a date) is refused, clearly
            assert r["code"] == 1 and "error" in r["stderr"].lower(), where
            refused += param.type == "String"
    strings = sum(p.type == "String" for _, p, _ in cases)
    assert refused <= strings / 10  # string values go through (a date given as a string may not)
    everything, *filtered = runs[len(cases) :]
    assert everything["code"] == 0 and len(json.loads(everything["stdout"])) == run["posts"]
    for value, r in zip(HOSTILE, filtered, strict=True):
        assert r["code"] == 0 and json.loads(r["stdout"]) == [], value
    rows = result["rows"]  # nothing dropped or truncated
    assert len(rows["posts"]) == run["posts"] and len(rows["dead_letters"]) == run["dead"]


def test_a_password_in_clickhouse_url_is_not_in_the_error() -> None:
    """A ClickHouse out of reach: the error names where, not the password in the URL's user
    part (it used to print the URL whole)."""
    from sinks.base import SinkError
    from sinks.clickhouse import connect
    from veille.settings import ClickHouseSettings

    s = ClickHouseSettings(url="http://veille:Pa55-url-s3cret@127.0.0.1:9/", connect_timeout_s=1)
    with pytest.raises(SinkError) as caught:
        connect(s)
    assert "Pa55-url-s3cret" not in str(caught.value)
    assert "http://veille:***@127.0.0.1:9/" in str(caught.value)
