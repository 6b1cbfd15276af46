"""Training and evaluation of the sentiment models on the XLM-T tweet sentiment splits.

- `default_data_dir()` finds the data: `$VEILLE_XLMT_DIR` when set, else `<repo>/../shared/data/
  xlmt`. The folder holds one sub-folder per language (`arabic`, `english`, ...) with
  `{train,val}_{text,labels}.txt`, one tweet (or label 0/1/2) a line.
- `load_split(data_dir, split)` reads one split of every language present, undoing the dataset's
  own escaping (literal `\\uXXXX`, CSV-doubled quotes); raises `FileNotFoundError` when the folder
  has no language, `ValueError` when texts and labels do not pair up.
- `train_fast(data_dir, out)` trains the `fast` model on the train split only (the val split
  picks C among `c_grid` and sets the softmax temperature), writes the model file to `out` and
  returns a summary with the val scores. Same data, seed and scikit-learn version: same weights.
  It needs the `train` extra (scikit-learn, scipy), imported inside the function; scoring never
  needs them.
- `train_accurate(data_dir, out)` trains the `accurate` model's stacked classifier: e5
  embeddings of every tweet (cached under `cache_dir`, by default a folder in the system
  temporary directory, never in the repository) plus out-of-fold log-probabilities of fast
  models refitted on `folds` parts of the data with the shipped fast model's settings (at run
  time the shipped fast model itself scores). Fitted on train, val picks C among `c_grid` and
  sets the temperature and gives the validation figures; the shipped model is then refitted
  on train+val with them (`fit_on`). Same data, seed, encoder and scikit-learn version: same
  weights.
- `evaluate(backend, data_dir, split)` returns macro-F1 in % per language (ISO 639-1 code) and
  their unweighted `mean`, computed here with numpy.
- `evaluate_language(detector, data_dir, split)` returns the language detector's accuracy in %
  per language (the folder's language is the truth) and its throughput.

`python -m processors.enrich.train {fit,eval,bench,lang} [--backend fast|accurate]` runs them
from a shell.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .features import FeatureConfig, HashingFeaturizer, SparseCounts
from .language import LanguageDetector
from .linear import LinearModel, term_values
from .sentiment import DEFAULT_FAST_MODEL, LABELS, FastSentiment, SentimentBackend
from .sentiment.accurate import (
    DEFAULT_ACCURATE_MODEL,
    AccurateModel,
    AccurateSentiment,
    E5Encoder,
    Encoder,
    file_digest,
)

__all__ = [
    "FOLDER_LANGS",
    "Split",
    "SplitData",
    "default_data_dir",
    "evaluate",
    "evaluate_language",
    "load_split",
    "macro_f1",
    "train_accurate",
    "train_fast",
]

logger = logging.getLogger(__name__)

Split = Literal["train", "val"]

FOLDER_LANGS = {
    "arabic": "ar",
    "english": "en",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
    "portuguese": "pt",
    "spanish": "es",
}
"""The dataset's folder names and their ISO 639-1 codes (hindi is mostly romanised Hinglish)."""

FAST_C_GRID: tuple[float, ...] = (5.0,)
"""C of the shipped model (NB-LR), chosen on val among 1, 3, 5 and 10."""
NB_ALPHA = 1.0
"""Smoothing of the NB log-count ratios, chosen on val among 0.25, 1 and 4."""
ACCURATE_C_GRID: tuple[float, ...] = (0.03,)
"""C of the accurate model's stacked regression, chosen on val among 0.003, 0.01, 0.03, 0.1
and 0.3 (64.0 to 64.3 mean val macro-F1: flat)."""

_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})")


def default_data_dir() -> Path:
    """`$VEILLE_XLMT_DIR`, else the `xlmt` folder at `<repo root>/../shared/data/xlmt`."""
    env = os.environ.get("VEILLE_XLMT_DIR")
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "data" / "xlmt"


@dataclass(frozen=True)
class SplitData:
    """One split of every language: parallel lists, labels as 0/1/2 (negative/neutral/positive)."""

    texts: list[str]
    labels: npt.NDArray[np.int64]
    langs: list[str]


def _unescape(line: str) -> str:
    line = _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), line)
    stripped = line.strip()
    if len(stripped) > 1 and stripped.startswith('"') and stripped.endswith('"'):
        line = stripped[1:-1].replace('""', '"')
    return line


def load_split(data_dir: Path, split: Split) -> SplitData:
    """Every language of `split` under `data_dir`, languages in folder-name order."""
    texts: list[str] = []
    labels: list[int] = []
    langs: list[str] = []
    folders = (
        sorted(p for p in data_dir.iterdir() if p.name in FOLDER_LANGS) if data_dir.is_dir() else []
    )
    if not folders:
        raise FileNotFoundError(f"no XLM-T language folder under {data_dir}")
    for folder in folders:
        lines = (folder / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
        values = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()
        if lines and lines[-1] == "" and len(lines) == len(values) + 1:
            lines.pop()
        if len(lines) != len(values):
            raise ValueError(f"{folder}: {len(lines)} {split} texts but {len(values)} labels")
        texts += [_unescape(line) for line in lines]
        labels += [int(v) for v in values]
        langs += [FOLDER_LANGS[folder.name]] * len(values)
    return SplitData(texts, np.array(labels, dtype=np.int64), langs)


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
    return _scores(data, np.array(predicted, dtype=np.int64))


def _scores(data: SplitData, predicted: npt.NDArray[np.int64]) -> dict[str, float]:
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


def _fit_multinomial(
    matrix: Any, labels: npt.NDArray[np.int64], c: float, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=5000, tol=1e-5, random_state=seed)
    clf.fit(matrix, labels)
    return clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float32)


def _fit_nblr(
    matrix: Any, labels: npt.NDArray[np.int64], c: float, seed: int, alpha: float = NB_ALPHA
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """One-vs-rest logistic regressions on NB log-count-ratio scaled features (NBSVM-style).

    Class k's model sees `x * r_k`, so its weights on `x` are `w_k * r_k`: the result is an
    ordinary linear model over `x`, scored like any other.
    """
    from scipy.sparse import diags
    from sklearn.linear_model import LogisticRegression

    present = matrix.copy()
    present.data[:] = 1.0
    coefs, intercepts = [], []
    for k in range(len(LABELS)):
        pos = alpha + np.asarray(present[labels == k].sum(axis=0)).ravel()
        neg = alpha + np.asarray(present[labels != k].sum(axis=0)).ravel()
        ratio = np.log((pos / pos.sum()) / (neg / neg.sum()))
        clf = LogisticRegression(C=c, max_iter=5000, tol=1e-5, random_state=seed)
        clf.fit(matrix @ diags(ratio), (labels == k).astype(np.int64))
        coefs.append(clf.coef_.ravel() * ratio)
        intercepts.append(clf.intercept_[0])
    return np.stack(coefs, axis=1).astype(np.float32), np.array(intercepts, dtype=np.float32)


def _temperature(logits: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> float:
    """The softmax temperature that minimises the log-loss of `logits` (a grid search)."""

    def log_loss(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(labels)), labels].mean())

    return min((float(t) for t in np.geomspace(0.05, 20.0, 121)), key=log_loss)


def _tfidf(
    counts: SparseCounts, idf: npt.NDArray[np.float32] | None = None
) -> tuple[Any, npt.NDArray[np.float32]]:
    """The TF-IDF CSR matrix of `counts` and its IDF (smoothed, computed here when not given)."""
    from scipy.sparse import csr_matrix

    if idf is None:
        doc_freq = np.bincount(counts.indices, minlength=counts.n_features)
        idf = (np.log((1.0 + counts.n_rows) / (1.0 + doc_freq)) + 1.0).astype(np.float32)
    matrix = csr_matrix(
        (term_values(counts, idf), counts.indices, counts.indptr),
        shape=(counts.n_rows, counts.n_features),
    )
    return matrix, idf


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
    fit = _fit_nblr if method == "nblr" else _fit_multinomial
    started = time.perf_counter()
    train = load_split(data_dir, "train")
    val = load_split(data_dir, "val")
    featurizer = HashingFeaturizer(config)
    matrix, idf = _tfidf(featurizer.counts(train.texts, train.langs))
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
    temperature = _temperature(model.logits(featurizer.counts(val.texts, val.langs)), val.labels)
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
        matrix, idf = _tfidf(
            featurizer.counts(
                [train.texts[i] for i in fit_rows], [train.langs[i] for i in fit_rows]
            )
        )
        coef, intercept = _fit_nblr(matrix, train.labels[fit_rows], c, seed, alpha)
        held_matrix, _ = _tfidf(
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
    coef, intercept = _fit_multinomial(blank.features(embeddings, fast_log_probs), labels, c, seed)
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
        results[c] = (_scores(val, model.logits(val_emb, val_lp).argmax(axis=1)), model)
        logger.info("fit accurate C=%s val_mean=%.2f", c, results[c][0]["mean"])
    best_c = max(results, key=lambda c: results[c][0]["mean"])
    scores, model = results[best_c]
    temperature = _temperature(model.logits(val_emb, val_lp), val.labels)
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


def bench(
    backend: SentimentBackend, data_dir: Path | None = None, batch_size: int = 500, rounds: int = 5
) -> dict[str, float]:
    """Posts per second of `backend.predict` on val tweets in batches of `batch_size`."""
    data = load_split(data_dir or default_data_dir(), "val")
    texts = (data.texts * (batch_size // len(data.texts) + 1))[:batch_size]
    langs = (data.langs * (batch_size // len(data.langs) + 1))[:batch_size]
    backend.load()
    backend.predict(texts, langs)  # warm-up
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        backend.predict(texts, langs)
        timings.append(time.perf_counter() - started)
    best, median = min(timings), float(np.median(timings))
    return {
        "batch": batch_size,
        "posts_per_s_best": batch_size / best,
        "posts_per_s_median": batch_size / median,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """`fit` trains a sentiment model, `eval` prints its macro-F1, `bench` its throughput (for
    `--backend fast` or `accurate`), `lang` the language detector's accuracy and throughput;
    JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m processors.enrich.train")
    parser.add_argument("command", choices=["fit", "eval", "bench", "lang"])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--backend", choices=["fast", "accurate"], default="fast")
    parser.add_argument("--out", type=Path, default=None, help="model file [default: shipped]")
    parser.add_argument("--split", choices=["train", "val"], default="val")
    parser.add_argument("--c", type=float, nargs="*", default=None)
    parser.add_argument("--cache-dir", type=Path, default=None, help="accurate: embedding cache")
    parser.add_argument("--fit-on", choices=["train", "train+val"], default="train+val")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preferred", default="", help="lang: preferred languages, a,b,c")
    parser.add_argument("--method", choices=["nblr", "multinomial"], default="nblr")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    result: dict[str, Any]
    accurate = args.backend == "accurate"
    out = args.out or (DEFAULT_ACCURATE_MODEL if accurate else DEFAULT_FAST_MODEL)
    backend: SentimentBackend = AccurateSentiment(out) if accurate else FastSentiment(out)
    if args.command == "fit" and accurate:
        result = train_accurate(
            args.data_dir,
            out,
            args.seed,
            c_grid=args.c or ACCURATE_C_GRID,
            fit_on=args.fit_on,
            cache_dir=args.cache_dir,
        )
    elif args.command == "fit":
        result = train_fast(
            args.data_dir, out, args.seed, c_grid=args.c or FAST_C_GRID, method=args.method
        )
    elif args.command == "eval":
        result = evaluate(backend, args.data_dir, args.split)
    elif args.command == "bench":
        result = bench(backend, args.data_dir, args.batch)
    else:
        preferred = [code for code in args.preferred.split(",") if code]
        result = evaluate_language(LanguageDetector(preferred), args.data_dir, args.split)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
