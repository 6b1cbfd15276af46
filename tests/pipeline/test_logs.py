"""Rotated process logs: whatever a child writes, its files stay within the rotation's bounds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.logs import RotatingPipe, Rotation, log_files

# 3000 lines of ~100 bytes on stdout and stderr, then a crash (a traceback on stderr)
CHILD = """
import sys
for i in range(3000):
    (sys.stdout if i % 2 else sys.stderr).write(f"line {i:05d} " + "x" * 88 + "\\n")
sys.stdout.flush()
raise SystemExit("the end " + "%s")
"""


def test_a_child_output_rotates_within_bounds_and_keeps_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "run" / "stage.log"
    rotation = Rotation(max_bytes=20_000, backups=3)
    pipe = RotatingPipe(path, rotation)
    with pipe as out:
        proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=out, stderr=subprocess.STDOUT)
    assert proc.wait(30) == 1
    pipe.join(10)

    files = log_files(path)
    assert files == [path, *(path.with_name(f"stage.log.{i}") for i in (1, 2, 3))]
    assert not path.with_name("stage.log.4").exists()
    assert all(f.stat().st_size <= rotation.max_bytes for f in files)
    newest = path.read_text()
    assert newest.rstrip().endswith("the end %s")  # the last words (stderr) are kept, verbatim
    assert "line 02999 " in newest
    oldest = files[-1].read_text().splitlines()
    assert oldest[0].startswith("line ") and oldest[0] < newest.splitlines()[0]


def test_a_rotation_keeps_at_least_one_backup() -> None:
    with pytest.raises(ValueError):
        Rotation(max_bytes=5_000, backups=0)
