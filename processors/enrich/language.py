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

The model is py3langid's bundled one (inside its wheel; nothing is downloaded). `load()` takes
about half a second and is done once per detector. Detection is pure CPU, about 10,000 posts/s
on one core; a detector may be shared by threads once loaded.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

__all__ = ["UNDETERMINED", "LanguageDetector", "clean_for_detection", "normalize_x_lang"]

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

_URL_RE = re.compile(r"(?:https?://|www\.)\S+|\bhttps?\b(?::/*)?", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<![\w@])@\w{1,50}")
_RT_RE = re.compile(r"(?<!\w)RT(?!\w)\s*:?")
_HASHTAG_RE = re.compile(r"#(\w+)")
_CAMEL_RE = re.compile(r"(?<=[a-zà-ÿ])(?=[A-ZÀ-Þ])")
_SPACES_RE = re.compile(r"\s+")


def _split_hashtag(match: re.Match[str]) -> str:
    return " " + _CAMEL_RE.sub(" ", match.group(1)).replace("_", " ") + " "


def clean_for_detection(text: str) -> str:
    """The words of a post: mentions, links, `RT`, `#` signs and HTML entities removed."""
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = _URL_RE.sub(" ", text)
    text = _MENTION_RE.sub(" ", text)
    text = _RT_RE.sub(" ", text)
    text = _HASHTAG_RE.sub(_split_hashtag, text)
    return _SPACES_RE.sub(" ", text).strip().lower()


def count_letters(text: str) -> int:
    """Letters (and combining marks) in `text`: what detection has to go on."""
    return sum(1 for c in text if c.isalpha() or unicodedata.category(c) == "Mn")


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
        self._identifier: LanguageIdentifier | None = None
        self._preferred: frozenset[str] = frozenset()

    def load(self) -> None:
        """Load py3langid's bundled model (idempotent)."""
        if self._identifier is not None:
            return
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        known = {iso for iso in map(_iso1, identifier.labels) if iso}
        unknown = [code for code in self.languages if code not in known]
        if unknown:
            logger.warning("preferred languages unknown to the detector ignored: %s", unknown)
        self._preferred = frozenset(code for code in self.languages if code in known)
        # py3langid's labels grouped by ISO 639-1 code (regional varieties merged), so that
        # one bincount turns its scores into ours
        keys = [_iso1(code) or code for code in identifier.nb_classes]
        self._groups = list(dict.fromkeys(keys))
        index = {key: i for i, key in enumerate(self._groups)}
        self._group_of = np.array([index[k] for k in keys], dtype=np.intp)
        self._preferred_idx = np.array(sorted(index[c] for c in self._preferred), dtype=np.intp)
        allowed = X_LANGUAGES | self._preferred
        self._allowed = np.array([g in allowed for g in self._groups], dtype=bool)
        self._identifier = identifier
        logger.debug(
            "language detector loaded labels=%d preferred=%s",
            len(identifier.labels),
            sorted(self._preferred),
        )

    def probabilities(self, text: str) -> dict[str, float]:
        """Probability of each language for already cleaned `text`, varieties merged.

        Keys are ISO 639-1 codes, or py3langid's own code for its languages that have none.
        """
        scores = self._scores(text)
        return {key: float(p) for key, p in zip(self._groups, scores, strict=True) if p > 0}

    def _scores(self, text: str) -> npt.NDArray[np.float64]:
        self.load()
        assert self._identifier is not None
        per_label = self._identifier._decide(text)  # probabilities, aliases folded
        merged: npt.NDArray[np.float64] = np.bincount(
            self._group_of, weights=per_label, minlength=len(self._groups)
        ).astype(np.float64, copy=False)
        merged[~self._allowed] = 0.0
        return merged

    def _best(self, text: str) -> tuple[str, float]:
        scores = self._scores(text)
        best = int(scores.argmax())
        if self._preferred_idx.size and best not in self._preferred_idx:
            preferred = int(self._preferred_idx[scores[self._preferred_idx].argmax()])
            if scores[preferred] >= self.prefer_ratio * scores[best]:
                best = preferred
        return self._groups[best], float(scores[best])

    def detect(self, text: str, x_lang: str | None = None) -> str:
        """ISO 639-1 code of `text` (`und` when unknown); `x_lang` is X's tag for the post."""
        cleaned = clean_for_detection(text)
        letters = count_letters(cleaned)
        if letters == 0:
            return UNDETERMINED
        tagged = normalize_x_lang(x_lang)
        if letters < self.min_letters or (tagged and letters < self.short_letters):
            return tagged or UNDETERMINED
        best, prob = self._best(cleaned)
        if letters < self.short_letters and prob < self.min_confidence:
            return UNDETERMINED
        return best if len(best) == 2 else UNDETERMINED

    def detect_batch(self, texts: Sequence[str], x_langs: Sequence[str | None]) -> list[str]:
        """`detect` of each text with its X tag, in order; the two sequences must match.

        Raises ValueError when their lengths differ.
        """
        if len(texts) != len(x_langs):
            raise ValueError(f"{len(texts)} texts but {len(x_langs)} x_langs")
        self.load()
        return [self.detect(text, tag) for text, tag in zip(texts, x_langs, strict=True)]
