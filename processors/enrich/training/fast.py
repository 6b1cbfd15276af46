"""Training the `fast` sentiment model (hashed n-grams, NB-LR) on the XLM-T train split.

`train_fast(data_dir, out)` fits on the train split only (the val split picks C among `c_grid`
and sets the softmax temperature), writes the model file to `out` and returns a summary with
the val scores. Same data, seed and scikit-learn version: same weights. It needs the `train`
extra (scikit-learn, scipy); scoring never does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from processors.enrich.features import FeatureConfig, HashingFeaturizer
from processors.enrich.linear import LinearModel
from processors.enrich.sentiment import DEFAULT_FAST_MODEL, LABELS, FastSentiment
from processors.enrich.training.data import default_data_dir, load_split
from processors.enrich.training.evaluate import evaluate
from processors.enrich.training.fit import (
    NB_ALPHA,
    fit_multinomial,
    fit_nblr,
    fit_temperature,
    tfidf,
)

logger = logging.getLogger(__name__)

FAST_C_GRID: tuple[float, ...] = (5.0,)
"""C of the shipped model (NB-LR), chosen on val among 1, 3, 5 and 10."""


def train_fast(
    data_dir: Path | None = None,
    out: Path = DEFAULT_FAST_MODEL,
    seed: int = 0,
    *,
    config: FeatureConfig | None = None,
    c_grid: Sequence[float] = FAST_C_GRID,
    method: Literal["nblr", "multinomial"] = "nblr",
) -> dict[str, Any]:
    """Train the `fast` sentiment model on the train split and write it to `out`.

    `method`: `nblr` (default) fits one-vs-rest logistic regressions on NB-scaled features;
    `multinomial` one softmax regression. With several values in `c_grid`, each is fitted and
    the best mean val macro-F1 wins; the softmax temperature is then set on val (log-loss) so
    that confidences are calibrated (labels do not change). Returns `{"path", "method", "C",
    "temperature", "val", "val_by_c", "train_s", "size_bytes", "n_train", "seed"}`. Raises
    ImportError without scikit-learn/scipy, FileNotFoundError without the data.
    """
    data_dir = data_dir or default_data_dir()
    config = config or FeatureConfig()
    fit = fit_nblr if method == "nblr" else fit_multinomial
    started = time.perf_counter()
    train = load_split(data_dir, "train")
    val = load_split(data_dir, "val")
    featurizer = HashingFeaturizer(config)
    matrix, idf = tfidf(featurizer.counts(train.texts, train.langs))
    n_docs = matrix.shape[0]
    results: dict[float, tuple[dict[str, float], LinearModel]] = {}
    for c in c_grid:
        coef, intercept = fit(matrix, train.labels, c, seed)
        meta = {
            "trainer": f"sklearn.LogisticRegression/{method}",
            "C": c,
            "seed": seed,
            "data": "xlmt train",
            "n_train": n_docs,
        }
        if method == "nblr":
            meta["nb_alpha"] = NB_ALPHA
        model = LinearModel(config, LABELS, coef, intercept, idf, meta)
        results[c] = (evaluate(FastSentiment.from_model(model), data_dir, "val"), model)
        logger.info("fit method=%s C=%s val_mean=%.2f", method, c, results[c][0]["mean"])
    best_c = max(results, key=lambda c: results[c][0]["mean"])
    scores, model = results[best_c]
    temperature = fit_temperature(model.logits(featurizer.counts(val.texts, val.langs)), val.labels)
    model.coef /= temperature
    model.intercept /= temperature
    model.meta["temperature"] = round(temperature, 4)
    model.meta["val_macro_f1"] = {k: round(v, 2) for k, v in scores.items()}
    model.save(out)
    return {
        "path": str(out),
        "method": method,
        "C": best_c,
        "temperature": temperature,
        "val": scores,
        "val_by_c": {c: results[c][0]["mean"] for c in results},
        "train_s": round(time.perf_counter() - started, 1),
        "size_bytes": out.stat().st_size,
        "n_train": n_docs,
        "seed": seed,
    }
