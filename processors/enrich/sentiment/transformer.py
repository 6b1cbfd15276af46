"""The optional `transformer` sentiment backend: a local sequence-classification model, batched.

For users who have a fine-tuned transformer on disk, for example XLM-T's
`cardiffnlp/twitter-xlm-roberta-base-sentiment` (downloaded beforehand: nothing is fetched at
run time, `local_files_only=True`). It needs the `transformer` extra (`pip install
'veille[transformer]'`: transformers and PyTorch) and runs on the CPU or a GPU.

Its settings are constructor arguments, which the caller builds from its settings (the
`VEILLE_SENTIMENT_*` environment variables; `registry.get_backend` does it): `model_dir` (the
model folder, required; `VEILLE_SENTIMENT_MODEL_DIR`), `device` (`auto`: the first CUDA device
when there is one, else `cpu`; or any torch device name such as `cuda:1`;
`VEILLE_SENTIMENT_DEVICE`) and `batch_size` (posts per forward pass;
`VEILLE_SENTIMENT_BATCH_SIZE`).

Texts are prepared as XLM-T was trained: mentions become `@user`, links `http`. The model's
labels are read from its `config.id2label`: names starting with `neg`, `neu`, `pos` (any case),
or, for a three-label model with generic names (`LABEL_0`...), negative, neutral, positive in
that order, which is XLM-T's. Anything else is a clear `ModelFileError`.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from processors.enrich.linear import ModelFileError
from processors.enrich.sentiment.base import LABELS, SentimentBackend

__all__ = ["TransformerSentiment", "label_order"]

logger = logging.getLogger(__name__)

_MENTION_RE = re.compile(r"(?<!\w)@\w+")
_LINK_RE = re.compile(r"https?://\S+")
MAX_LENGTH = 128  # tokens: XLM-T's tweets fit; longer posts are truncated


def prepare(text: str) -> str:
    """A post as XLM-T saw its training tweets: `@user` for mentions, `http` for links."""
    return _LINK_RE.sub("http", _MENTION_RE.sub("@user", text))


def label_order(id2label: dict[int, str]) -> list[int]:
    """For each of LABELS (negative, neutral, positive), the model's output index.

    Raises ModelFileError when the model's labels cannot be mapped.
    """
    names = {int(i): str(name).strip().lower() for i, name in id2label.items()}
    order: list[int] = []
    for wanted in LABELS:
        found = [i for i, name in names.items() if name.startswith(wanted[:3])]
        if len(found) == 1:
            order.append(found[0])
    if len(order) == len(LABELS):
        return order
    if sorted(names) == [0, 1, 2] and all(n.startswith("label_") for n in names.values()):
        return [0, 1, 2]
    raise ModelFileError(
        f"cannot map the model's labels {sorted(names.values())} to negative, neutral, positive"
    )


class TransformerSentiment(SentimentBackend[Any]):
    """The `transformer` backend; `predict` runs the model in batches of `batch_size`.

    `model` is the loaded transformers model.
    """

    name = "transformer"

    def __init__(
        self, model_dir: Path | str | None = None, device: str = "auto", batch_size: int = 32
    ) -> None:
        """Stores the settings (see the module docstring); nothing is read yet."""
        self.model_dir = Path(model_dir) if model_dir else None
        self.device = device
        self.batch_size = batch_size
        self._tokenizer: Callable[..., Any] | None = None
        self._order: list[int] = []
        self._no_grad: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext

    @classmethod
    def from_parts(
        cls,
        tokenizer: Callable[..., Any],
        model: Any,
        *,
        batch_size: int = 32,
        no_grad: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    ) -> TransformerSentiment:
        """A backend around an already loaded tokenizer and model (the transformers API)."""
        backend = cls(model_dir="", device="cpu", batch_size=batch_size)
        backend._tokenizer, backend._model, backend._no_grad = tokenizer, model, no_grad
        backend._order = label_order(model.config.id2label)
        return backend

    def _load(self) -> Any:
        """Load tokenizer and model from local files only.

        Raises ModelFileError without a model folder, without the `transformer` extra, or when
        the folder holds no usable sequence-classification model.
        """
        if self.model_dir is None or not str(self.model_dir):
            raise ModelFileError(
                "the transformer sentiment backend needs a local model folder: set "
                "VEILLE_SENTIMENT_MODEL_DIR (for example XLM-T's "
                "cardiffnlp/twitter-xlm-roberta-base-sentiment, downloaded beforehand)"
            )
        if not self.model_dir.is_dir():
            raise ModelFileError(f"{self.model_dir}: no such model folder")
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as e:
            raise ModelFileError(
                f"the transformer sentiment backend needs `pip install 'veille[transformer]'` ({e})"
            ) from e
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                self.model_dir, local_files_only=True
            )
        except (OSError, ValueError, KeyError) as e:
            raise ModelFileError(f"{self.model_dir}: not a usable model folder ({e})") from e
        self._order = label_order(model.config.id2label)
        loaded = model.to(device).eval()
        self._tokenizer = tokenizer
        self._no_grad = torch.inference_mode
        self.device = device
        return loaded

    def _source(self) -> str:
        return f"path={self.model_dir} device={self.device}"

    def _proba(self, model: Any, texts: list[str], langs: list[str]) -> np.ndarray:
        assert self._tokenizer is not None
        device = getattr(model, "device", None)
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = [prepare(t) or " " for t in texts[start : start + self.batch_size]]
            encoded = self._tokenizer(
                chunk, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt"
            )
            if device is not None and hasattr(encoded, "to"):
                encoded = encoded.to(device)
            with self._no_grad():
                logits = model(**encoded).logits
            if hasattr(logits, "detach"):
                logits = logits.detach().float().cpu().numpy()
            logits = np.asarray(logits, dtype=np.float64)[:, self._order]
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            rows.append(probs / probs.sum(axis=1, keepdims=True))
        return np.concatenate(rows)
