"""The `fast` sentiment backend: hashed n-grams and a linear model, numpy only.

A linear model over TF-IDF weighted hashed word 1-2-grams and character 2-5-grams (plus a copy
of every feature per language), softmax-normalised. Its weights come from one-vs-rest logistic
regressions on NB log-count-ratio scaled features (NBSVM-style), trained on the XLM-T tweet
sentiment train split of eight languages; `veille train sentiment` (`processors.enrich.training`)
reproduces it. Val macro-F1 59.4 (mean of 8 languages). Scoring is numpy only, about 45,000
posts/s on one core in batches of 500 (`veille bench enrich`, stage `sentiment_fast`). Its model
file, `weights/sentiment-fast.npz` (4 MB), ships with the package.

It keeps the `SentimentBackend` contract of `base.py`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from processors.enrich.linear import LinearModel, ModelFileError
from processors.enrich.sentiment.base import LABELS, WEIGHTS_DIR, SentimentBackend

__all__ = ["DEFAULT_FAST_MODEL", "FastSentiment"]

logger = logging.getLogger(__name__)

DEFAULT_FAST_MODEL = WEIGHTS_DIR / "sentiment-fast.npz"


class FastSentiment(SentimentBackend[LinearModel]):
    """The `fast` backend (see the module docstring).

    Once loaded, `predict` may be called from several threads.
    """

    name = "fast"

    def __init__(self, model_path: Path | None = None) -> None:
        """`model_path` defaults to the shipped `weights/sentiment-fast.npz`; nothing is read."""
        self.model_path = model_path or DEFAULT_FAST_MODEL

    @classmethod
    def from_model(cls, model: LinearModel, model_path: Path | None = None) -> FastSentiment:
        """A backend around an already loaded (or just trained) model."""
        backend = cls(model_path)
        backend._model = model
        return backend

    def _load(self) -> LinearModel:
        model = LinearModel.load(self.model_path)
        if model.labels != LABELS:
            raise ModelFileError(f"{self.model_path}: labels {model.labels}, expected {LABELS}")
        return model

    def _source(self) -> str:
        return f"path={self.model_path}"

    def _proba(self, model: LinearModel, texts: list[str], langs: list[str]) -> np.ndarray:
        return model.probabilities(texts, langs)
