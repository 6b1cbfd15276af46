"""The source options shared by `veille up` and `veille ingest` (pipeline/sources.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from factories import run_veille
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.sources import SourceName, SourceOptions, SourceOptionsError, build_source
from veille.settings import Settings, VeilleSettings

# the command-line option of each SourceOptions field
OPTION = {name: f"--{name.replace('_', '-')}" for name in SourceOptions.model_fields} | {
    "inputs": "--input"
}

ROUND_TRIPS = [
    SourceOptions(),
    SourceOptions(
        source=SourceName.synthetic,
        scenario="crisis",
        volume=12.5,
        rate=None,
        seed=7,
        count=1234,
        live=False,
    ),
    SourceOptions(rate=0.25, live=True, scenario="impersonation"),
    SourceOptions(
        source=SourceName.replay, inputs=[Path("a.ndjson"), Path("/tmp/b c.ndjson")], speed=2.5
    ),
    SourceOptions(source=SourceName.x),
]


def _parsed_by_ingest(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> SourceOptions:
    """The SourceOptions `veille ingest ARGV` hands to build_source (which stops it there)."""
    seen: list[SourceOptions] = []

    def capture(options: SourceOptions, s: Settings) -> None:
        seen.append(options)
        raise typer.Exit(0)

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    monkeypatch.setattr("pipeline.cli.stages.build_source", capture)
    result = CliRunner().invoke(app, ["ingest", *argv])
    assert result.exit_code == 0, result.output
    [options] = seen
    return options


@pytest.mark.parametrize("options", ROUND_TRIPS, ids=lambda o: " ".join(o.to_argv()))
def test_argv_round_trips_through_veille_ingest(
    options: SourceOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _parsed_by_ingest(options.to_argv(), monkeypatch) == options


def test_unpaced_is_one_value() -> None:
    assert SourceOptions(rate=0) == SourceOptions(rate=None)
    assert "--rate" in (argv := SourceOptions(rate=None).to_argv())
    assert argv[argv.index("--rate") + 1] == "0"


def _help_lines(command: str) -> dict[str, str]:
    """Each option's line of `veille COMMAND --help`, on a terminal wide enough for one line
    each, with the runs of spaces between columns folded."""
    proc = run_veille(command, "--help", env={"TERMINAL_WIDTH": "400"})
    assert proc.returncode == 0, proc.stderr
    lines: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"^│ (--[a-z-]+)\s+(.*?)\s*│$", line)
        if m:
            lines[m.group(1)] = " ".join(m.group(2).split())
    return lines


def test_up_and_ingest_show_the_same_help_for_each_source_option() -> None:
    up, ingest = _help_lines("up"), _help_lines("ingest")
    shared = [*OPTION.values(), "--watch"]
    for option in shared:
        assert option in up and option in ingest, f"{option} is not an option of both commands"
        assert up[option] == ingest[option], option


def test_check_names_the_missing_option() -> None:
    with pytest.raises(SourceOptionsError, match="--input"):
        SourceOptions(source=SourceName.replay).check()
    with pytest.raises(SourceOptionsError, match="--rate"):
        SourceOptions(live=True, rate=0).check()
    SourceOptions(live=True, rate=5).check()


def test_build_source_translates_refusals(tmp_path: Path) -> None:
    s = Settings(veille=VeilleSettings(data_dir=tmp_path))
    s.x = s.x.model_copy(update={"bearer_token": None})
    with pytest.raises(SourceOptionsError, match="X_BEARER_TOKEN"):
        build_source(SourceOptions(source=SourceName.x), s)
    with pytest.raises(SourceOptionsError, match="scenario"):
        build_source(SourceOptions(scenario="no-such-scenario"), s)
    source = build_source(SourceOptions(count=3), s)
    assert type(source).__name__ == "SyntheticSource"
