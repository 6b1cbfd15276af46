"""Language of a post, as an ISO 639-1 code, with py3langid and X's own `lang` tag.

`LanguageDetector` promises:

- `detect(text, x_lang)` returns a lower-case ISO 639-1 code (`fr`, `en`, ...) or `und` when the
  language cannot be told. It never raises on text content; it loads the model on first use if
  `load()` was not called.
- Detection reads the words only: @mentions, links, `RT` markers, HTML entities and the `#` of
  hashtags are removed (camel-cased hashtags are split into words), and the text is NFKC-folded
  (Arabic presentation forms, full-width and "bold" letters become ordinary letters). A post
  with no letter at all (emoji, numbers, links, mentions) is `und`, whatever X says.
- Short posts: with fewer than `min_letters` letters the text is too short to judge and X's tag
  decides (`und` without one). Below `short_letters` letters X's tag, when it names a language,
  is trusted over the detector; without a tag the detector answers only if its (preference
  adjusted) probability reaches `min_confidence`, else `und`. X's pseudo-tags (`und`, `qme`,
  `qht`, `qam`, `qst`, `zxx`, `art`, ...) name no language; old tags are modernised (`in` -> `id`,
  `iw` -> `he`) and regions dropped (`zh-cn` -> `zh`, `pt-BR` -> `pt`).
- Preferred languages (the watch configuration's `languages`) win when close: if the best
  language is not preferred but a preferred one has at least `prefer_ratio` times its
  probability, the preferred one is returned.
- py3langid's regional varieties count for their ISO 639-1 macrolanguage (`arz`, `ary` -> `ar`,
  `yue`, `wuu` -> `zh`, Nigerian Pidgin `pcm` -> `en`).
- Only the languages X itself tags posts with (`X_LANGUAGES`, plus the preferred ones) compete:
  the regional and rare languages py3langid also knows (Galician, Aragonese, Occitan,
  Luxembourgish, Walloon, Latin, ...) are where it confuses Portuguese, Spanish, German and
  Italian tweets, and X does not tag them either. On the XLM-T tweets (en, fr, es, de, it, pt,
  ar) this takes accuracy from 97.3 % to 98.2 % (docs/models/language.md).

The model is py3langid's bundled one (inside its wheel; nothing is downloaded), read in the
layout of py3langid 0.4 (`load()` raises RuntimeError on another). `load()` takes under a
second and is done once per detector. Detection is pure CPU, a batch at a time: `detect_batch`
runs each cleaning pattern once over the batch, walks py3langid's automaton over all its bytes
at once and scores every text with one sparse product. It decides as py3langid scoring text by
text: the scores differ by float32 rounding only, and a decision within that of a tie or a
threshold is taken on py3langid's own scores of the text. About 90,000 posts/s on one core in
batches of 500 (`veille bench enrich`, stage `language`); `detect`, one text a call, about
5,000/s. A detector may be shared by threads once loaded.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import sparse

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

__all__ = [
    "UNDETERMINED",
    "LanguageDetector",
    "clean_batch",
    "clean_for_detection",
    "count_letters",
    "normalize_x_lang",
]

logger = logging.getLogger(__name__)

UNDETERMINED = "und"

# py3langid codes that are not ISO 639-1, mapped to the ISO 639-1 code of their macrolanguage or
# nearest standard language; its other three-letter codes have no ISO 639-1 code at all.
_TO_ISO1 = {
    "arz": "ar",
    "ary": "ar",
    "uzs": "uz",
    "gug": "gn",
    "yue": "zh",
    "wuu": "zh",
    "hbo": "he",
    "grc": "el",
    "pcm": "en",
}
# X's deprecated tags.
_X_ALIASES = {"in": "id", "iw": "he", "ji": "yi", "jw": "jv", "mo": "ro"}

# The patterns begin with a literal or a character set, which the regex engine skips to; each
# is the same pattern as its plain form in the comment, which it must keep matching exactly.
# (?:https?://|www\.)\S+|\bhttps?\b(?::/*)? with re.IGNORECASE
_URL_RE = re.compile(
    r"[hHwW](?:(?<=[hH])[tT][tT][pP][sSſ]?://\S+|(?<=[wW])[wW][wW]\.\S+"
    r"|(?<=[hH])(?<!\w[hH])[tT][tT][pP][sSſ]?\b(?::/*)?)"
)
_MENTION_RE = re.compile(r"@(?<![\w@]@)\w{1,50}")  # (?<![\w@])@\w{1,50}
_RT_RE = re.compile(r"RT(?<!\wRT)(?!\w)\s*:?")  # (?<!\w)RT(?!\w)\s*:?
_HASHTAG_RE = re.compile(r"#(\w+)")
_CAMEL_RE = re.compile(r"(?<=[a-zà-ÿ])(?=[A-ZÀ-Þ])")
# A batch is cleaned as one string, its texts joined by " \0 ": the spaces end every pattern
# above at a text's edge as the end of a string would, and NUL is matched by none of them.
_SEP = "\x00"
_JOIN = " \x00 "

_CHUNK = 4096  # texts scored at once by detect_batch (bounds its memory)


def _split_hashtag(match: re.Match[str]) -> str:
    return " " + _CAMEL_RE.sub(" ", match.group(1)).replace("_", " ") + " "


def _normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", html.unescape(text))


def _unmarked(text: str) -> str:
    """`text` without links, mentions, `RT` markers and `#` signs (hashtags split)."""
    text = _URL_RE.sub(" ", text)
    text = _MENTION_RE.sub(" ", text)
    text = _RT_RE.sub(" ", text)
    return _HASHTAG_RE.sub(_split_hashtag, text)


def _words(text: str) -> str:
    # str.split() splits where \s matches: " ".join of it is \s+ made " ", then stripped
    return " ".join(text.split()).lower()


def clean_for_detection(text: str) -> str:
    """The words of a post: mentions, links, `RT`, `#` signs and HTML entities removed."""
    return _words(_unmarked(_normalized(text)))


def clean_batch(texts: Sequence[str]) -> list[str]:
    """`clean_for_detection` of each text, each pattern run once over the whole batch."""
    joined = _JOIN.join(map(_normalized, texts))  # NFKC text by text: most need none
    if texts and joined.count(_SEP) == len(texts) - 1:  # else a text holds NUL itself
        return [_words(text) for text in _unmarked(joined).split(_SEP)]
    return [clean_for_detection(text) for text in texts]


@cache
def _letter_table() -> npt.NDArray[np.bool_]:
    """Whether each code point is a letter or a combining mark (`count_letters`)."""
    category = unicodedata.category
    return np.fromiter(
        (c.isalpha() or category(c) == "Mn" for c in map(chr, range(0x110000))),
        dtype=bool,
        count=0x110000,
    )


def _letter_counts(texts: Sequence[str]) -> npt.NDArray[np.int64]:
    """`count_letters` of each text."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    running = np.zeros(points.size + 1, dtype=np.int64)
    np.cumsum(_letter_table()[points], out=running[1:])
    ends = np.cumsum(lengths)
    counts: npt.NDArray[np.int64] = running[ends] - running[ends - lengths]
    return counts


def count_letters(text: str) -> int:
    """Letters (and combining marks) in `text`: what detection has to go on."""
    return int(_letter_counts([text])[0])


X_LANGUAGES = frozenset(
    "am ar bg bn bo ca cs cy da de dv el en es et eu fa fi fr gu he hi ht hu hy id is it ja ka km "
    "kn ko lo lt lv ml mr ms my ne nl no or pa pl ps pt ro ru si sk sl sd sr sv ta te th tl tr "
    "ug uk ur vi zh".split()
)
"""ISO 639-1 codes of the languages X tags posts with (X API v2 `lang`)."""


def normalize_x_lang(tag: str | None) -> str | None:
    """X's `lang` tag as an ISO 639-1 code, or None when it names no language."""
    if not tag:
        return None
    base = tag.strip().lower().replace("_", "-").split("-", 1)[0]
    base = _X_ALIASES.get(base, base)
    if len(base) != 2 or not base.isascii() or not base.isalpha():
        return None  # und, qme, qht, qam, qct, qst, zxx, art, ckb, ...
    return base


def _iso1(code: str) -> str | None:
    if len(code) == 2:
        return code
    return _TO_ISO1.get(code)


# Bytes that UTF-8 never uses: one that sends every state of py3langid's automaton back to its
# start separates the texts of a batch.
_NOT_UTF8 = (*range(0xFF, 0xF4, -1), 0xC1, 0xC0)
# How far apart (relatively) the batch's ratios of probabilities may be from py3langid's own, per
# 100 bytes of text: both add up a text's features in float32 but in different orders, so they
# differ by rounding, the more so the longer the text (measured on tweets and on their
# concatenations up to 9 kB: 30 to 40 times less). Where a decision is closer than that to a tie
# or a threshold, it is taken on py3langid's own scores of the text.
_MARGIN_PER_100_BYTES = 0.01


@dataclass(frozen=True)
class _Model:
    """py3langid's naive Bayes model, scored for many texts at once.

    py3langid walks a text's UTF-8 bytes through an Aho-Corasick automaton: its states are the
    nodes of a trie of byte strings (at most `depth` bytes long), and after each byte the state
    is the longest suffix of the text read so far that is a node; that state's `output` feature
    (if any) is counted. So the state after a byte depends on the last `depth` bytes only, and
    is the state reached from the start by those bytes alone: the walk is done for every byte of
    a batch at once, `depth` steps (the first two by the `pairs` table) over shifted arrays. The
    texts are joined by a `reset` byte, which leads every state back to the start.
    The scores are then py3langid's `_decide` with `norm_probs`, for a matrix of texts.
    """

    nextmove: npt.NDArray[np.unsignedinteger]  # flat transitions, a state's row at rowbase
    rowbase: npt.NDArray[np.intp]
    pairs: npt.NDArray[np.intp]  # state after two bytes from the start, by 256 * first + second
    depth: int
    reset: bytes
    output: npt.NDArray[np.intp]  # feature counted in each state, -1 for none
    ptc: npt.NDArray[np.float32]  # log P(feature | label), features x labels
    pc: npt.NDArray[np.float32]  # log P(label)
    alias_pairs: tuple[tuple[int, int], ...]  # (first, duplicate) columns of a repeated label

    @classmethod
    def from_identifier(cls, identifier: LanguageIdentifier) -> _Model:
        """Arrays of a loaded py3langid (0.4) identifier.

        Raises RuntimeError on another model layout.
        """
        output = identifier.tk_output
        if not isinstance(output, list) or not hasattr(identifier, "tk_row"):
            raise RuntimeError("py3langid's model is not laid out as py3langid 0.4's")
        nextmove = np.frombuffer(identifier.tk_nextmove, dtype=identifier.tk_nextmove.typecode)
        rows = np.frombuffer(identifier.tk_row, dtype=identifier.tk_row.typecode)
        rowbase = rows.astype(np.intp) << 8
        resets = [b for b in _NOT_UTF8 if not nextmove[rowbase + b].any()]
        if not resets or output[0] >= 0:
            raise RuntimeError("py3langid's automaton has no reset byte")
        every_byte = np.arange(256, dtype=np.intp)
        after_one = nextmove[rowbase[0] + every_byte]
        pairs = nextmove[rowbase[after_one][:, None] + every_byte].astype(np.intp)
        first: dict[str, int] = {}
        aliases = []
        for i, label in enumerate(identifier.nb_classes):
            if label in first:
                aliases.append((first[label], i))
            else:
                first[label] = i
        return cls(
            nextmove=nextmove,
            rowbase=rowbase,
            pairs=pairs.ravel(),
            depth=max(2, _depth(nextmove, rowbase)),
            reset=bytes([resets[0]]),
            output=np.asarray(output, dtype=np.intp),
            ptc=np.asarray(identifier.nb_ptc, dtype=np.float32),
            pc=np.asarray(identifier.nb_pc, dtype=np.float32),
            alias_pairs=tuple(aliases),
        )

    def features(self, encoded: Sequence[bytes]) -> sparse.csr_matrix | sparse.csc_matrix:
        """log(1 + count) of each feature in each text (UTF-8 bytes): texts x features."""
        data = np.frombuffer(self.reset * (self.depth - 1) + self.reset.join(encoded), np.uint8)
        ends = data.size - (self.depth - 1)  # the state after data[i + depth - 1] goes to i
        state = self.pairs[(data[:ends].astype(np.intp) << 8) | data[1 : ends + 1]]
        for shift in range(2, self.depth):
            state = self.nextmove[self.rowbase[state] + data[shift : ends + shift]]
        features = self.output[state]
        found = features >= 0
        running = np.zeros(ends + 1, dtype=np.intp)
        np.cumsum(found, out=running[1:])
        starts = np.zeros(len(encoded) + 1, dtype=np.intp)  # where each text begins, then the end
        np.cumsum(np.fromiter(map(len, encoded), np.intp, len(encoded)) + 1, out=starts[1:])
        starts[-1] = ends
        counts = sparse.csr_matrix(
            (np.ones(int(running[-1]), dtype=np.float32), features[found], running[starts]),
            shape=(len(encoded), self.ptc.shape[0]),
        )
        if len(encoded) >= 256:  # sorted by feature (a cost in features, not texts), repeats
            counts = counts.tocsc()  # come side by side: cheaper than sorting each text's
        counts.sum_duplicates()
        np.log1p(counts.data, out=counts.data)
        return counts

    def probabilities(
        self, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
        """py3langid's `_decide` (normalised) of each text, texts x labels, up to rounding; and
        for each text how far (relatively) its ratios of probabilities may be from py3langid's:
        0 where there are none to differ (no feature, py3langid's uniform abstention)."""
        encoded = [  # as py3langid reads a str
            unicodedata.normalize("NFC", t.lower() if t.isupper() else t).encode(
                "utf-8", "surrogatepass"
            )
            for t in texts
        ]
        counts = self.features(encoded)
        scores: npt.NDArray[np.float32] = np.asarray(counts @ self.ptc, dtype=np.float32)
        scores += self.pc
        featureless = counts.getnnz(axis=1) == 0
        scores[featureless] = 0.0  # no feature: uniform (py3langid abstains)
        # temperature sqrt(bytes), then softmax, in float32 as py3langid does
        lengths = np.fromiter(map(len, encoded), dtype=np.float64, count=len(encoded))
        margins = _MARGIN_PER_100_BYTES * np.maximum(lengths / 100.0, 1.0)
        margins[featureless] = 0.0
        scores *= (1.0 / np.sqrt(np.maximum(lengths, 1.0))).astype(np.float32)[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        for first, dupe in self.alias_pairs:
            scores[:, first] += scores[:, dupe]
            scores[:, dupe] = 0.0
        return scores, margins


def _depth(nextmove: npt.NDArray[np.unsignedinteger], rowbase: npt.NDArray[np.intp]) -> int:
    """Depth of the automaton's trie: the most steps from the start to a state (breadth-first)."""
    seen = np.zeros(rowbase.size, dtype=bool)
    seen[0] = True
    frontier = np.zeros(1, dtype=np.intp)
    every_byte = np.arange(256, dtype=np.intp)
    depth = 0
    while True:
        reached = np.zeros(rowbase.size, dtype=bool)
        for i in range(0, frontier.size, 4096):
            reached[nextmove[rowbase[frontier[i : i + 4096], None] + every_byte]] = True
        frontier = np.flatnonzero(reached & ~seen)
        if not frontier.size:
            return depth
        seen[frontier] = True
        depth += 1


class LanguageDetector:
    """ISO 639-1 language of posts; see the module docstring for the contract."""

    def __init__(
        self,
        languages: Sequence[str] = (),
        *,
        min_letters: int = 3,
        short_letters: int = 20,
        min_confidence: float = 0.0,
        prefer_ratio: float = 0.8,
    ) -> None:
        """Store settings; `languages` are the preferred ISO 639-1 codes (may be empty).

        Raises ValueError on settings out of range. Loads nothing (see `load()`).
        """
        if not 0.0 < prefer_ratio <= 1.0:
            raise ValueError(f"prefer_ratio must be in (0, 1], got {prefer_ratio}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        if not 0 <= min_letters <= short_letters:
            raise ValueError(
                f"need 0 <= min_letters <= short_letters, got {min_letters} and {short_letters}"
            )
        self.languages = tuple(dict.fromkeys(code.strip().lower() for code in languages))
        self.min_letters = min_letters
        self.short_letters = short_letters
        self.min_confidence = min_confidence
        self.prefer_ratio = prefer_ratio
        self._model: _Model | None = None
        self._identifier: LanguageIdentifier | None = None
        self._preferred: frozenset[str] = frozenset()

    def load(self) -> None:
        """Load py3langid's bundled model (idempotent).

        Raises RuntimeError when the installed py3langid's model is not laid out as 0.4's.
        """
        if self._model is not None:
            return
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        known = {iso for iso in map(_iso1, identifier.labels) if iso}
        unknown = [code for code in self.languages if code not in known]
        if unknown:
            logger.warning("preferred languages unknown to the detector ignored: %s", unknown)
        self._preferred = frozenset(code for code in self.languages if code in known)
        # py3langid's labels grouped by ISO 639-1 code (regional varieties merged); only the
        # labels of allowed groups are summed, the others' probabilities count as zero
        keys = [_iso1(code) or code for code in identifier.nb_classes]
        self._groups = list(dict.fromkeys(keys))
        index = {key: i for i, key in enumerate(self._groups)}
        self._preferred_idx = np.array(sorted(index[c] for c in self._preferred), dtype=np.intp)
        self._is_preferred = np.zeros(len(self._groups), dtype=bool)
        self._is_preferred[self._preferred_idx] = True
        allowed = X_LANGUAGES | self._preferred
        members: dict[int, list[int]] = {}
        for label, key in enumerate(keys):
            if key in allowed:
                members.setdefault(index[key], []).append(label)
        # round r adds the r-th label of each group: each sum in label order, as a bincount's
        self._rounds = [
            (
                np.array([g for g, labels in members.items() if len(labels) > r], dtype=np.intp),
                np.array([labels[r] for labels in members.values() if len(labels) > r]),
            )
            for r in range(max(map(len, members.values())))
        ]
        _letter_table()
        self._identifier = identifier  # scores the texts too close to call on the batch's
        self._model = _Model.from_identifier(identifier)
        logger.debug(
            "language detector loaded labels=%d preferred=%s",
            len(identifier.labels),
            sorted(self._preferred),
        )

    def _merged(self, per_label: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Probability of each group (texts x groups), zero for the groups not allowed."""
        merged = np.zeros((len(per_label), len(self._groups)), dtype=np.float64)
        for groups, labels in self._rounds:
            merged[:, groups] += per_label[:, labels]
        return merged

    def probabilities(self, text: str) -> dict[str, float]:
        """Probability of each language for already cleaned `text`, varieties merged
        (py3langid's, up to float32 rounding).

        Keys are ISO 639-1 codes, or py3langid's own code for its languages that have none.
        """
        self.load()
        assert self._model is not None
        scores = self._merged(self._model.probabilities([text])[0])[0]
        return {key: float(p) for key, p in zip(self._groups, scores, strict=True) if p > 0}

    def _choose(
        self, scores: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """Best group of each row (a preferred one when close) and its probability."""
        rows = np.arange(len(scores))
        best = scores.argmax(axis=1)
        if self._preferred_idx.size:
            preferred = self._preferred_idx[scores[:, self._preferred_idx].argmax(axis=1)]
            close = scores[rows, preferred] >= self.prefer_ratio * scores[rows, best]
            best = np.where(close & ~self._is_preferred[best], preferred, best)
        return best, scores[rows, best]

    def _doubtful(
        self,
        scores: npt.NDArray[np.float64],
        prob: npt.NDArray[np.float64],
        margins: npt.NDArray[np.float64],
        confidence: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.bool_]:
        """Rows whose choice a relative change of their margin in the scores could alter."""

        def top_two(part: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return np.sort(np.partition(part, -2, axis=1)[:, -2:], axis=1)

        top = top_two(scores)  # second, first
        doubt = (top[:, 0] >= top[:, 1] * (1.0 - margins)) | (top[:, 1] < 1e-30)
        if self._preferred_idx.size:
            preferred = scores[:, self._preferred_idx]
            if self._preferred_idx.size > 1:
                near = top_two(preferred)
                doubt |= near[:, 0] >= near[:, 1] * (1.0 - margins)
            gap = np.abs(preferred.max(axis=1) - self.prefer_ratio * top[:, 1])
            switching = ~self._is_preferred[scores.argmax(axis=1)]
            doubt |= switching & (gap <= margins * top[:, 1])
        if self.min_confidence > 0:
            doubt |= confidence & (np.abs(prob - self.min_confidence) <= margins * prob)
        result: npt.NDArray[np.bool_] = doubt & (margins > 0)
        return result

    def _best(
        self, cleaned: Sequence[str], confidence: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """Best group of each text and its probability, as py3langid's own scores give them:
        chosen on the batch's scores, unless too close to call on them (within the text's
        margin, `_MARGIN_PER_100_BYTES`). `confidence` flags the texts whose probability is
        held against `min_confidence`."""
        assert self._model is not None and self._identifier is not None
        per_label, margins = self._model.probabilities(cleaned)
        scores = self._merged(per_label)
        best, prob = self._choose(scores)
        doubtful = np.flatnonzero(self._doubtful(scores, prob, margins, confidence))
        if doubtful.size:
            exact = np.stack([self._identifier._decide(cleaned[i]) for i in doubtful.tolist()])
            best[doubtful], prob[doubtful] = self._choose(self._merged(exact))
        return best, prob

    def detect(self, text: str, x_lang: str | None = None) -> str:
        """ISO 639-1 code of `text` (`und` when unknown); `x_lang` is X's tag for the post."""
        return self.detect_batch([text], [x_lang])[0]

    def detect_batch(self, texts: Sequence[str], x_langs: Sequence[str | None]) -> list[str]:
        """`detect` of each text with its X tag, in order; the two sequences must match.

        Raises ValueError when their lengths differ.
        """
        if len(texts) != len(x_langs):
            raise ValueError(f"{len(texts)} texts but {len(x_langs)} x_langs")
        self.load()
        found: list[str] = []
        for i in range(0, len(texts), _CHUNK):
            found += self._detect_chunk(texts[i : i + _CHUNK], x_langs[i : i + _CHUNK])
        return found

    def _detect_chunk(self, texts: Sequence[str], x_langs: Sequence[str | None]) -> list[str]:
        cleaned = clean_batch(texts)
        letters = _letter_counts(cleaned).tolist()
        found = [UNDETERMINED] * len(texts)
        scored = []
        for i, (count, x_lang) in enumerate(zip(letters, x_langs, strict=True)):
            if count == 0:
                continue  # no letter: und, whatever X says
            tagged = normalize_x_lang(x_lang)
            if count < self.min_letters or (tagged and count < self.short_letters):
                found[i] = tagged or UNDETERMINED
            else:
                scored.append(i)
        if not scored:
            return found
        confidence = np.array([letters[i] < self.short_letters for i in scored])
        best, prob = self._best([cleaned[i] for i in scored], confidence)
        for i, group, p in zip(scored, best.tolist(), prob.tolist(), strict=True):
            if letters[i] < self.short_letters and p < self.min_confidence:
                continue
            code = self._groups[group]
            if len(code) == 2:
                found[i] = code
        return found
