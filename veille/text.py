"""Text folding shared by the watch matchers and the enrichment: case- and accent-insensitive.

`fold("Crédit Agricole")` == `fold("CREDIT agricole")` == "credit agricole". Matching always
happens between folded forms, so watch.yaml may be written with or without accents.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Iterable
from typing import Any

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


def _combining_class(low: int, high: int) -> str:
    """A character class of the code points in [low, high] with a non-zero canonical combining
    class (what `unicodedata.combining` tells), as ranges."""
    ranges: list[tuple[int, int]] = []
    for cp in range(low, high + 1):
        if unicodedata.combining(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    body = "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )
    return f"[{body}]+"


_LIGATURE_RE = re.compile("[" + "".join(chr(cp) for cp in _LIGATURES) + "]")


@functools.cache
def _combining() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The combining marks, in two classes, built on the first text that needs them (a walk over
    every code point, ~60 ms, that a process reading only ASCII never pays): the engine tests a
    class of the Basic Multilingual Plane with one table lookup per character, while a class
    reaching beyond it is a list of ranges tried one by one. The few combining marks beyond
    (historic scripts, musical notation, U+101FD to U+1E94A) are looked for only in the texts
    with a character in that span: (BMP class, span, class beyond)."""
    return (
        re.compile(_combining_class(0, 0xFFFF)),
        re.compile("[\U000101fd-\U0001e94a]"),
        re.compile(_combining_class(0x10000, sys.maxunicode)),
    )


MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,50})")
HASHTAG_RE = re.compile(r"(?<![\w#])#(\w+)")
CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9_.]{0,9})\b")
URL_RE = re.compile(r"https?://\S+")


def fold(text: str) -> str:
    """Lower-case, accent-free form of `text` (NFKD without combining marks, casefolded)."""
    if text.isascii():  # nothing to decompose: the common case, made fast
        return text.lower()
    if _LIGATURE_RE.search(text):  # str.translate looks up every character: only if needed
        text = text.translate(_LIGATURES)
    bmp, span, astral = _combining()
    text = bmp.sub("", unicodedata.normalize("NFKD", text))
    if span.search(text):
        text = astral.sub("", text)
    return text.casefold()


def term_alternation(terms: Iterable[str]) -> str:
    """A regex matching any of `terms` literally, the longest one where several match at a
    position, written as a trie (`abc|abd|ab` as `ab(?:[cd])?`): the engine then tries one
    branch per character instead of every term at every position of the text, which is what
    makes a list of a few hundred terms cheap to search. Same matches as the alternation of the
    escaped terms sorted longest first. Empty when `terms` is."""
    trie: dict[str, Any] = {}
    for term in set(terms):
        node = trie
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}

    def render(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + render(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" not in node:
            return body
        return f"(?:{body})?" if len(branches) > 1 or len(body) > 1 else f"{body}?"

    return render(trie)


def terms_regex(terms: Iterable[str]) -> re.Pattern[str] | None:
    """A regex finding `terms` (literally, empty ones ignored) on word boundaries: neither
    preceded nor followed by a word character; where several match at one place, the longest.
    None when there is no term. Each branch opens with the term's first character and only
    then looks behind it, so that the engine can skip to the characters a term starts with."""
    rests: dict[str, set[str]] = {}
    for term in terms:
        if term:
            rests.setdefault(term[0], set()).add(term[1:])
    if not rests:
        return None
    branches = []
    for first, tails in sorted(rests.items()):
        tail = term_alternation(tails)
        branches.append(re.escape(first) + r"(?<!\w[\s\S])" + (f"(?:{tail})" if tail else ""))
    return re.compile("(?:" + "|".join(branches) + r")(?!\w)")


def mentions_in(text: str) -> list[str]:
    """@handles written in a text (used when a post carries no X entities)."""
    return MENTION_RE.findall(text)


def hashtags_in(text: str) -> list[str]:
    return HASHTAG_RE.findall(text)
