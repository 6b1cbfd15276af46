"""A stage's collector once tuned: start-up frozen, young collections spaced, cycles collected."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import gc, weakref
from pipeline.gctune import GEN0, GEN1, tune_for_stream
class Node: pass
tune_for_stream()
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()  # start-up's objects, frozen
assert gc.get_threshold() == (GEN0, GEN1, GEN1)
a = Node(); b = Node(); a.b, b.a = b, a  # a cycle made after the tuning
gone = weakref.ref(a)
del a, b
kept = [[None] for _ in range(GEN0 * 2)]  # objects enough for a young collection to run
assert gone() is None, "a cycle was never collected"
print("ok")
"""


def test_the_stage_collector_freezes_start_up_and_still_collects_cycles() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
