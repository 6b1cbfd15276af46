"""`veille train sentiment` and `veille eval sentiment`: reproduce and measure the models.

Training and tuning use only the train and validation splits of the XLM-T data
(`../shared/data/xlmt`, or `VEILLE_XLMT_DIR`); figures are validation figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veille.cli.common import errors, out_console

train_app = typer.Typer(
    no_args_is_help=True, help="Train the shipped models (needs veille[train])."
)
eval_app = typer.Typer(no_args_is_help=True, help="Measure the models on labelled data.")

DATA_HELP = "XLM-T data folder [default: VEILLE_XLMT_DIR, else ../shared/data/xlmt]"


@train_app.command("sentiment")
def train_sentiment(
    data: Annotated[Path | None, typer.Option(help=DATA_HELP)] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="model file to write "
            "[default: the shipped processors/enrich/models/sentiment-fast.npz]"
        ),
    ] = None,
    c: Annotated[
        list[float] | None,
        typer.Option("--c", help="regularisation values to try (the best on val wins)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Train the fast sentiment model on the train split (tuned on val) and write it.

    Example: veille train sentiment --c 3 --c 5 --out /tmp/sentiment-fast.npz
    """
    from processors.enrich.sentiment import DEFAULT_FAST_MODEL
    from processors.enrich.train import FAST_C_GRID, train_fast

    with errors(FileNotFoundError, ImportError):
        report = train_fast(data, out or DEFAULT_FAST_MODEL, seed, c_grid=c or FAST_C_GRID)
    print(json.dumps(report, default=str))


@eval_app.command("sentiment")
def eval_sentiment(
    split: Annotated[str, typer.Option(help="train or val (there is no test split here)")] = "val",
    sentiment: Annotated[str, typer.Option(help="backend: fast|accurate")] = "fast",
    data: Annotated[Path | None, typer.Option(help=DATA_HELP)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Macro-F1 (%) per language of a sentiment backend on a split of the XLM-T data.

    Example: veille eval sentiment --split val
    """
    from processors.enrich.sentiment import get_backend
    from processors.enrich.train import evaluate

    if split not in ("train", "val"):
        raise typer.BadParameter("split must be train or val", param_hint="--split")
    with errors(FileNotFoundError, ValueError, NotImplementedError):
        backend = get_backend(sentiment)  # type: ignore[arg-type]
        backend.load()
        scores = evaluate(backend, data, split)  # type: ignore[arg-type]
    if json_out:
        print(json.dumps(scores))
        return
    table = Table(
        "language", "macro-F1 %", title=f"sentiment {sentiment} on {split}", title_justify="left"
    )
    for lang, f1 in scores.items():
        table.add_row(lang, f"{f1:.1f}")
    out_console().print(table)
