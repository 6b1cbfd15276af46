"""Size-rotated log files for the processes `veille up` starts (stages and broker).

A child's stdout and stderr (its Python logs, a traceback at a crash, a broker binary's own
output) go into a pipe; a daemon thread of the supervisor copies each line into
`<name>.log`, rotated by size like `logging.handlers.RotatingFileHandler` (which does the
writing): `<name>.log` up to `max_bytes`, then `<name>.log.1` ... `<name>.log.<backups>`, the
oldest dropped. So a pipeline left running for weeks keeps at most
`max_bytes * (backups + 1)` bytes of each process's log, whatever the process writes.

If the supervisor dies, the pipe's reader is gone: a Python child's next write fails (EPIPE)
and its output is lost while it keeps running (Python ignores SIGPIPE); a Go binary (the S3
server) exits on SIGPIPE. Either way the next `veille up` ends what a killed run left.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import subprocess
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

_LINE_LIMIT = 64 * 1024  # a longer line is written in pieces of this size


@dataclass(frozen=True)
class Rotation:
    """How big one log file may grow and how many rotated files are kept beside it."""

    max_bytes: int = 10_000_000
    backups: int = 5  # at least 1: with none, RotatingFileHandler would never rotate

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.backups < 1:
            raise ValueError(f"a log rotation needs max_bytes and backups >= 1: {self}")

    @classmethod
    def from_mb(cls, max_mb: float, backups: int) -> Rotation:
        return cls(max(1, int(max_mb * 1_000_000)), backups)


def log_files(path: Path) -> list[Path]:
    """`path` and its rotated files (`path.1`, `path.2`, ...) that exist, newest first."""
    rotated = [p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()]
    rotated.sort(key=lambda p: int(p.suffix[1:]))
    return ([path] if path.exists() else []) + rotated


def child_output(path: Path | None, rotation: Rotation) -> AbstractContextManager[int]:
    """What to give a child process as stdout and stderr, around its start: a `RotatingPipe`
    into `path`, or /dev/null when `path` is None."""
    return RotatingPipe(path, rotation) if path is not None else nullcontext(subprocess.DEVNULL)


class RotatingPipe:
    """A pipe whose read end a thread copies into a size-rotated file.

    Use as a context manager around starting the child: the block gets the write end's file
    descriptor (pass it as the child's `stdout`/`stderr`); leaving the block closes the
    supervisor's copy, so the thread ends (file flushed and closed) once every process that
    holds the write end has exited. `join()` waits for that. Nothing is opened before
    `__enter__`.
    """

    def __init__(self, path: Path, rotation: Rotation) -> None:
        self.path = path
        self.rotation = rotation
        self._write_fd: int | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            self.path,
            maxBytes=self.rotation.max_bytes,
            backupCount=self.rotation.backups,
            encoding="utf-8",
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        read_fd, self._write_fd = os.pipe()
        self._thread = threading.Thread(
            target=self._copy, args=(read_fd, handler), name=f"log {self.path.name}", daemon=True
        )
        self._thread.start()
        return self._write_fd

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None

    def join(self, timeout: float | None = None) -> None:
        """Wait until everything the children wrote is in the file (they have all exited)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _copy(self, read_fd: int, handler: logging.handlers.RotatingFileHandler) -> None:
        try:
            with os.fdopen(read_fd, "rb") as pipe:
                while line := pipe.readline(_LINE_LIMIT):
                    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                    handler.emit(logging.makeLogRecord({"msg": text, "args": None}))
        except Exception:  # a full disk must not kill the supervisor; the child goes on
            logger.exception("log copy failed path=%s", self.path)
        finally:
            handler.close()
