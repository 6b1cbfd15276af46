"""Read back what a sink stored, for the fault tests (run as a script: chDB allows one data
directory per process, and the test process has its own).

    python probe.py CHDB_DIR [REFERENCE.ndjson]

Prints one JSON object: the posts counted with FINAL and by distinct id, their ids, the dead
letters (stage, MD5 of the payload, reason), and every named query that reads the posts or their
rollup, run with its defaults. With a reference file (enriched posts, one JSON per line, each
once), those posts are written once, cleanly, into a database of their own in the same
directory, and each query is run there too: a faulted run must answer exactly the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sinks import queries
from sinks.clickhouse import ClickHouseSink, connect
from veille.models import EnrichedPost
from veille.settings import ClickHouseSettings

NOT_FROM_POSTS = {"alerts", "audience_growth", "x_usage", "x_forecast"}
"""Named queries reading tables the posts do not feed (alerts, audience, X usage and forecast)."""


def _rows(client: Any, name: str) -> list[list[Any]]:
    return queries.run(client, name)[1]


def main(chdb_dir: Path, reference: Path | None) -> dict[str, Any]:
    client = connect(ClickHouseSettings(database="veille"), chdb_dir)
    names = [n for n in queries.available() if n not in NOT_FROM_POSTS]
    out: dict[str, Any] = {
        "posts_final": client.command("SELECT count() FROM posts FINAL"),
        "posts_uniq": client.command("SELECT uniqExact(id) FROM posts"),
        "post_ids": [r[0] for r in client.query("SELECT toString(id) FROM posts").result_rows],
        "dead_letters": [
            list(r)
            for r in client.query(
                "SELECT stage, lower(hex(MD5(payload))), reason FROM dead_letters FINAL"
            ).result_rows
        ],
        "queries": {n: {"faulted": _rows(client, n)} for n in names},
    }
    if reference is not None:
        ref = ClickHouseSink(ClickHouseSettings(database="reference"), chdb_dir)
        ref.start()
        with reference.open() as fh:
            for line in fh:
                ref.add(EnrichedPost.model_validate_json(line))
        ref.flush()
        for n in names:
            out["queries"][n]["reference"] = _rows(ref.client, n)
        ref.close()
    client.close()
    return out


if __name__ == "__main__":
    ref = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    print(json.dumps(main(Path(sys.argv[1]), ref), default=str))
