"""Hashed n-gram features of tweet text, computed with numpy and the standard library only.

This is the featurizer of the `fast` sentiment model (`sentiment/fast.py`), shared by training
(`processors.enrich.training`) and scoring so that both see exactly the same features. It promises:

- `normalize(text)` turns a raw post into space-separated tokens (lower case, links as `http`,
  mentions as `@user`, runs of 3+ identical characters squashed to 2, emoji modifiers dropped,
  punctuation and emoji as tokens of their own). Any `str` is accepted, the empty one and lone
  surrogates included.
- `HashingFeaturizer.counts(texts, langs)` returns, for a batch, the sparse matrix of feature
  counts in CSR form (`SparseCounts`): word 1..`word_max`-grams and character
  `char_min`..`char_max`-grams taken inside token boundaries (each token padded with one space,
  as scikit-learn's `char_wb` does), plus one bias feature per post. When
  `FeatureConfig.lang_copies` is set, every feature is emitted a second time salted with the
  post's language (when that language is one of `FeatureConfig.languages`), the "shared + per
  language copy" feature augmentation. Feature indices lie in `[0, 2**n_bits)`. A post's row
  does not depend on the rest of its batch.
- Hashing is deterministic across processes and platforms (a polynomial hash of code points,
  mixed with splitmix64; never Python's salted `hash()`), so a model trained once scores the same
  anywhere.

Everything is vectorised over the whole batch: the posts are joined into one string for the
few regular-expression passes that need the regex engine (entities, links, mentions, lower
case); character folding, squashing, tokenisation, hashing and counting are numpy passes over
the code points. `normalize` is the same code run on a batch of one.
"""

from __future__ import annotations

import html
import re
import threading
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

# The same matches as `(?:https?://|www\.)\S+|\bhttps?\b(?::/*)?` under re.IGNORECASE ("ſ" is a
# case-insensitive "s"), spelled so that the engine skips straight to the next h or w.
_URL_RE = re.compile(
    r"[HhWw](?:(?<=[Hh])(?:[Tt][Tt][Pp][Ssſ]?://\S+|(?<!\w.)[Tt][Tt][Pp][Ssſ]?\b(?::/*)?)"
    r"|(?<=[Ww])[Ww][Ww]\.\S+)"
)
# `(?<![\w@])@\w{1,50}` with the look-behind after the "@", for the same reason.
_MENTION_RE = re.compile(r"@(?<![\w@]@)\w{1,50}")

# Posts of a batch are joined with this separator: whitespace stops every pattern above as the
# ends of a string do, and no pass creates, removes or merges a \x01 (html.unescape maps
# "&#1;" to nothing). Posts that hold a \x01 themselves are processed on their own.
_SEP = "\n\x01\n"
_SEP_CODE = 1

# Character classes of every code point, each taken from the regular expression it stands for:
# `\s`, `\w`, `\d` (str patterns: Unicode), zero-width and emoji-modifier noise, and Arabic
# diacritics and tatweel. Tokens are `@user\b|\w+|[^\w\s]`, runs of 3+ identical `\S` are
# squashed to 2, `\d` becomes 0.
_IS_SPACE, _IS_WORD, _IS_DIGIT, _IS_NOISE, _IS_AR_MARK = 1, 2, 4, 8, 16
_CLASS_PATTERNS = (
    (_IS_SPACE, r"\s"),
    (_IS_WORD, r"\w"),
    (_IS_DIGIT, r"\d"),
    (_IS_NOISE, "[\u200b-\u200f\u2060\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]"),
    (_IS_AR_MARK, "[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]"),
)
_classes: npt.NDArray[np.uint8] | None = None
# Arabic letter variants merged (the usual orthographic folding), as a table over U+0622..U+0671.
_AR_FIRST = 0x622
_AR_FOLD = np.arange(_AR_FIRST, 0x672, dtype=np.uint32)
for _variant, _letter in {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"}.items():
    _AR_FOLD[ord(_variant) - _AR_FIRST] = ord(_letter)
_USER = [ord(c) for c in "user"]

_scratch = threading.local()  # per-thread hash table of `_count_keys`
_KEEP_TABLE = 1 << 22  # slots of that table kept between batches (32 MB); 250 posts need ~0.5M
_CHUNK = 250  # posts featurized at once: the table and temporaries stay small (in cache)
# odd multipliers of the later rounds of `_count_keys`: other slots for keys that lost theirs
_ROUNDS = (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1, 0xD3A2646D, 0xFD7046C5)


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

    Within a row, indices are unique, in an order that depends on that row's post alone;
    `sorted()` gives the canonical form (indices in increasing order).
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

    def sorted(self) -> SparseCounts:
        """The same matrix with the indices of every row in increasing order."""
        order = np.lexsort((self.indices, self.rows))
        return SparseCounts(self.indptr, self.indices[order], self.counts[order], self.n_features)


def normalize(text: str, *, digits: bool = True, arabic: bool = True) -> str:
    """The token string the features are taken from: tokens joined by single spaces."""
    codes, _ = _token_codes([text], digits=digits, arabic=arabic)
    return codes[1:-1].tobytes().decode("utf-32-le", "surrogatepass")


def _class_table() -> npt.NDArray[np.uint8]:
    """`_IS_*` bits of every code point (built on first use, about 0.2 s; then cached)."""
    global _classes
    table = _classes
    if table is None:
        # every code point but U+0000, which is in none of the classes; each pattern matches
        # one character, so `sub` keeps positions
        everything = "".join(map(chr, range(1, 0x110000)))
        table = np.zeros(0x110000, dtype=np.uint8)
        for bit, pattern in _CLASS_PATTERNS:
            marked = re.sub(pattern, "\x00", everything).encode("utf-32-le", "surrogatepass")
            table[1:][np.frombuffer(marked, dtype="<u4") == 0] |= bit
        _classes = table  # one assignment: readers see the whole table or none
    return table


def _token_codes(
    texts: Sequence[str], *, digits: bool, arabic: bool
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """Code points of `" " + normalize(text) + " "` for every text, concatenated, and their lengths.

    The regular-expression passes run once on the joined batch; the rest are numpy passes in
    the order `normalize` promises: noise and Arabic marks dropped, Arabic folded, runs
    squashed, digits folded, tokens split.
    """
    n_docs = len(texts)
    if n_docs == 0:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    text = _SEP.join(texts)
    if n_docs > 1 and text.count(_SEP[1]) != n_docs - 1:  # posts holding a \x01: on their own
        alone = [i for i, t in enumerate(texts) if _SEP[1] in t]
        rest = sorted(set(range(n_docs)) - set(alone))
        codes, lengths = _token_codes([texts[i] for i in rest], digits=digits, arabic=arabic)
        pieces: list[npt.NDArray[np.uint32]] = [codes[:0]] * n_docs
        ends = np.cumsum(lengths)
        for i, start, end in zip(rest, ends - lengths, ends, strict=True):
            pieces[i] = codes[start:end]
        for i in alone:
            pieces[i] = _token_codes([texts[i]], digits=digits, arabic=arabic)[0]
        return np.concatenate(pieces), np.array([len(p) for p in pieces], dtype=np.int64)
    text = _MENTION_RE.sub(" @user ", _URL_RE.sub(" http ", html.unescape(text)))
    # lower() after the URL and mention passes, as before; the noise characters dropped below
    # are case-ignorable, so dropping them after lower() changes no final sigma
    cp = np.frombuffer(text.lower().encode("utf-32-le", "surrogatepass"), dtype="<u4")
    cls = _class_table()[cp]
    drop = cls & (_IS_NOISE | _IS_AR_MARK if arabic else _IS_NOISE)
    if drop.any():
        keep = drop == 0
        cp, cls = cp[keep], cls[keep]
    else:
        cp = cp.copy()
    if arabic:
        fold = np.flatnonzero((cp - _AR_FIRST) < len(_AR_FOLD))  # unsigned: below wraps round
        cp[fold] = _AR_FOLD[cp[fold] - _AR_FIRST]
    space = (cls & _IS_SPACE) != 0
    if len(cp) > 2:  # a non-space repeated twice before: dropped (runs of 3+ become 2)
        same = cp[1:] == cp[:-1]
        run = same[1:] & same[:-1] & ~space[2:]
        if run.any():
            keep = np.ones(len(cp), dtype=bool)
            keep[2:] = ~run
            cp, cls, space = cp[keep], cls[keep], space[keep]
    if digits:
        cp[(cls & _IS_DIGIT) != 0] = ord("0")
    n = len(cp)
    word = (cls & _IS_WORD) != 0
    sep = cp == _SEP_CODE if n_docs > 1 else np.zeros(n, dtype=bool)
    blank = space | sep
    start = ~blank  # a token starts at every non-blank that does not continue a \w run
    start[1:] &= ~(word[1:] & word[:-1])
    at = np.flatnonzero(cp[: max(n - 4, 0)] == ord("@"))  # "@user" not followed by \w: one token
    for i, code in enumerate(_USER, 1):
        at = at[cp[at + i] == code]
    at = at[(at + 5 >= n) | ~word[np.minimum(at + 5, n - 1)]]
    start[at + 1] = False
    # output: per post, every token preceded by a space, then one space (two for an empty post)
    kept = np.flatnonzero(~blank)
    kept_end = np.append(np.searchsorted(kept, np.flatnonzero(sep)), len(kept))  # per post
    tokens_before = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(np.take(start, kept), out=tokens_before[1:])
    n_tokens = np.diff(np.take(tokens_before, kept_end), prepend=0)
    n_kept = np.diff(kept_end, prepend=0)
    empty = n_tokens == 0
    lengths = n_kept + n_tokens + 1 + empty
    post_shift = np.repeat(np.arange(n_docs) + np.cumsum(empty) - empty, n_kept)
    out = np.full(int(lengths.sum()), _SPACE, dtype=np.uint32)
    out[np.arange(len(kept)) + tokens_before[1:] + post_shift] = np.take(cp, kept)
    return out, lengths


def _mix(h: npt.NDArray[np.uint64], salt: int) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser of `h ^ salt`: spreads the polynomial hash over all 64 bits."""
    z = h ^ _U64((salt * 0xD6E8FEB86659FD93) & 0xFFFFFFFFFFFFFFFF)
    t = z >> _U64(30)
    z ^= t
    z *= _U64(0xBF58476D1CE4E5B9)
    np.right_shift(z, _U64(27), out=t)
    z ^= t
    z *= _U64(0x94D049BB133111EB)
    np.right_shift(z, _U64(31), out=t)
    z ^= t
    return z


def _count_keys(
    keys: npt.NDArray[np.int64], per_doc: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Distinct keys of each document and how often each occurs: `(indptr, positions, counts)`.

    `keys` (non-negative) are grouped by document, `per_doc[d]` of them for document `d`;
    `positions` are where each distinct key occurs last, in order, and `indptr` says which are
    whose. A hash table with one region per document (so a document's result does not depend
    on the others): every key writes its position to its slot (numpy's last writer wins) and
    reads the winner back; the keys that lost their slot to another key try again with other
    slots, and any still left after that are settled by a sort. No sort in the usual case.
    """
    n = len(keys)
    size = np.left_shift(1, np.ceil(np.log2(np.maximum(2 * per_doc, 1))).astype(np.int64))
    table: npt.NDArray[np.int64] | None = getattr(_scratch, "table", None)
    if table is None or len(table) < int(size.sum()):
        table = np.empty(max(int(size.sum()), 1 << 16), dtype=np.int64)
        if len(table) <= _KEEP_TABLE:  # kept for the next batch (no new pages to fault in)
            _scratch.table = table
    base = np.repeat(np.cumsum(size) - size, per_doc)
    mask = np.repeat(size - 1, per_doc)
    order = np.arange(n, dtype=np.int64)
    slot = base + (keys & mask)
    table[slot] = order
    winner = np.take(table, slot)
    lost = np.flatnonzero(np.take(keys, winner) != keys)  # all of a key win or lose together
    for multiplier in _ROUNDS:
        if not len(lost):
            break
        lost_keys = np.take(keys, lost)
        slot = np.take(base, lost) + (((lost_keys * multiplier) >> 17) & np.take(mask, lost))
        table[slot] = lost
        won = np.take(table, slot)
        winner[lost] = won
        lost = lost[np.take(keys, won) != lost_keys]
    if len(lost):
        doc = np.searchsorted(np.cumsum(per_doc), lost, side="right")
        _, group = np.unique(np.stack([doc, np.take(keys, lost)]), axis=1, return_inverse=True)
        group = group.ravel()
        last = np.zeros(int(group.max()) + 1, dtype=np.int64)
        np.maximum.at(last, group, lost)
        winner[lost] = np.take(last, group)
    first = winner == order
    positions = np.flatnonzero(first)
    counts = np.take(np.bincount(winner, minlength=n), positions)
    per_row = np.zeros(len(per_doc), dtype=np.int64)  # distinct keys of each document
    filled = np.flatnonzero(per_doc)
    if len(filled):
        starts = np.cumsum(per_doc) - per_doc
        per_row[filled] = np.add.reduceat(first, starts[filled], dtype=np.int64)
    return np.append(0, np.cumsum(per_row)), positions, counts


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
        if langs is not None and len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        if len(texts) > _CHUNK:  # bounded memory; rows do not depend on their batch anyway
            parts = [
                self.counts(texts[i : i + _CHUNK], None if langs is None else langs[i : i + _CHUNK])
                for i in range(0, len(texts), _CHUNK)
            ]
            offsets = np.cumsum([0] + [len(p.indices) for p in parts[:-1]])
            return SparseCounts(
                np.concatenate(
                    [[0]] + [p.indptr[1:] + o for p, o in zip(parts, offsets, strict=True)]
                ),
                np.concatenate([p.indices for p in parts]),
                np.concatenate([p.counts for p in parts]),
                self.n_features,
            )
        codes, lengths = _token_codes(texts, digits=cfg.digits, arabic=cfg.arabic)
        with np.errstate(over="ignore"):
            hashes, per_doc = self._gram_hashes(codes, lengths)
            if cfg.lang_copies and langs is not None:  # each gram followed by its copy
                lang_ids = np.array(
                    [self._lang_index.get(lang, -1) for lang in langs], dtype=np.int64
                )
                salt = np.repeat((lang_ids + 1).astype(np.uint64), per_doc)
                hashes = np.stack([hashes, _mix(hashes ^ salt, 7)], axis=1).ravel()
                known = lang_ids >= 0
                if not known.all():  # no copies for the other languages
                    kept = np.ones((len(salt), 2), dtype=bool)
                    kept[:, 1] = np.repeat(known, per_doc)
                    hashes = hashes[kept.ravel()]
                per_doc = per_doc + per_doc * known
            keys = (hashes >> _U64(64 - cfg.n_bits)).view(np.int64)  # < 2**n_bits
        indptr, positions, counts = _count_keys(keys, per_doc)
        indices = np.take(keys, positions)
        return SparseCounts(indptr, indices, counts.astype(np.float32), self.n_features)

    def _gram_hashes(
        self, codes: npt.NDArray[np.uint32], lengths: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        """Hashes of every gram of `_token_codes`, post by post, and how many each post has.

        Every post is " tok tok ... ", so a gram never spans two posts (it would hold two
        spaces in a row). Within a post: char grams by size then position, word grams by size
        then position, the bias.
        """
        cfg = self.config
        n, n_docs = len(codes), len(lengths)
        ends = np.cumsum(lengths)
        pow_p, pow_q = self._powers(n + 1)
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(codes.astype(np.uint64) * pow_q[:n], out=prefix[1:])
        is_space = codes == _SPACE
        # tokens: a token starts after a space and ends before one
        tok_start = np.flatnonzero(~is_space[1:] & is_space[:-1]) + 1
        tok_end = np.flatnonzero(~is_space[:-1] & is_space[1:]) + 1
        tok_doc = np.searchsorted(ends, tok_start, side="right")
        tok_first = np.searchsorted(tok_doc, np.arange(n_docs + 1))  # each post's first token

        def per_post(per_token: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
            total = np.zeros(len(per_token) + 1, dtype=np.int64)
            np.cumsum(per_token, out=total[1:])
            result: npt.NDArray[np.int64] = np.take(total, tok_first[1:]) - np.take(
                total, tok_first[:-1]
            )
            return result

        blocks: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]] = []
        spaces = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(is_space, out=spaces[1:])
        tok_len = tok_end - tok_start
        for size in range(cfg.char_min, cfg.char_max + 1):
            m = n - size + 1  # grams starting at 0 .. m-1
            if m <= 0:
                break
            if size == 1:
                ok = ~is_space
                per_doc = per_post(tok_len)
            else:  # no space inside the gram, only at its ends: " tok " has len + 3 - size
                if size == 2:  # the only two-space gram is an empty post's padding
                    ok = ~(is_space[:-1] & is_space[1:])
                else:
                    ok = spaces[size - 1 : n] == spaces[1 : m + 1]
                per_doc = per_post(np.maximum(tok_len + 3 - size, 0))
            span = (prefix[size:] - prefix[:m]) * pow_p[:m]  # of every start, then the valid
            blocks.append((_mix(np.compress(ok, span), 100 + size), per_doc))
        for size in range(1, cfg.word_max + 1):
            if len(tok_start) < size:
                break
            first = np.flatnonzero(tok_doc[: len(tok_start) - size + 1] == tok_doc[size - 1 :])
            a, b = np.take(tok_start, first), np.take(tok_end, first + size - 1)
            span = (np.take(prefix, b) - np.take(prefix, a)) * np.take(pow_p, a)
            per_doc = np.maximum(np.diff(tok_first) - size + 1, 0)
            blocks.append((_mix(span, 200 + size), per_doc))
        blocks.append((_mix(np.zeros(n_docs, dtype=np.uint64), 1), np.ones(n_docs, np.int64)))
        # block k's grams of post d go after those of blocks < k
        per_block = np.stack([counts for _, counts in blocks])
        per_doc = per_block.sum(axis=0)
        shift = (
            (np.cumsum(per_doc) - per_doc)  # where post d starts
            + (np.cumsum(per_block, axis=0) - per_block)  # its grams in blocks < k
            - (np.cumsum(per_block, axis=1) - per_block)  # where post d starts in block k
        )
        hashes = np.empty(int(per_doc.sum()), dtype=np.uint64)
        for k, (block, _) in enumerate(blocks):
            hashes[np.arange(len(block)) + np.repeat(shift[k], per_block[k])] = block
        return hashes, per_doc
