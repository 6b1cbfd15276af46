#!/usr/bin/env python3
"""Healthcheck of a veille stage in the compose stack: is its status file "running" and fresh?

Usage: veille-healthcheck STATUS_FILE [--max-age SECONDS]

A stage started with `--status-file PATH` rewrites PATH while it runs (veille/stats.py): one
JSON object with `state` (`starting|running|stopped|failed`) and `updated_at` (Unix seconds).
Exit 0 when the state is `running` and, with `--max-age`, the file was rewritten within that
many seconds (the processor rewrites it every second, the sink on every poll; the ingest stage
only as posts arrive, so it is checked without `--max-age`). Exit 1 otherwise, with the reason
on stdout (docker keeps it in `docker inspect`). Standard library only: it runs in the image.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def check(path: str, max_age: float | None, now: float | None = None) -> str | None:
    """The reason the stage is unhealthy, or None when it is healthy."""
    try:
        with open(path, encoding="utf-8") as f:
            status = json.load(f)
    except FileNotFoundError:
        return f"{path}: no status yet"
    except (OSError, ValueError) as e:
        return f"{path}: unreadable status ({e})"
    if not isinstance(status, dict):
        return f"{path}: not a status object"
    state = status.get("state")
    if state != "running":
        return f"{path}: state={state}"
    if max_age is not None:
        updated = status.get("updated_at")
        if not isinstance(updated, (int, float)):
            return f"{path}: no updated_at"
        age = (time.time() if now is None else now) - updated
        if age > max_age:
            return f"{path}: last update {age:.0f} s ago (more than {max_age:g} s)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="veille-healthcheck", description=__doc__.split("\n")[0])
    parser.add_argument("status_file")
    parser.add_argument("--max-age", type=float, default=None, help="seconds")
    args = parser.parse_args(argv)
    reason = check(args.status_file, args.max_age)
    if reason:
        print(f"unhealthy: {reason}")
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
