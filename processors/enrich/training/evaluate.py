"""Measuring the models on a split of the XLM-T data (validation figures: the val split).

`evaluate(backend, data_dir, split)` returns a sentiment backend's macro-F1 in % per language
(ISO 639-1 code) and their unweighted `mean`, computed here with numpy; `evaluate_language(
detector, data_dir, split)` the language detector's accuracy in % per language (the folder's
language is the truth) and its throughput. Both raise what `load_split` raises.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from processors.enrich.language import LanguageDetector
from processors.enrich.sentiment import LABELS, SentimentBackend
from processors.enrich.training.data import Split, SplitData, default_data_dir, load_split


def macro_f1(
    truth: npt.NDArray[np.int64], predicted: npt.NDArray[np.int64], n_classes: int = 3
) -> float:
    """Unweighted mean of the per-class F1 scores, in % (a class never seen nor predicted is 0)."""
    scores = []
    for k in range(n_classes):
        tp = float(np.sum((predicted == k) & (truth == k)))
        fp = float(np.sum((predicted == k) & (truth != k)))
        fn = float(np.sum((predicted != k) & (truth == k)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return 100.0 * float(np.mean(scores))


def evaluate(
    backend: SentimentBackend,
    data_dir: Path | None = None,
    split: Split = "val",
    *,
    batch_size: int = 500,
) -> dict[str, float]:
    """Macro-F1 (%) of `backend` per language of `split` and their `mean`.

    The backend is given each tweet's language from the dataset (its folder).
    """
    data = load_split(data_dir or default_data_dir(), split)
    index = {label: k for k, label in enumerate(LABELS)}
    predicted: list[int] = []
    for start in range(0, len(data.texts), batch_size):
        results = backend.predict(
            data.texts[start : start + batch_size], data.langs[start : start + batch_size]
        )
        predicted += [index[r.label] for r in results]
    return split_scores(data, np.array(predicted, dtype=np.int64))


def split_scores(data: SplitData, predicted: npt.NDArray[np.int64]) -> dict[str, float]:
    """Macro-F1 (%) of `predicted` per language of `data` and their unweighted `mean`."""
    langs = np.array(data.langs)
    scores = {
        lang: macro_f1(data.labels[langs == lang], predicted[langs == lang])
        for lang in dict.fromkeys(data.langs)
    }
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores


def evaluate_language(
    detector: LanguageDetector, data_dir: Path | None = None, split: Split = "val"
) -> dict[str, float]:
    """Accuracy (%) of `detector` per language of `split` (no X tags given), `mean` (without
    Hindi, whose tweets are romanised and so not told apart from English by any script-based
    detector) and `posts_per_s` (one core, whole split in one `detect_batch`)."""
    data = load_split(data_dir or default_data_dir(), split)
    detector.load()
    started = time.perf_counter()
    found = detector.detect_batch(data.texts, [None] * len(data.texts))
    elapsed = time.perf_counter() - started
    hits = np.array(found) == np.array(data.langs)
    langs = np.array(data.langs)
    scores = {lang: 100.0 * float(hits[langs == lang].mean()) for lang in dict.fromkeys(data.langs)}
    scores["mean"] = float(np.mean([v for k, v in scores.items() if k != "hi"]))
    scores["posts_per_s"] = len(data.texts) / elapsed
    return scores
