"""The fitting steps both sentiment trainers share: TF-IDF, regressions, temperature.

They need the `train` extra (scikit-learn, scipy), imported inside each function, so that
importing the training package (and scoring) never does. Same inputs, seed and scikit-learn
version: same weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from processors.enrich.features import SparseCounts
from processors.enrich.linear import term_values
from processors.enrich.sentiment import LABELS

NB_ALPHA = 1.0
"""Smoothing of the NB log-count ratios, chosen on val among 0.25, 1 and 4."""


def fit_multinomial(
    matrix: Any, labels: npt.NDArray[np.int64], c: float, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """One softmax (multinomial) logistic regression: (coef, intercept), coef features x classes."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=5000, tol=1e-5, random_state=seed)
    clf.fit(matrix, labels)
    return clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float32)


def fit_nblr(
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


def fit_temperature(logits: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> float:
    """The softmax temperature that minimises the log-loss of `logits` (a grid search)."""

    def log_loss(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(labels)), labels].mean())

    return min((float(t) for t in np.geomspace(0.05, 20.0, 121)), key=log_loss)


def tfidf(
    counts: SparseCounts, idf: npt.NDArray[np.float32] | None = None
) -> tuple[Any, npt.NDArray[np.float32]]:
    """The TF-IDF CSR matrix of `counts` and its IDF (smoothed, computed here when not given).

    Each row's indices in increasing order (canonical CSR), so the matrix, and a model fitted
    on it, do not depend on the order the featurizer lists a row's features in.
    """
    from scipy.sparse import csr_matrix

    counts = counts.sorted()
    if idf is None:
        doc_freq = np.bincount(counts.indices, minlength=counts.n_features)
        idf = (np.log((1.0 + counts.n_rows) / (1.0 + doc_freq)) + 1.0).astype(np.float32)
    matrix = csr_matrix(
        (term_values(counts, idf), counts.indices, counts.indptr),
        shape=(counts.n_rows, counts.n_features),
    )
    return matrix, idf
