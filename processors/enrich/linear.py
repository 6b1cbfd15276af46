"""A linear text classifier over hashed features: its file format and its numpy-only scoring.

`LinearModel` is what `processors.enrich.training` writes and the `fast` sentiment backend
reads. It promises:

- `probabilities(texts, langs)` returns an `(n, n_classes)` float array whose rows sum to 1,
  for any texts (the empty one included), using numpy and the standard library only.
- Features are `features.HashingFeaturizer` counts weighted as TF-IDF: `1 + log(count)` times
  the feature's weight (its smoothed IDF on the training set), each post's vector L2-normalised.
  `term_values` is that weighting, shared with training so both sides see the same numbers.
- `save(path)` writes one `.npz` file holding the feature configuration, the labels, the weights
  (float16, only the rows of features seen in training) and free-form metadata; `load(path)`
  reads it back and raises `ModelFileError` naming the path when it is missing, of another
  format or inconsistent. Loading never touches the network.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .features import FeatureConfig, HashingFeaturizer, SparseCounts

__all__ = ["FORMAT", "LinearModel", "ModelFileError", "term_values"]

logger = logging.getLogger(__name__)

FORMAT = "veille-linear-text/1"


class ModelFileError(RuntimeError):
    """A model file that is missing, unreadable, of another format or inconsistent."""


def term_values(counts: SparseCounts, weight: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """TF-IDF values of `counts` (`1 + log(count)` times `weight`), L2-normalised per row."""
    return _normalised(counts, np.take(weight, counts.indices))


def _normalised(
    counts: SparseCounts, entry_weight: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """`term_values` given the weight of every entry.

    The squared norms are float64 sums of float32 squares. With weights of at least 1 (an IDF)
    every square is a multiple of 2**-23, so the sums are exact below 2**30 (millions of
    features): they do not depend on the order of the entries, nor on the order of summation.
    """
    values = ((1.0 + np.log(counts.counts)) * entry_weight).astype(np.float32, copy=False)
    norms = np.sqrt(_row_sums(values * values, counts.indptr))
    norms[norms == 0.0] = 1.0
    values /= np.repeat(norms, np.diff(counts.indptr))  # in float64, rounded once
    return values


def _row_sums(values: npt.NDArray[Any], indptr: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Sums of `values` over each CSR row `indptr[i]:indptr[i+1]`, in float64."""
    out = np.zeros(len(indptr) - 1, dtype=np.float64)
    filled = np.flatnonzero(np.diff(indptr))  # reduceat would give an empty row its next value
    if len(filled):
        out[filled] = np.add.reduceat(values, indptr[filled], dtype=np.float64)
    return out


def _views_of(table: npt.NDArray[np.float32], *arrays: npt.NDArray[np.float32]) -> bool:
    return all(a.base is table for a in arrays)


@dataclass
class LinearModel:
    """Weights of a multinomial linear classifier; `coef` is `(n_features, n_classes)`.

    `coef` and `weight` are kept as views of one `(n_features, n_classes + 1)` table, so that
    scoring reads a feature's weights from one place; changing them in place (`model.coef /= t`)
    is seen by scoring, and so is assigning new arrays to them (the table is then rebuilt).
    """

    config: FeatureConfig
    labels: tuple[str, ...]
    coef: npt.NDArray[np.float32]
    intercept: npt.NDArray[np.float32]
    weight: npt.NDArray[np.float32]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_features = 1 << self.config.n_bits
        n_classes = len(self.labels)
        if self.coef.shape != (n_features, n_classes):
            raise ModelFileError(
                f"coef shape {self.coef.shape}, expected {(n_features, n_classes)}"
            )
        if self.intercept.shape != (n_classes,) or self.weight.shape != (n_features,):
            raise ModelFileError("intercept or weight of the wrong shape")
        self.featurizer = HashingFeaturizer(self.config)
        self._table = self._pack()

    def _pack(self) -> npt.NDArray[np.float32]:
        """The coef | weight table, rebuilt when `coef` or `weight` no longer are its views."""
        table: npt.NDArray[np.float32] | None = getattr(self, "_table", None)
        if table is not None and _views_of(table, self.coef, self.weight):
            return table
        table = np.empty((len(self.weight), len(self.labels) + 1), dtype=np.float32)
        table[:, :-1] = self.coef
        table[:, -1] = self.weight
        self.coef, self.weight, self._table = table[:, :-1], table[:, -1], table
        return table

    def logits(self, counts: SparseCounts) -> npt.NDArray[np.float64]:
        """Class scores before the softmax, `(n_rows, n_classes)`."""
        rows = np.take(self._pack(), counts.indices, axis=0)  # one gather per entry
        values = _normalised(counts, rows[:, -1])
        out = np.empty((counts.n_rows, len(self.labels)), dtype=np.float64)
        for k in range(len(self.labels)):
            out[:, k] = _row_sums(rows[:, k] * values, counts.indptr)
        out += self.intercept
        return out

    def probabilities(
        self, texts: list[str], langs: list[str] | None = None
    ) -> npt.NDArray[np.float64]:
        """Softmax class probabilities of `texts` (rows in input order)."""
        logits = self.logits(self.featurizer.counts(texts, langs))
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def save(self, path: Path) -> None:
        """Write the model as one compressed `.npz` (float16 weights, seen rows only)."""
        seen = np.any(self.coef != 0.0, axis=1)
        rows = np.flatnonzero(seen).astype(np.uint32)
        # rows never seen in training share one weight (the IDF of a zero document frequency)
        default = float(np.median(self.weight[~seen])) if not seen.all() else 1.0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(
                fh,
                format=np.array(FORMAT),
                config=np.array(json.dumps(self.config.to_dict(), sort_keys=True)),
                labels=np.array(json.dumps(list(self.labels))),
                meta=np.array(json.dumps(self.meta, sort_keys=True)),
                rows=np.diff(rows, prepend=np.uint32(0)).astype(np.uint32),
                coef=self.coef[rows].astype(np.float16),
                weight=self.weight[rows].astype(np.float16),
                default_weight=np.array(default, dtype=np.float32),
                intercept=self.intercept.astype(np.float32),
            )

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        """Read a model written by `save`; raises ModelFileError naming `path` on any problem."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != FORMAT:
                    raise ModelFileError(f"{path}: format {data['format']!s}, expected {FORMAT}")
                config = FeatureConfig.from_dict(json.loads(str(data["config"])))
                labels = tuple(json.loads(str(data["labels"])))
                meta = json.loads(str(data["meta"]))
                rows = np.cumsum(data["rows"].astype(np.int64))
                n_features = 1 << config.n_bits
                coef = np.zeros((n_features, len(labels)), dtype=np.float32)
                coef[rows] = data["coef"]
                weight = np.full(n_features, float(data["default_weight"]), dtype=np.float32)
                weight[rows] = data["weight"]
                intercept = data["intercept"].astype(np.float32)
        except ModelFileError:
            raise
        except (OSError, KeyError, ValueError, IndexError, TypeError) as exc:
            raise ModelFileError(f"{path}: cannot read linear model ({exc})") from exc
        logger.debug("linear model loaded path=%s rows=%d", path, len(rows))
        return cls(config, labels, coef, intercept, weight, meta)
