"""`veille train sentiment`, `veille eval sentiment|language`: reproduce and measure the models.

Training and tuning use only the train and validation splits of the XLM-T data (`--data DIR`,
else `VEILLE_XLMT_DIR`, else `../shared/data/xlmt` beside the repository: the `data/sentiment`
folder of github.com/cardiffnlp/xlm-t); figures are validation figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipeline.cli.common import errors, fail, out_console, settings, watch_config

train_app = typer.Typer(
    no_args_is_help=True, help="Train the shipped models (needs veille[train])."
)
eval_app = typer.Typer(no_args_is_help=True, help="Measure the models on labelled data.")

DATA_HELP = (
    "XLM-T data folder: one sub-folder per language (english/, french/, ...) holding "
    "{train,val}_{text,labels}.txt, as data/sentiment of github.com/cardiffnlp/xlm-t "
    "[default: VEILLE_XLMT_DIR, else ../shared/data/xlmt beside the repository]"
)
DataOpt = Annotated[Path | None, typer.Option("--data", metavar="DIR", help=DATA_HELP)]


def xlmt_dir(data: Path | None) -> Path:
    """The XLM-T folder to read: `data` (`--data`), else `VEILLE_XLMT_DIR`, else the default.

    Exits with code 1 and a message naming `--data` when that folder holds no language folder.
    """
    from processors.enrich.training import FOLDER_LANGS, default_data_dir, language_folders

    folder = data if data is not None else default_data_dir()
    if not language_folders(folder):
        where = "from --data" if data is not None else "no --data given"
        fail(
            f"no XLM-T data at {folder} ({where}): it needs one of the language folders "
            f"{', '.join(sorted(FOLDER_LANGS))}; pass --data DIR (or set VEILLE_XLMT_DIR) with "
            "DIR the data/sentiment folder of a clone of github.com/cardiffnlp/xlm-t "
            "(README.md, 'Training and evaluation data')",
            code=1,
        )
    return folder


@train_app.command("sentiment")
def train_sentiment(
    data: DataOpt = None,
    backend: Annotated[
        str, typer.Option(help="which model: fast (n-grams) or accurate (e5 + fast, stacked)")
    ] = "fast",
    out: Annotated[
        Path | None,
        typer.Option(
            help="model file to write [default: the shipped "
            "processors/enrich/weights/sentiment-<backend>.npz]"
        ),
    ] = None,
    c: Annotated[
        list[float] | None,
        typer.Option("--c", help="regularisation values to try (the best on val wins)"),
    ] = None,
    fit_on: Annotated[
        str,
        typer.Option(
            help="accurate only: train+val (the shipped model: refitted on both once tuned on "
            "val) or train (the model the validation figures are measured on)"
        ),
    ] = "train+val",
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="accurate only: embedding cache [default: VEILLE_CACHE_DIR, else "
            "<tmp>/veille-embeddings]"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Train a sentiment model on the train split (tuned on val) and write it.

    The accurate model embeds each tweet with e5 (some 7 min on two cores, then cached).

    Example: veille train sentiment --c 3 --c 5 --out /tmp/sentiment-fast.npz

    Example: veille train sentiment --backend accurate --fit-on train --out /tmp/acc.npz
    """
    from processors.enrich.linear import ModelFileError
    from processors.enrich.sentiment import DEFAULT_ACCURATE_MODEL, DEFAULT_FAST_MODEL
    from processors.enrich.training import (
        ACCURATE_C_GRID,
        FAST_C_GRID,
        train_accurate,
        train_fast,
    )

    if backend not in ("fast", "accurate"):
        raise typer.BadParameter("backend must be fast or accurate", param_hint="--backend")
    if fit_on not in ("train", "train+val") or (backend == "fast" and fit_on != "train+val"):
        raise typer.BadParameter(
            "train or train+val, and only for --backend accurate", param_hint="--fit-on"
        )
    data = xlmt_dir(data)
    with errors(FileNotFoundError, ImportError, ModelFileError):
        if backend == "accurate":
            report = train_accurate(
                data,
                out or DEFAULT_ACCURATE_MODEL,
                seed,
                c_grid=c or ACCURATE_C_GRID,
                fit_on=fit_on,  # type: ignore[arg-type]
                cache_dir=cache_dir,
            )
        else:
            report = train_fast(data, out or DEFAULT_FAST_MODEL, seed, c_grid=c or FAST_C_GRID)
    print(json.dumps(report, default=str))


@eval_app.command("sentiment")
def eval_sentiment(
    split: Annotated[str, typer.Option(help="train or val (there is no test split here)")] = "val",
    sentiment: Annotated[str, typer.Option(help="backend: fast|accurate|transformer")] = "fast",
    data: DataOpt = None,
    model: Annotated[
        Path | None,
        typer.Option(help="model file of that backend [default: the shipped one]"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Macro-F1 (%) per language of a sentiment backend on a split of the XLM-T data.

    The accurate backend embeds each tweet (about a minute for the val split on two cores).

    Example: veille eval sentiment --split val --sentiment accurate --model /tmp/acc.npz
    """
    from processors.enrich.linear import ModelFileError
    from processors.enrich.sentiment import (
        AccurateSentiment,
        FastSentiment,
        SentimentBackend,
        get_backend,
    )
    from processors.enrich.training import evaluate

    if split not in ("train", "val"):
        raise typer.BadParameter("split must be train or val", param_hint="--split")
    data = xlmt_dir(data)
    with errors(FileNotFoundError, ValueError, ModelFileError):
        backend: SentimentBackend = get_backend(sentiment)  # type: ignore[arg-type]
        if model is not None:
            backend = AccurateSentiment(model) if sentiment == "accurate" else FastSentiment(model)
        backend.load()
        scores = evaluate(backend, data, split)  # type: ignore[arg-type]
    meta = getattr(getattr(backend, "model", None), "meta", None) or {}
    fitted_on = str(meta.get("data", ""))
    if split in fitted_on.removeprefix("xlmt ").split("+"):
        typer.echo(
            f"note: this model was fitted on {fitted_on}: these are no validation figures "
            "(its model card in docs/models/ gives them)",
            err=True,
        )
    if json_out:
        print(json.dumps(scores))
        return
    table = Table(
        "language", "macro-F1 %", title=f"sentiment {sentiment} on {split}", title_justify="left"
    )
    for lang, f1 in scores.items():
        table.add_row(lang, f"{f1:.1f}")
    out_console().print(table)


@eval_app.command("language")
def eval_language(
    split: Annotated[str, typer.Option(help="train or val (there is no test split here)")] = "val",
    languages: Annotated[
        str | None,
        typer.Option(
            help="preferred languages, comma-separated, '' for none "
            "[default: those of the watch file, as `veille process` uses]"
        ),
    ] = None,
    watch: Annotated[Path | None, typer.Option(help="watch file [default: VEILLE_WATCH_FILE]")] = (
        None
    ),
    data: DataOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Accuracy (%) per language of the language detector on a split of the XLM-T data.

    The detector is not trained on these tweets, so either split is unseen data for it. No X
    `lang` tag is given. `mean` leaves out Hindi (romanised Hinglish, which no detector here
    recognises); `posts_per_s` is the whole split in one batch on one core.

    Example: veille eval language --split val --languages ''
    """
    from processors.enrich.language import LanguageDetector
    from processors.enrich.training import evaluate_language

    if split not in ("train", "val"):
        raise typer.BadParameter("split must be train or val", param_hint="--split")
    data = xlmt_dir(data)
    if languages is None:
        preferred: list[str] = list(watch_config(settings(watch=watch)).languages)
    else:
        preferred = [code.strip() for code in languages.split(",") if code.strip()]
    with errors(FileNotFoundError, ValueError):
        scores = evaluate_language(LanguageDetector(preferred), data, split)  # type: ignore[arg-type]
    if json_out:
        print(json.dumps({**scores, "preferred": preferred}))
        return
    table = Table(
        "language",
        "accuracy %",
        title=f"language on {split}",
        caption=f"preferred: {', '.join(preferred) or 'none'}",
        title_justify="left",
    )
    for lang, value in scores.items():
        if lang != "posts_per_s":
            table.add_row(lang, f"{value:.2f}")
    table.add_row("posts/s", f"{scores['posts_per_s']:,.0f}")
    out_console().print(table)
