"""Sentiment of posts: one contract, several backends chosen by name.

- `base`: the contract every backend keeps (`SentimentBackend`) and its result type.
- `registry`: the backends by name (`get_backend`, `BACKEND_NAMES`).
- `fast`, `accurate`, `transformer`: one backend each.

The names most callers need are re-exported here.
"""

from processors.enrich.sentiment.accurate import DEFAULT_ACCURATE_MODEL, AccurateSentiment
from processors.enrich.sentiment.base import (
    LABELS,
    ModelFileError,
    SentimentBackend,
    SentimentLabel,
    SentimentResult,
)
from processors.enrich.sentiment.fast import DEFAULT_FAST_MODEL, FastSentiment
from processors.enrich.sentiment.registry import (
    BACKEND_NAMES,
    BackendName,
    get_backend,
)
from processors.enrich.sentiment.transformer import TransformerSentiment

__all__ = [
    "BACKEND_NAMES",
    "DEFAULT_ACCURATE_MODEL",
    "DEFAULT_FAST_MODEL",
    "LABELS",
    "AccurateSentiment",
    "BackendName",
    "FastSentiment",
    "ModelFileError",
    "SentimentBackend",
    "SentimentLabel",
    "SentimentResult",
    "TransformerSentiment",
    "get_backend",
]
