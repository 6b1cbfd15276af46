"""The processor's whole Faust topology, built in one place, and the worker that runs it.

`build()` makes the App (`processors.app.create_app`) and declares its agents:

- `veille.enrich` (`processors.enrich.agent`): reads the raw topic in batches, produces the
  enriched posts and dead letters, and, through the alert feed it is handed
  (`processors.alerts.agent.AlertFeed`), the impersonation alerts and the observations;
- `veille.alerts.crisis` (`processors.alerts.agent`): reads the observations topic, produces
  the crisis alerts;
- the enrich agent's status timer, and its rebalance hook that marks the worker `running`.

Every agent acknowledges a batch only once its output is delivered (`processors.delivery`).
A caller may declare other agents instead (`agents=`: the naive benchmark's single agent);
then there is no alert feed.

`run()` starts a Faust worker on the built App in this thread, until SIGTERM/SIGINT, and marks
the status file `stopped` when it returns or raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import faust

from processors.alerts import agent as alerts_agent
from processors.app import create_app, lag
from processors.enrich import agent as enrich_agent
from processors.enrich.enricher import Enricher
from veille.settings import Settings
from veille.stats import StatusFile

logger = logging.getLogger(__name__)

Agents = Callable[[faust.App, Enricher], None]
"""Declares agents on an App, with the enricher they use (see `build(agents=...)`)."""

Lag = dict[tuple[str, int], int]


@dataclass
class Topology:
    """A built processor: the App with its agents, and what the CLI watches of it."""

    app: faust.App
    status: StatusFile
    counters: Mapping[str, Any] = field(default_factory=dict)
    """Counters kept live by the alert feed (`observations`, `alerts`, `observations_done`);
    empty when `build` was given other agents. The enrich agent's go to `status`."""
    input_topics: frozenset[str] = frozenset()
    """The topics its agents read, whose lag `lag_reader` reports."""

    def lag_reader(self) -> Callable[[], Lag]:
        """A function returning the records behind per (topic, partition) of `input_topics`
        (`processors.app.lag`), safe to call from another thread. Call this in the thread that
        will run the worker, before `run`: it creates the App's monitor there."""
        monitor = self.app.monitor
        topics = self.input_topics
        return lambda: lag(monitor, topics)


def build(
    settings: Settings,
    enricher: Enricher,
    status: StatusFile | None = None,
    *,
    agents: Agents | None = None,
) -> Topology:
    """The App with veille's agents declared on it (see the module docstring), or with only
    those `agents` declares when given. `enricher` must be loaded. No I/O: connections open
    when the worker starts."""
    status = status or StatusFile(None, "process")
    app = create_app(settings)
    if agents is not None:
        agents(app, enricher)
        return Topology(app, status)
    k = settings.kafka
    feed = alerts_agent.AlertFeed(settings, enricher.watch)
    enrich_agent.register(app, settings, enricher, status, feed=feed.records)
    alerts_agent.register(app, settings, feed, status)
    return Topology(app, status, feed.counters, frozenset({k.raw_topic, k.observations_topic}))


def faust_loglevel() -> str:
    """Faust's name for the root logger's level (`warn`, `info`, `debu`, ...)."""
    level = logging.getLevelName(logging.getLogger().level).lower()
    return "warn" if level == "warning" else level[:4]


def run(topology: Topology, loglevel: str | None = None) -> None:
    """Run a Faust worker on the topology's App until it is stopped (SIGTERM or SIGINT), with
    the logging the CLI configured (`loglevel`: Faust's name; default the root logger's).
    The status file says `stopped` afterwards, however the worker ended."""
    worker = faust.Worker(
        topology.app,
        loglevel=loglevel or faust_loglevel(),
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    try:
        worker.execute_from_commandline()
    finally:
        topology.status.set_state("stopped")
