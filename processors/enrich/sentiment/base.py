"""The contract every sentiment backend keeps, and its result type.

Contract (`SentimentBackend`, an abstract class every backend derives from):

- `load()` prepares the backend (reads its model files); it is idempotent and is also done on
  the first `predict()` (or the first use of `model`) when not called. It raises
  `ModelFileError` when a model file or folder is missing or unreadable, or when a package the
  backend needs is not installed: a deployment problem that retrying does not heal.
- `predict(texts, langs)` scores a batch and returns one `SentimentResult` per text, in input
  order. `langs[i]` is the post's ISO 639-1 code from language detection (`und` when unknown; an
  unknown or unexpected code is fine, it only loses the language-specific features). Empty or
  odd texts never raise; `ValueError` is raised only when the two sequences differ in length.
- `predict_proba(texts, langs)` is the same batch as an `(n, 3)` array of the probabilities of
  negative, neutral and positive (`LABELS` order), rows summing to 1.
- `SentimentResult.label` is the most probable class, `confidence` its probability and `score`
  the polarity `P(positive) - P(negative)`, in [-1, 1].

A backend implements `_load()` (read its files, return the loaded model), `_source()` (where
from, for the log) and `_proba()` (the probabilities of a non-empty, checked batch); the batch
checks, the empty batch, the results and the once-only, logged loading are done here, once for
all backends.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Generic, Literal, NamedTuple, TypeVar, get_args

import numpy as np

from processors.enrich.linear import ModelFileError

__all__ = [
    "LABELS",
    "WEIGHTS_DIR",
    "ModelFileError",
    "SentimentBackend",
    "SentimentLabel",
    "SentimentResult",
]

logger = logging.getLogger(__name__)

SentimentLabel = Literal["negative", "neutral", "positive"]
LABELS: tuple[SentimentLabel, ...] = get_args(SentimentLabel)

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
"""Where the shipped model files of the backends are (`processors/enrich/weights/`)."""

ModelT = TypeVar("ModelT")


class SentimentResult(NamedTuple):
    """Sentiment of one post (a named tuple: made by the thousand per batch, a tenth of a frozen
    dataclass's cost)."""

    label: SentimentLabel
    score: float
    """Polarity, P(positive) - P(negative), in [-1, 1]."""
    confidence: float
    """Probability of `label`, in [1/3, 1]."""


class SentimentBackend(ABC, Generic[ModelT]):
    """What the enrichment needs from a sentiment model (see the module docstring).

    `ModelT` is what the backend's `_load()` returns and `model` gives back.
    """

    name: ClassVar[str]
    _model: ModelT | None = None

    @abstractmethod
    def _load(self) -> ModelT:
        """Read the model files and return the loaded model; raises ModelFileError."""

    @abstractmethod
    def _source(self) -> str:
        """Where the model is read from, as `key=value` pairs for the log line of a load."""

    @abstractmethod
    def _proba(self, model: ModelT, texts: list[str], langs: list[str]) -> np.ndarray:
        """`(n, 3)` probabilities of a non-empty batch whose lengths were checked."""

    def load(self) -> None:
        """Load the model once (later calls do nothing); raises ModelFileError."""
        if self._model is not None:
            return
        started = time.perf_counter()
        self._model = self._load()
        logger.info(
            "sentiment model loaded backend=%s %s elapsed_s=%.2f",
            self.name,
            self._source(),
            time.perf_counter() - started,
        )

    @property
    def model(self) -> ModelT:
        """The loaded model (loading it if needed)."""
        if self._model is None:
            self.load()
        assert self._model is not None
        return self._model

    def predict_proba(self, texts: Sequence[str], langs: Sequence[str]) -> np.ndarray:
        """`(n, 3)` probabilities of negative, neutral, positive, rows in input order."""
        if len(texts) != len(langs):
            raise ValueError(f"{len(texts)} texts but {len(langs)} langs")
        if not texts:
            return np.zeros((0, len(LABELS)))
        return self._proba(self.model, list(texts), list(langs))

    def predict(self, texts: Sequence[str], langs: Sequence[str]) -> list[SentimentResult]:
        """One `SentimentResult` per text, in order (see the module docstring)."""
        probs = self.predict_proba(texts, langs)
        best = probs.argmax(axis=1)
        polarity = np.clip(probs[:, 2] - probs[:, 0], -1.0, 1.0)
        return [
            SentimentResult(LABELS[k], s, row[k])
            for k, s, row in zip(best.tolist(), polarity.tolist(), probs.tolist(), strict=True)
        ]
