"""The source options of `veille up` and `veille ingest`, and the source they build.

`SourceOptions` is the one description of where posts come from: `veille ingest` parses it from
its command line (`pipeline/cli/sources.py` declares each option once, for both commands),
`veille up` hands it to the supervisor, which renders it back to the `veille ingest` argv of
the stage it starts (`to_argv()`: `veille ingest` parses that argv back to equal options), and
`build_source()` turns it into an `ingest.base.Source`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, field_validator

from veille.settings import Settings
from veille.watch import load_watch

if TYPE_CHECKING:
    from ingest.base import Source


class SourceName(StrEnum):
    """The sources `--source` names."""

    synthetic = "synthetic"
    replay = "replay"
    x = "x"


class SourceOptionsError(ValueError):
    """The source options do not go together, or the source refused them; the message names the
    option to fix."""


class SourceOptions(BaseModel):
    """Where posts come from and how: validated data, no I/O.

    `rate` is posts per second of the synthetic source; `None` (or 0, stored as `None`) means as
    fast as possible. The other fields are those of the options of the same name (`inputs`:
    `--input`, repeated).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: SourceName = SourceName.synthetic
    inputs: list[Path] = []
    scenario: str = "calm"
    volume: float = 30.0
    rate: float | None = 100.0
    seed: int = 0
    count: int | None = None
    speed: float | None = None
    live: bool = False

    @field_validator("rate")
    @classmethod
    def _unpaced_is_none(cls, rate: float | None) -> float | None:
        return rate or None

    def check(self) -> None:
        """Raise `SourceOptionsError` when options miss what they need (no I/O)."""
        if self.source is SourceName.replay and not self.inputs:
            raise SourceOptionsError(
                "--source replay needs --input FILE (NDJSON of X API v2 payloads)"
            )
        if self.source is SourceName.synthetic and self.live and not self.rate:
            raise SourceOptionsError(
                "--live needs a --rate: event time then follows the wall clock"
            )

    def to_argv(self) -> list[str]:
        """The `veille ingest` options that parse back to these options."""
        argv = ["--source", self.source.value, "--scenario", self.scenario]
        argv += ["--seed", str(self.seed), "--rate", str(self.rate or 0)]
        argv += ["--volume", str(self.volume)]
        for path in self.inputs:
            argv += ["--input", str(path)]
        if self.count is not None:
            argv += ["--count", str(self.count)]
        if self.speed is not None:
            argv += ["--speed", str(self.speed)]
        if self.live:
            argv.append("--live")
        return argv


def build_source(options: SourceOptions, s: Settings) -> Source:
    """The source `options` name, validated and not started (`start()` opens connections).

    Reads the watch file of `s`; for `--source x`, creates the data directory where the X source
    keeps its state. Raises `SourceOptionsError` (a `ValueError`, message naming the option) on
    options that do not go together, a missing X bearer token or values a source refuses, and
    `veille.watch.WatchConfigError` (a `ValueError` too) on a bad watch file.
    """
    options.check()
    if options.source is SourceName.synthetic:
        from ingest.synthetic import SyntheticSource

        watch = load_watch(s.veille.watch_file)
        rate = options.rate
        try:
            return SyntheticSource(
                watch,
                rate=rate,
                seed=options.seed,
                count=options.count,
                scenario=options.scenario,
                volume=rate * 60 if options.live and rate else options.volume,
                start_time=datetime.now(UTC) if options.live else None,
                # a live clock follows the wall; otherwise the timeline continues after a restart
                state_file=None
                if options.live
                else s.veille.data_dir / "ingest" / "synthetic.json",
            )
        except ValueError as e:
            raise SourceOptionsError(str(e)) from e
    if options.source is SourceName.replay:
        from ingest.replay import ReplaySource

        return ReplaySource(
            options.inputs,
            speed=options.speed,
            state_file=s.veille.data_dir / "ingest" / "replay.json",
        )
    from ingest.x.source import XSource

    if s.x.bearer_token is None or not s.x.bearer_token.get_secret_value():
        raise SourceOptionsError(
            "--source x needs X_BEARER_TOKEN (the bearer token of your X developer app)"
        )
    watch = load_watch(s.veille.watch_file)
    s.veille.data_dir.mkdir(parents=True, exist_ok=True)
    return XSource(s.x, watch, state_dir=s.veille.data_dir)
