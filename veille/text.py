"""Text folding shared by the watch matchers and the enrichment: case- and accent-insensitive.

`fold("Crédit Agricole")` == `fold("CREDIT agricole")` == "credit agricole". Matching always
happens between folded forms, so watch.yaml may be written with or without accents.
"""

from __future__ import annotations

import re
import unicodedata

_LIGATURES = str.maketrans(
    {
        "œ": "oe",
        "Œ": "oe",
        "æ": "ae",
        "Æ": "ae",
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "’": "'",
        "‘": "'",
    }
)

MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,50})")
HASHTAG_RE = re.compile(r"(?<![\w#])#(\w+)")
CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9_.]{0,9})\b")
URL_RE = re.compile(r"https?://\S+")


def fold(text: str) -> str:
    """Lower-case, accent-free form of `text` (NFKD without combining marks, casefolded)."""
    if text.isascii():  # nothing to decompose: the common case, made fast
        return text.lower()
    text = text.translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


def mentions_in(text: str) -> list[str]:
    """@handles written in a text (used when a post carries no X entities)."""
    return MENTION_RE.findall(text)


def hashtags_in(text: str) -> list[str]:
    return HASHTAG_RE.findall(text)
