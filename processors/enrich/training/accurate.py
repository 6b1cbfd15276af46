"""Training the `accurate` sentiment model's stacked classifier on the XLM-T data.

`train_accurate(data_dir, out)` stacks e5 embeddings of every tweet (cached under `cache_dir`,
by default a folder in the system temporary directory, never in the repository) and
out-of-fold log-probabilities of fast models refitted on `folds` parts of the data with the
shipped fast model's settings (at run time the shipped fast model itself scores). Fitted on
train, val picks C among `c_grid` and sets the temperature and gives the validation figures;
the shipped model is then refitted on train+val with them (`fit_on`). Same data, seed, encoder
and scikit-learn version: same weights. Needs the `train` extra (scikit-learn, scipy).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from processors.enrich.features import HashingFeaturizer
from processors.enrich.linear import LinearModel
from processors.enrich.sentiment import DEFAULT_FAST_MODEL, LABELS, FastSentiment
from processors.enrich.sentiment.accurate import (
    DEFAULT_ACCURATE_MODEL,
    AccurateModel,
    E5Encoder,
    Encoder,
    file_digest,
)
from processors.enrich.training.data import SplitData, default_data_dir, load_split
from processors.enrich.training.evaluate import split_scores
from processors.enrich.training.fast import FAST_C_GRID
from processors.enrich.training.fit import (
    NB_ALPHA,
    fit_multinomial,
    fit_nblr,
    fit_temperature,
    tfidf,
)

logger = logging.getLogger(__name__)

ACCURATE_C_GRID: tuple[float, ...] = (0.03,)
"""C of the accurate model's stacked regression, chosen on val among 0.003, 0.01, 0.03, 0.1
and 0.3 (64.0 to 64.3 mean val macro-F1: flat)."""


def default_cache_dir() -> Path:
    """Where training caches embeddings: `$VEILLE_CACHE_DIR`, else `<tmp>/veille-embeddings`."""
    env = os.environ.get("VEILLE_CACHE_DIR")
    return Path(env) if env else Path(tempfile.gettempdir()) / "veille-embeddings"


def embed_cached(
    encoder: Encoder, texts: Sequence[str], cache_dir: Path | None
) -> npt.NDArray[np.float32]:
    """`encoder.embed(texts)`, read from / written to `cache_dir` (keyed by encoder and texts).

    A cache file that cannot be read is recomputed; `cache_dir=None` disables the cache.
    """
    if cache_dir is None:
        return encoder.embed(texts)
    digest = hashlib.sha256("\x1e".join([encoder.name, *texts]).encode("utf-8", "replace"))
    path = cache_dir / f"{digest.hexdigest()[:24]}.npy"
    try:
        cached: npt.NDArray[np.float32] = np.load(path, allow_pickle=False)
        if cached.shape[0] == len(texts):
            logger.info("embeddings from cache path=%s rows=%d", path, len(texts))
            return cached
    except (OSError, ValueError):
        pass
    started = time.perf_counter()
    embeddings = encoder.embed(texts)
    elapsed = time.perf_counter() - started
    logger.info(
        "embedded rows=%d elapsed_s=%.1f posts_per_s=%.1f",
        len(texts),
        elapsed,
        len(texts) / max(elapsed, 1e-9),
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, embeddings)
    tmp.replace(path)
    return embeddings


def _oof_fast_log_probs(
    train: SplitData, fast: LinearModel, folds: int, seed: int
) -> npt.NDArray[np.float64]:
    """Out-of-fold fast-model log-probabilities of the train split (stacking features).

    Each fold is scored by an NB-LR refitted on the other folds with the fast model's feature
    configuration, C and NB smoothing, its logits divided by the fast model's temperature: what
    the shipped fast model would say of tweets it has not seen.
    """
    featurizer = HashingFeaturizer(fast.config)
    c = float(fast.meta.get("C", FAST_C_GRID[0]))
    alpha = float(fast.meta.get("nb_alpha", NB_ALPHA))
    temperature = float(fast.meta.get("temperature", 1.0))
    fold = np.random.default_rng(seed).permutation(len(train.texts)) % folds
    logits = np.zeros((len(train.texts), len(LABELS)))
    for f in range(folds):
        fit_rows, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        matrix, idf = tfidf(
            featurizer.counts(
                [train.texts[i] for i in fit_rows], [train.langs[i] for i in fit_rows]
            )
        )
        coef, intercept = fit_nblr(matrix, train.labels[fit_rows], c, seed, alpha)
        held_matrix, _ = tfidf(
            featurizer.counts([train.texts[i] for i in held], [train.langs[i] for i in held]), idf
        )
        logits[held] = held_matrix @ coef + intercept
        logger.info("fast out-of-fold fold=%d/%d rows=%d", f + 1, folds, len(held))
    logits /= temperature
    logits -= logits.max(axis=1, keepdims=True)
    result: npt.NDArray[np.float64] = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return result


def _stack_model(
    embeddings: npt.NDArray[np.float32],
    fast_log_probs: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    c: float,
    seed: int,
    encoder: str,
    meta: dict[str, Any],
) -> AccurateModel:
    """The stacked regression fitted on these rows (embeddings standardised on them too)."""
    mean = embeddings.mean(axis=0)
    scale = embeddings.std(axis=0) + 1e-6
    n_features = embeddings.shape[1] + len(LABELS)
    zeros = np.zeros((n_features, len(LABELS)), dtype=np.float32)
    blank = AccurateModel(LABELS, mean, scale, zeros, zeros[0], encoder)
    coef, intercept = fit_multinomial(blank.features(embeddings, fast_log_probs), labels, c, seed)
    return AccurateModel(LABELS, mean, scale, coef, intercept, encoder, dict(meta))


def train_accurate(
    data_dir: Path | None = None,
    out: Path = DEFAULT_ACCURATE_MODEL,
    seed: int = 0,
    *,
    c_grid: Sequence[float] = ACCURATE_C_GRID,
    fit_on: Literal["train", "train+val"] = "train+val",
    fast_model: Path = DEFAULT_FAST_MODEL,
    encoder: Encoder | None = None,
    cache_dir: Path | None = None,
    folds: int = 5,
) -> dict[str, Any]:
    """Train the `accurate` model's stacked classifier and write it to `out`.

    First on the train split alone: with several values in `c_grid` the best mean val macro-F1
    wins, then the softmax temperature is set on val; those val scores are the validation
    figures. With `fit_on="train+val"` (the shipped model) the regression is then refitted on
    train and val together with that C and temperature, so the file's own val scores are no
    validation figures (its metadata keeps the train-only ones). The fast model at `fast_model`
    is the one the backend stacks on at run time (its digest is recorded).

    Returns `{"path", "fit_on", "C", "temperature", "val", "val_by_c", "train_s",
    "size_bytes", "n_fit", "seed", "encoder"}`, `val` being the train-only model's scores.
    Raises ImportError without scikit-learn/scipy, FileNotFoundError without the data,
    ModelFileError without the fast model or the encoder.
    """
    data_dir = data_dir or default_data_dir()
    cache_dir = cache_dir or default_cache_dir()
    encoder = encoder or E5Encoder()
    started = time.perf_counter()
    train = load_split(data_dir, "train")
    val = load_split(data_dir, "val")
    fast = FastSentiment(fast_model)
    fast.load()
    train_lp = _oof_fast_log_probs(train, fast.model, folds, seed)
    val_lp = np.log(np.maximum(fast.predict_proba(val.texts, val.langs), 1e-12))
    train_emb = embed_cached(encoder, train.texts, cache_dir)
    val_emb = embed_cached(encoder, val.texts, cache_dir)
    meta: dict[str, Any] = {
        "trainer": "sklearn.LogisticRegression/multinomial",
        "seed": seed,
        "folds": folds,
        "fast_model_sha256": file_digest(fast_model),
        "encoder_version": getattr(encoder, "version", None),
    }
    results: dict[float, tuple[dict[str, float], AccurateModel]] = {}
    for c in c_grid:
        model = _stack_model(train_emb, train_lp, train.labels, c, seed, encoder.name, meta)
        results[c] = (split_scores(val, model.logits(val_emb, val_lp).argmax(axis=1)), model)
        logger.info("fit accurate C=%s val_mean=%.2f", c, results[c][0]["mean"])
    best_c = max(results, key=lambda c: results[c][0]["mean"])
    scores, model = results[best_c]
    temperature = fit_temperature(model.logits(val_emb, val_lp), val.labels)
    n_fit = len(train.texts)
    if fit_on == "train+val":
        both = SplitData(
            train.texts + val.texts,
            np.concatenate([train.labels, val.labels]),
            train.langs + val.langs,
        )
        model = _stack_model(
            np.concatenate([train_emb, val_emb]),
            _oof_fast_log_probs(both, fast.model, folds, seed),
            both.labels,
            best_c,
            seed,
            encoder.name,
            meta,
        )
        n_fit = len(both.texts)
    model.coef /= temperature
    model.intercept /= temperature
    model.meta.update(
        {
            "C": best_c,
            "data": f"xlmt {fit_on}",
            "n_fit": n_fit,
            "temperature": round(temperature, 4),
            "val_macro_f1": {k: round(v, 2) for k, v in scores.items()},
            "val_macro_f1_of": "the same recipe fitted on the train split only",
        }
    )
    model.save(out)
    return {
        "path": str(out),
        "fit_on": fit_on,
        "C": best_c,
        "temperature": temperature,
        "val": scores,
        "val_by_c": {c: results[c][0]["mean"] for c in results},
        "train_s": round(time.perf_counter() - started, 1),
        "size_bytes": out.stat().st_size,
        "n_fit": n_fit,
        "seed": seed,
        "encoder": encoder.name,
    }
