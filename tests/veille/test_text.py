"""Folding: the regex that strips combining marks does what the per-character test did."""

from __future__ import annotations

import random
import re
import sys
import unicodedata

from veille.text import _LIGATURES, fold, term_alternation, terms_regex


def _reference(text: str) -> str:
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def test_fold_strips_accents_and_ligatures() -> None:
    assert fold("Crédit Agricole") == fold("CREDIT agricole") == "credit agricole"
    assert fold("Œuvre ÆSIR Łódź") == "oeuvre aesir lodz"
    assert fold("ＯＲＢＩＴＡＬ") == "orbital"  # full-width letters (NFKD)
    assert fold("ﻻ") == unicodedata.normalize("NFKD", "ﻻ")  # Arabic ligature decomposed


def test_the_combining_marks_beyond_the_bmp_lie_in_the_span_fold_looks_at() -> None:
    astral = [cp for cp in range(0x10000, sys.maxunicode + 1) if unicodedata.combining(chr(cp))]
    assert 0x101FD <= min(astral) and max(astral) <= 0x1E94A


def test_fold_equals_the_per_character_reference_on_random_text() -> None:
    rng = random.Random(7)
    planes = [
        (0x20, 0x24F),
        (0x300, 0x36F),
        (0x590, 0x6FF),
        (0x900, 0x97F),
        (0x1D160, 0x1D1AF),  # musical notation: combining marks beyond the BMP
        (0x1F300, 0x1FAFF),
        (0x152, 0x153),  # œ, Œ
        (0x2018, 0x2019),  # ’ ‘
    ]
    for _ in range(20_000):
        text = "".join(chr(rng.randint(*rng.choice(planes))) for _ in range(rng.randint(0, 12)))
        assert fold(text) == _reference(text), ascii(text)


def test_terms_regex_finds_what_the_longest_first_alternation_finds() -> None:
    """The trie finds the same matches, at the same places, as the plain alternation sorted
    longest first, on term sets full of shared prefixes and on texts made of their pieces."""
    rng = random.Random(11)
    alphabet = "ab c-é'#"
    for _ in range(300):
        terms = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(12)}
        terms = {t for t in terms if t.strip()}
        plain = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
        reference = re.compile(rf"(?<!\w)(?:{plain})(?!\w)")
        trie = terms_regex(terms)
        assert trie is not None
        for _ in range(20):
            text = " ".join(rng.choice([*terms, "x", "ab", " "]) for _ in range(8))
            got = [(m.start(), m.group(0)) for m in trie.finditer(text)]
            assert got == [(m.start(), m.group(0)) for m in reference.finditer(text)], (
                terms,
                text,
            )
    assert term_alternation([]) == "" and terms_regex([""]) is None
