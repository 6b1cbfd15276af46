"""Child processes of the embedded components, and what a killed run left behind.

A SIGKILL of `veille up` gives its children no chance to clean up: a broker or an S3 server may
survive it (they run in their own sessions) and keep the data directory and their ports. Each
component therefore records its process in a pid file inside its data directory; the next start
ends a recorded process that is still running the same command on the same directory, and only
that one (a pid reused by an unrelated process is left alone).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (another process may take it before it is bound)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def end_stale(pid_file: Path, marker: str, timeout: float = 10.0) -> bool:
    """End the process recorded in `pid_file` if it still runs with `marker` in its command line
    (the data directory it serves). SIGTERM, then SIGKILL after `timeout` s. Returns True when a
    process was ended; removes the pid file in every case."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    finally:
        pid_file.unlink(missing_ok=True)
    if not _alive(pid) or not any(marker in part for part in _cmdline(pid)):
        return False
    logger.warning("ending a process left by an earlier run pid=%d marker=%s", pid, marker)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
    return True


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, wait up to `timeout` s, then SIGKILL; returns once the process is reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float, what: str) -> None:
    """Return once 127.0.0.1:port accepts connections; raise `RuntimeError` if `proc` exits or
    `timeout` s pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")
