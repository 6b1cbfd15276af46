"""Memory and CPU use of processes, read from `/proc/<pid>/` (Linux; elsewhere: nothing).

`VmHWM` is the process's peak resident set size since it started (the kernel keeps the high
water mark), so one reading just before a process stops gives its peak; `PeakRss` keeps the
highest reading per name for processes that end on their own (read them while they run).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def status_kb(pid: int, field: str = "VmHWM") -> int | None:
    """`field` (kB) of `/proc/<pid>/status`; None when unreadable (gone, zombie, not Linux)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def own_figures(
    count_key: str, rate_key: str, count: int, seconds: float, cpu_s: float
) -> dict[str, Any]:
    """What a reference process reports of itself: `count` records in `seconds`, the rate, its
    CPU and its own peak RSS (read now, so call it just before the process ends)."""
    return {
        count_key: count,
        "seconds": round(seconds, 3),
        rate_key: round(count / seconds, 1),
        "cpu_s": round(cpu_s, 3),
        "peak_rss_mb": round((status_kb(os.getpid()) or 0) * 1024 / 1e6, 1),
    }


def reference_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments every reference process takes: where it reads, writes, its group, how many."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--count", type=int, required=True)
    return parser


class PeakRss:
    """The highest `VmHWM` seen per named process, over any number of `sample()` calls."""

    def __init__(self) -> None:
        self.kb: dict[str, int] = {}

    def sample(self, pids: dict[str, int]) -> None:
        for name, pid in pids.items():
            kb = status_kb(pid)
            if kb is not None and kb > self.kb.get(name, 0):
                self.kb[name] = kb

    def merge(self, other: PeakRss) -> None:
        for name, kb in other.kb.items():
            self.kb[name] = max(kb, self.kb.get(name, 0))

    def mb(self) -> dict[str, float]:
        """Peaks in MB (10^6 bytes), rounded to 0.1."""
        return {name: round(kb * 1024 / 1e6, 1) for name, kb in sorted(self.kb.items())}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (all its threads); None when unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class CpuUse:
    """CPU seconds used per named process between `start()` and the last `sample()`.

    A process that starts after `start()` counts from zero (its start-up included)."""

    def __init__(self) -> None:
        self.base: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def start(self, pids: dict[str, int]) -> None:
        for name, pid in pids.items():
            s = cpu_seconds(pid)
            if s is not None:
                self.base[name] = s

    def sample(self, pids: dict[str, int]) -> None:
        for name, pid in pids.items():
            s = cpu_seconds(pid)
            if s is not None:
                self.last[name] = s

    def seconds(self) -> dict[str, float]:
        return {
            name: round(s - self.base.get(name, 0.0), 2) for name, s in sorted(self.last.items())
        }


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[1])  # after "pid (comm) state"
    except (OSError, ValueError, IndexError):
        return None


def descendants(root: int) -> list[int]:
    """Every process below `root` (children, their children, ...), read from `/proc` now;
    those in other sessions or process groups included. Empty when `/proc` is unreadable."""
    try:
        pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    except OSError:
        return []
    children: dict[int, list[int]] = {}
    for pid in pids:
        parent = _ppid(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def command(pid: int) -> list[str]:
    """The process's command line (argv); empty when gone or unreadable (a zombie too)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
