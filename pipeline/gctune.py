"""The garbage collector of a long-running stage: set once its start-up is done.

A stage allocates a few hundred short-lived objects per post (parsed JSON, models, rows) and
frees them by reference counting; reference cycles are rare. CPython's collector, with its
default thresholds (a young collection every 700 allocations), still walks the young objects
thousands of times a second at full speed, and every older collection walks everything the
stage loaded at start-up (Faust, aiokafka, the models, the watch matcher). `tune_for_stream()`
collects once, moves what start-up left into the permanent generation (`gc.freeze()`: never
walked again) and makes young collections rarer (every `GEN0` allocations). Measured with
`veille bench e2e` (100,000 posts, docs/benchmarks.md): the Faust workers' CPU per post
0.27–0.29 -> 0.25 ms, the sink's 0.113–0.119 -> 0.085 ms. Cycles are still collected, later:
memory stays bounded (`veille bench soak`).
"""

from __future__ import annotations

import gc

GEN0 = 50_000
"""Allocations (less deallocations) between two young collections; CPython's default is 700."""
GEN1 = 20
"""Young collections between two middle ones (default 10), and middle ones between two full."""


def tune_for_stream() -> None:
    """Collect what start-up left, freeze the rest and space the collections (see above).
    Call once, from the stage's own process, just before its loop."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0, GEN1, GEN1)
