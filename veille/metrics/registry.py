"""The registry of this process's metrics and the closed set of stages they are labelled with.

One registry per process: a Faust worker is a process of its own and serves its own port. The
process's CPU and memory are in it too; `*_created` series are disabled (they would double every
counter for no use here).
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, ProcessCollector, disable_created_metrics

Stage = Literal["ingest", "process", "sink"]
STAGES: tuple[Stage, ...] = ("ingest", "process", "sink")

# `*_created` series double every counter for no use here
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)
"""Every veille metric of this process (and the process's CPU and memory)."""

ProcessCollector(registry=REGISTRY)
