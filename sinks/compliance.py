"""X compliance: remove stored posts that were deleted, protected or suspended on X.

X's terms require such posts to leave storage within 24 hours. `check()` submits the ids of
the stored X posts to X's batch compliance endpoint (a job: create, upload the ids, wait until
complete, download the results) and `remove()` takes out each post X reports:
- its row in `posts` (a lightweight DELETE), and the dead letters whose payload holds it,
- its contribution to the `mentions_1m` rollup: the minutes it belonged to are rebuilt from the
  remaining posts (`sinks.rollup.rebuild`),
- and records the id and reason in `deleted_posts`.
On a cluster (`CLICKHOUSE_CLUSTER`), the deletions target the replicated local tables
`ON CLUSTER` (ClickHouse does not delete through a Distributed table), and the rebuilt minutes
are inserted through the Distributed rollup, whose queries merge them with the other shards'.
Synthetic posts are not X's and are never submitted. Run daily (`veille compliance`, the sink
with `--compliance-every-h 24`, or the compose job).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from clickhouse_connect.driver.client import Client

from sinks import rollup
from sinks.clickhouse.connection import translate
from sinks.cluster import local_name
from sinks.rows import ALERT_COLUMNS
from veille import xapi
from veille.settings import XSettings

logger = logging.getLogger(__name__)

JOB_MAX_IDS = 500_000
RETRY_FIRST_S = 60.0
"""The first wait before a failed compliance run is tried again (doubling up to the interval)."""


@dataclass
class ComplianceResult:
    checked: int = 0
    removed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    jobs: list[str] = field(default_factory=list)


def stored_ids(client: Client) -> list[int]:
    """Ids of the stored posts that came from X (the stream, search, or a replayed capture)."""
    try:
        rows = client.query("SELECT DISTINCT id FROM posts WHERE source != 'synthetic'")
    except Exception as e:
        raise translate(e, "reading post ids for compliance") from None
    return [int(r[0]) for r in rows.result_rows]


def run_job(
    settings: XSettings,
    ids: Sequence[int],
    *,
    poll_s: float = 30.0,
    timeout_s: float = 6 * 3600,
    sleep: Callable[[float], Any] = time.sleep,
) -> dict[int, str]:
    """One batch compliance job for `ids`; returns id -> reason for the posts to remove.

    Raises `XApiError` (or a subclass) when X refuses or the job does not complete in time.
    """
    x = xapi.client(settings)
    body: dict[str, Any] = xapi.call(x.create_compliance_job, "creating a compliance job", "tweets")
    job = body["data"]
    with xapi.calling("uploading ids to the compliance job"):
        r = requests.put(
            job["upload_url"],
            data="\n".join(map(str, ids)).encode(),
            headers={"Content-Type": "text/plain"},
            timeout=120,
        )
        r.raise_for_status()
    deadline = time.monotonic() + timeout_s
    while True:
        status: dict[str, Any] = xapi.call(
            x.get_compliance_job, "reading the compliance job", job["id"]
        )
        state = status["data"]["status"]
        if state == "complete":
            break
        if state in ("failed", "expired"):
            raise xapi.XApiError(f"compliance job {job['id']} {state}")
        if time.monotonic() > deadline:
            raise xapi.XApiError(f"compliance job {job['id']} not complete after {timeout_s}s")
        sleep(poll_s)
    with xapi.calling("downloading compliance results"):
        r = requests.get(status["data"]["download_url"], timeout=300)
        r.raise_for_status()
    out: dict[int, str] = {}
    for line in r.text.splitlines():
        if line.strip():
            item = json.loads(line)
            out[int(item["id"])] = str(item.get("reason") or item.get("action") or "deleted")
    logger.info("compliance job=%s checked=%d to_remove=%d", job["id"], len(ids), len(out))
    return out


# A payload that holds a post: X's own (`"id":"..."` in `data` or in `includes.tweets`, where X
# puts the posts a post quotes or answers) or veille's records, written the same way.
_HOLDS_IDS = 'hasAny(extractAll(payload, \'"id": ?"([0-9]+)"\'), {ids})'


def removal_statements(
    ids: Sequence[int], cluster: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The DELETEs of the posts and of the dead letters whose payload holds one of them (the
    post itself, or a copy X included beside another post), with their bound parameters.

    On a cluster they are DDL sent to every server's local tables, written with literal values:
    the ids are integers read from ClickHouse, never text from outside.
    """
    if not cluster:
        return [
            ("DELETE FROM posts WHERE id IN {ids:Array(UInt64)}", {"ids": list(ids)}),
            (
                "DELETE FROM dead_letters WHERE " + _HOLDS_IDS.format(ids="{ids:Array(String)}"),
                {"ids": [str(i) for i in ids]},
            ),
        ]
    on = f" ON CLUSTER `{cluster}`"
    numbers = [str(int(i)) for i in ids]
    strings = "[" + ", ".join(f"'{n}'" for n in numbers) + "]"
    return [
        (f"DELETE FROM {local_name('posts')}{on} WHERE id IN ({', '.join(numbers)})", {}),
        (
            f"DELETE FROM {local_name('dead_letters')}{on} WHERE " + _HOLDS_IDS.format(ids=strings),
            {},
        ),
    ]


def remove(client: Client, reasons: dict[int, str], cluster: str | None = None) -> int:
    """Remove posts from `posts` and the rollup, and record them. Returns rows removed."""
    if not reasons:
        return 0
    ids = sorted(reasons)
    try:
        minutes = [
            r[0]
            for r in client.query(
                "SELECT DISTINCT toStartOfMinute(created_at) FROM posts "
                "WHERE id IN {ids:Array(UInt64)}",
                parameters={"ids": ids},
            ).result_rows
        ]
        present = int(
            client.command(  # type: ignore[arg-type]
                "SELECT uniqExact(id) FROM posts WHERE id IN {ids:Array(UInt64)}",
                parameters={"ids": ids},
            )
        )
        now = datetime.now(UTC)
        client.insert(
            "deleted_posts",
            [[i, reasons[i], now] for i in ids],
            column_names=["id", "reason", "removed_at"],
        )
        dead = int(
            client.command(  # type: ignore[arg-type]
                "SELECT count() FROM dead_letters WHERE "
                + _HOLDS_IDS.format(ids="{ids:Array(String)}"),
                parameters={"ids": [str(i) for i in ids]},
            )
        )
        for sql, parameters in removal_statements(ids, cluster):
            client.command(sql, parameters=parameters or None)
        rollup.rebuild(client, minutes, cluster)
        scrubbed = scrub_alert_samples(client, ids)
    except Exception as e:
        raise translate(e, "removing posts for compliance") from None
    if scrubbed or dead:
        logger.info("compliance removed samples from alerts=%d dead_letters=%d", scrubbed, dead)
    logger.info("compliance removed posts=%d minutes_rebuilt=%d", present, len(minutes))
    return present


def scrub_alert_samples(client: Client, ids: list[int]) -> int:
    """Rewrite the alerts whose samples quote a removed post, without those samples (an alert
    row written again with its key and time replaces the old one). Returns alerts rewritten."""
    wanted = {str(i) for i in ids}
    rows = client.query(
        "SELECT key, kind, severity, title, detail, entry, created_at, data FROM alerts FINAL "
        'WHERE hasAny(extractAll(data, \'"id": ?"([0-9]+)"\'), {ids:Array(String)})',
        parameters={"ids": sorted(wanted)},
    ).result_rows
    out = []
    for row in rows:
        data = json.loads(row[7])
        samples = data.get("samples") or []
        kept = [x for x in samples if str(x.get("id")) not in wanted]
        if len(kept) != len(samples):
            data["samples"] = kept
            out.append([*row[:7], json.dumps(data, ensure_ascii=False, default=str)])
    if out:
        client.insert("alerts", out, column_names=list(ALERT_COLUMNS))
    return len(out)


def check(
    client: Client, settings: XSettings, cluster: str | None = None, **job_options: Any
) -> ComplianceResult:
    """Submit every stored X post to compliance jobs and remove what X reports (on `cluster`'s
    local tables when ClickHouse is a cluster)."""
    result = ComplianceResult()
    ids = stored_ids(client)
    result.checked = len(ids)
    for i in range(0, len(ids), JOB_MAX_IDS):
        reasons = run_job(settings, ids[i : i + JOB_MAX_IDS], **job_options)
        result.removed += remove(client, reasons, cluster)
        for reason in reasons.values():
            result.reasons[reason] = result.reasons.get(reason, 0) + 1
    return result


class ComplianceSchedule:
    """Runs `check()` every `interval_s` in a background thread (the sink's, with chDB)."""

    def __init__(
        self,
        connect: Callable[[], Client],
        settings: XSettings,
        interval_s: float,
        first_after_s: float = 300.0,
        cluster: str | None = None,
        retry_first_s: float = RETRY_FIRST_S,
    ) -> None:
        self.connect = connect
        self.cluster = cluster
        self.settings = settings
        self.interval_s = interval_s
        self.first_after_s = first_after_s
        self.retry_first_s = retry_first_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.failures = 0
        self.last: ComplianceResult | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="compliance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        """Run `check()` every `interval_s`; a failed run (X refuses or is away, ClickHouse is
        away) is logged, counted, and tried again after a backoff (1 min doubling, never longer
        than the interval)."""
        wait = self.first_after_s
        retry = 0.0
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                client = self.connect()
                try:
                    self.last = check(
                        client, self.settings, self.cluster, sleep=lambda s: self._stop.wait(s)
                    )
                finally:
                    client.close()
                self.runs += 1
                retry = 0.0
                logger.info(
                    "compliance checked=%d removed=%d", self.last.checked, self.last.removed
                )
            except Exception as e:  # the sink goes on; the run is tried again
                self.failures += 1
                retry = min(max(retry * 2, self.retry_first_s), self.interval_s)
                wait = retry
                logger.error("compliance run failed: %s; trying again in %.0fs", e, wait)
