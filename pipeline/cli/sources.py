"""The source options of `veille up` and `veille ingest`, declared once for both commands.

Each option is an `Annotated` alias carrying its typer declaration and help text; a command
takes them as parameters with the defaults of `DEFAULTS` and packs them with `source_options()`.
Adding a source option: a field of `pipeline.sources.SourceOptions` (and its `to_argv()`), an
alias here, a parameter of both commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.sources import SourceName, SourceOptions

DEFAULTS = SourceOptions()
"""The default of every source option."""

SCENARIO_HELP = (
    "synthetic scenario: calm, crisis (negative burst on the first brand after 14 simulated "
    "hours), impersonation, care, trending"
)
VOLUME_HELP = "synthetic: posts per simulated minute (daily average); event time, not wall time"
LIVE_HELP = (
    "synthetic: posts dated now, at --rate per second (event time follows the wall clock, as "
    "a live stream; default: simulated time from midnight UTC yesterday, faster than the clock)"
)

SourceOpt = Annotated[SourceName, typer.Option(help="where posts come from")]
InputOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--input", "-i", help="NDJSON file(s) of X API v2 payloads that --source replay reads"
    ),
]
ScenarioOpt = Annotated[str, typer.Option(help=SCENARIO_HELP)]
VolumeOpt = Annotated[float, typer.Option(help=VOLUME_HELP)]
RateOpt = Annotated[
    float | None, typer.Option(help="synthetic posts per second (0: as fast as possible)")
]
SeedOpt = Annotated[int, typer.Option(help="synthetic: random seed (reproducible output)")]
CountOpt = Annotated[int | None, typer.Option(help="synthetic: stop after N posts")]
SpeedOpt = Annotated[
    float | None,
    typer.Option(
        help="replay: speed factor of the original timing (2 = twice as fast); unset: as fast "
        "as possible"
    ),
]
LiveOpt = Annotated[bool, typer.Option("--live", help=LIVE_HELP)]


def source_options(
    source: SourceName,
    inputs: list[Path] | None,
    scenario: str,
    volume: float,
    rate: float | None,
    seed: int,
    count: int | None,
    speed: float | None,
    live: bool,
) -> SourceOptions:
    """The options of one command line, as the command's parameters received them."""
    return SourceOptions(
        source=source,
        inputs=list(inputs or []),
        scenario=scenario,
        volume=volume,
        rate=rate,
        seed=seed,
        count=count,
        speed=speed,
        live=live,
    )
