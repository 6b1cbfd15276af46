"""What every command shares: logging set up once, settings, the watch file, clean errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from veille.settings import Settings, VeilleSettings
from veille.watch import WatchConfig, WatchConfigError, load_watch

err_console = Console(stderr=True)


def out_console() -> Console:
    """Console for results on stdout: the terminal's width, or wide enough when piped."""
    return Console() if sys.stdout.isatty() else Console(width=160)


T = TypeVar("T")

DATA_DIR_HELP = "data directory of the embedded ClickHouse (chDB) [default: ./.veille]"
WATCH_HELP = "watch configuration [default: ./watch.yaml, else the bundled example]"
WatchOpt = Annotated[Path | None, typer.Option(help=WATCH_HELP)]
"""`--watch FILE`, as every command that runs a stage declares it."""


def setup_logging(level: str | None = None) -> None:
    """Configure the root logger once (stderr, key=value friendly)."""
    settings_level = level or VeilleSettings().log_level
    logging.basicConfig(
        level=getattr(logging, settings_level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("faust", "aiokafka", "mode", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings(data_dir: Path | None = None, watch: Path | None = None) -> Settings:
    """Settings from the environment, with command-line overrides."""
    try:
        s = Settings()
    except Exception as e:  # pydantic ValidationError: a bad environment variable
        fail(f"invalid settings: {e}")
    if data_dir is not None:
        s.veille = s.veille.model_copy(update={"data_dir": data_dir})
    if watch is not None:
        s.veille = s.veille.model_copy(update={"watch_file": watch})
    return s


def watch_config(s: Settings) -> WatchConfig:
    try:
        return load_watch(s.veille.watch_file)
    except WatchConfigError as e:
        fail(str(e))


@contextmanager
def errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the expected errors of a command into a one-line message and exit code 1."""
    try:
        yield
    except kinds as e:
        fail(str(e), code=1)


def guarded(fn: Callable[[], T], *kinds: type[BaseException]) -> T:
    with errors(*kinds):
        return fn()
    raise AssertionError("unreachable")
