"""Hashed n-gram features of tweet text, computed with numpy and the standard library only.

This is the featurizer of the `fast` sentiment model (`sentiment/fast.py`), shared by training
(`processors.enrich.training`) and scoring so that both see exactly the same features. It promises:

- `normalize(text)` turns a raw post into space-separated tokens (lower case, links as `http`,
  mentions as `@user`, runs of 3+ identical characters squashed to 2, emoji modifiers dropped,
  punctuation and emoji as tokens of their own). Any `str` is accepted, the empty one included.
- `HashingFeaturizer.counts(texts, langs)` returns, for a batch, the sparse matrix of feature
  counts in CSR form (`SparseCounts`): word 1..`word_max`-grams and character
  `char_min`..`char_max`-grams taken inside token boundaries (each token padded with one space,
  as scikit-learn's `char_wb` does), plus one bias feature per post. When
  `FeatureConfig.lang_copies` is set, every feature is emitted a second time salted with the
  post's language (when that language is one of `FeatureConfig.languages`), the "shared + per
  language copy" feature augmentation. Feature indices lie in `[0, 2**n_bits)`.
- Hashing is deterministic across processes and platforms (a polynomial hash of code points,
  mixed with splitmix64; never Python's salted `hash()`), so a model trained once scores the same
  anywhere.

Everything is vectorised over the whole batch: the Python-level work per post is a handful of
regular-expression passes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FeatureConfig", "HashingFeaturizer", "SparseCounts", "normalize"]

_U64 = np.uint64
_P = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
_Q = pow(_P, -1, 2**64)
_SPACE = 32

_URL_RE = re.compile(r"(?:https?://|www\.)\S+|\bhttps?\b(?::/*)?", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<![\w@])@\w{1,50}")
_NOISE_RE = re.compile("[\u200b-\u200f\u2060\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")
_REPEAT_RE = re.compile(r"(\S)\1{2,}")
_DIGITS_RE = re.compile(r"\d")
_TOKEN_RE = re.compile(r"@user\b|\w+|[^\w\s]")
# Arabic: diacritics and tatweel dropped, letter variants merged (the usual orthographic folding).
_AR_MARKS_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_AR_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})


@dataclass(frozen=True)
class FeatureConfig:
    """What the featurizer extracts; stored inside the model file so scoring matches training."""

    n_bits: int = 20
    char_min: int = 2
    char_max: int = 5
    word_max: int = 2
    digits: bool = True
    """Fold every digit to `0`."""
    arabic: bool = True
    """Apply the Arabic orthographic folding."""
    lang_copies: bool = True
    languages: tuple[str, ...] = field(default=("ar", "de", "en", "es", "fr", "hi", "it", "pt"))
    """Languages that get their own copy of every feature (ISO 639-1)."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["languages"] = list(self.languages)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        values = dict(data)
        values["languages"] = tuple(values.get("languages", ()))
        return cls(**values)


@dataclass(frozen=True)
class SparseCounts:
    """A CSR matrix of feature counts: row `i` is `indices/counts[indptr[i]:indptr[i+1]]`.

    Within a row, indices are unique and sorted.
    """

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int64]
    counts: npt.NDArray[np.float32]
    n_features: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def rows(self) -> npt.NDArray[np.int64]:
        """The row of every stored entry (same length as `indices`)."""
        return np.repeat(np.arange(self.n_rows, dtype=np.int64), np.diff(self.indptr))


def normalize(text: str, *, digits: bool = True, arabic: bool = True) -> str:
    """The token string the features are taken from: tokens joined by single spaces."""
    text = html.unescape(text)
    text = _URL_RE.sub(" http ", text)
    text = _MENTION_RE.sub(" @user ", text)
    text = _NOISE_RE.sub("", text).lower()
    if arabic:
        text = _AR_MARKS_RE.sub("", text).translate(_AR_FOLD)
    text = _REPEAT_RE.sub(r"\1\1", text)
    if digits:
        text = _DIGITS_RE.sub("0", text)
    return " ".join(_TOKEN_RE.findall(text))


def _mix(h: npt.NDArray[np.uint64], salt: int) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser of `h ^ salt`: spreads the polynomial hash over all 64 bits."""
    z = h ^ _U64((salt * 0xD6E8FEB86659FD93) & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


class HashingFeaturizer:
    """Turns batches of posts into `SparseCounts`; stateless apart from a cache of powers."""

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self._lang_index = {lang: i for i, lang in enumerate(config.languages)}
        one = np.ones(1, dtype=np.uint64)
        self._pow: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]] = (one, one)

    @property
    def n_features(self) -> int:
        return 1 << self.config.n_bits

    def normalize(self, text: str) -> str:
        return normalize(text, digits=self.config.digits, arabic=self.config.arabic)

    def _powers(self, n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        """P**i and Q**i (mod 2**64) for i < n, from a cache grown by doubling (thread-safe)."""
        pow_p, pow_q = self._pow
        if len(pow_p) < n:
            size = max(n, 2 * len(pow_p))
            pow_p = np.ones(size, dtype=np.uint64)
            pow_q = np.ones(size, dtype=np.uint64)
            with np.errstate(over="ignore"):
                pow_p[1:] = np.cumprod(np.full(size - 1, _P, dtype=np.uint64))
                pow_q[1:] = np.cumprod(np.full(size - 1, _Q, dtype=np.uint64))
            self._pow = (pow_p, pow_q)  # one assignment: readers see both or neither
        return pow_p[:n], pow_q[:n]

    def counts(self, texts: Sequence[str], langs: Sequence[str] | None = None) -> SparseCounts:
        """Feature counts of `texts`; `langs[i]` (ISO 639-1, may be anything) salts the copies."""
        cfg = self.config
        n_docs = len(texts)
        if langs is not None and len(langs) != n_docs:
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        docs = [" " + self.normalize(t) + " " for t in texts]
        joined = "".join(docs)
        cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        cp = cp.astype(np.uint64)
        n = len(cp)
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n_docs)
        doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        pow_p, pow_q = self._powers(n + 1)
        with np.errstate(over="ignore"):
            prefix = np.zeros(n + 1, dtype=np.uint64)
            np.cumsum(cp * pow_q[:n], out=prefix[1:])

            def span(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
                result: npt.NDArray[np.uint64] = (prefix[b] - prefix[a]) * pow_p[a]
                return result

            hashes: list[npt.NDArray[np.uint64]] = []
            owners: list[npt.NDArray[np.int64]] = []
            is_space = cp == _SPACE
            spaces = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(is_space, out=spaces[1:])
            for size in range(cfg.char_min, cfg.char_max + 1):
                if n < size:
                    break
                start = np.arange(n - size + 1, dtype=np.int64)
                end = start + size
                ok = doc_of[start] == doc_of[end - 1]
                if size == 1:
                    ok &= ~is_space[start]
                elif size == 2:  # the only two-space gram is an empty post's padding
                    ok &= ~(is_space[start] & is_space[start + 1])
                else:  # no space inside the gram, only at its ends
                    ok &= spaces[end - 1] == spaces[start + 1]
                start, end = start[ok], end[ok]
                hashes.append(_mix(span(start, end), 100 + size))
                owners.append(doc_of[start])
            # tokens: every doc is " tok tok ... ", so a token starts after a space and ends before
            prev_space = np.ones(n, dtype=bool)
            prev_space[1:] = is_space[:-1]
            next_space = np.ones(n, dtype=bool)
            next_space[:-1] = is_space[1:]
            tok_start = np.flatnonzero(~is_space & prev_space)
            tok_end = np.flatnonzero(~is_space & next_space) + 1
            tok_doc = doc_of[tok_start]
            for size in range(1, cfg.word_max + 1):
                if len(tok_start) < size:
                    break
                a = tok_start[: len(tok_start) - size + 1]
                b = tok_end[size - 1 :]
                ok = tok_doc[: len(a)] == tok_doc[size - 1 :]
                a, b = a[ok], b[ok]
                hashes.append(_mix(span(a, b), 200 + size))
                owners.append(tok_doc[: len(ok)][ok])
            hashes.append(_mix(np.zeros(n_docs, dtype=np.uint64), 1))  # bias
            owners.append(np.arange(n_docs, dtype=np.int64))
            h = np.concatenate(hashes)
            owner = np.concatenate(owners)
            if cfg.lang_copies and langs is not None:
                lang_ids = np.array(
                    [self._lang_index.get(lang, -1) for lang in langs], dtype=np.int64
                )
                own_lang = lang_ids[owner]
                keep = own_lang >= 0
                salted = _mix(h[keep] ^ (own_lang[keep].astype(np.uint64) + _U64(1)), 7)
                h = np.concatenate([h, salted])
                owner = np.concatenate([owner, owner[keep]])
            bucket = (h >> _U64(64 - cfg.n_bits)).astype(np.int64)
        keys = (owner << cfg.n_bits) | bucket
        uniq, cnt = np.unique(keys, return_counts=True)
        rows = uniq >> cfg.n_bits
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
        return SparseCounts(
            indptr, uniq & (self.n_features - 1), cnt.astype(np.float32), self.n_features
        )
