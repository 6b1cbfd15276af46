"""How commands find the process that serves a data directory: `<data-dir>/serve.json`.

The process that owns a chDB directory (the sink of `veille up`, or `veille serve`) writes
`{"pid", "host", "port", "url", "database"}` there once its HTTP port is bound, and removes it
when it stops. A reader ignores the file when its process is gone (a crash leaves it behind),
so a stale file never sends a command to a port nobody serves.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "serve.json"


@dataclass(frozen=True)
class Served:
    """A running server of a data directory."""

    pid: int
    host: str
    port: int
    database: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


def path_for(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def announce(data_dir: Path, served: Served) -> Path:
    """Write the discovery file atomically; returns its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = path_for(data_dir)
    doc = {**served.__dict__, "url": served.url}
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
    return path


def withdraw(data_dir: Path, pid: int | None = None) -> None:
    """Remove the discovery file if it is this process's (`pid`, default ours)."""
    path = path_for(data_dir)
    found = find(data_dir, check_alive=False)
    if found is not None and found.pid == (pid or os.getpid()):
        path.unlink(missing_ok=True)


def find(data_dir: Path, check_alive: bool = True) -> Served | None:
    """The live server of `data_dir`, or None (no file, a malformed one, or a dead process)."""
    try:
        doc = json.loads(path_for(data_dir).read_text())
        served = Served(
            int(doc["pid"]), str(doc["host"]), int(doc["port"]), str(doc.get("database", ""))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if check_alive and not _alive(served.pid):
        return None
    return served
