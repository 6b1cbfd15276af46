"""processors.enrich.language's batch path gives the decisions of the per-text detector it
replaced, kept here as the reference: cleaning text by text with the original patterns, letters
counted a character at a time, py3langid's own `_decide` (its automaton walked byte by byte).
The batch path's scores differ from py3langid's by float32 rounding only: the same features are
counted (checked exactly), and a decision too close to call on them is left to py3langid.

Checked on the synthetic source's posts, the XLM-T tweets (when `../shared/data/xlmt` is there),
edge cases and random texts, under several detector settings.
"""

from __future__ import annotations

import html
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier, visit_counts

from ingest.synthetic import SyntheticSource
from processors.enrich import language
from processors.enrich.language import (
    UNDETERMINED,
    X_LANGUAGES,
    LanguageDetector,
    clean_batch,
    clean_for_detection,
    count_letters,
    normalize_x_lang,
)
from processors.enrich.training.data import default_data_dir, language_folders, load_split
from veille.models import parse_stream_payload
from veille.watch import load_watch

# --- the reference: the per-text detector as it was ------------------------------------------

_URL_RE = re.compile(r"(?:https?://|www\.)\S+|\bhttps?\b(?::/*)?", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<![\w@])@\w{1,50}")
_RT_RE = re.compile(r"(?<!\w)RT(?!\w)\s*:?")
_HASHTAG_RE = re.compile(r"#(\w+)")
_CAMEL_RE = re.compile(r"(?<=[a-zà-ÿ])(?=[A-ZÀ-Þ])")
_SPACES_RE = re.compile(r"\s+")
_TO_ISO1 = {"arz": "ar", "ary": "ar", "uzs": "uz", "gug": "gn", "yue": "zh", "wuu": "zh"}
_TO_ISO1 |= {"hbo": "he", "grc": "el", "pcm": "en"}


def reference_clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = _URL_RE.sub(" ", text)
    text = _MENTION_RE.sub(" ", text)
    text = _RT_RE.sub(" ", text)
    text = _HASHTAG_RE.sub(
        lambda m: " " + _CAMEL_RE.sub(" ", m.group(1)).replace("_", " ") + " ", text
    )
    return _SPACES_RE.sub(" ", text).strip().lower()


def reference_letters(text: str) -> int:
    return sum(1 for c in text if c.isalpha() or unicodedata.category(c) == "Mn")


@cache
def reference_cleaned(text: str) -> tuple[str, int]:
    cleaned = reference_clean(text)
    return cleaned, reference_letters(cleaned)


_DECIDED: dict[str, npt.NDArray[np.float32]] = {}  # py3langid's scores of each cleaned text


def _iso1(code: str) -> str | None:
    return code if len(code) == 2 else _TO_ISO1.get(code)


class Reference:
    """The per-text detector with the settings of `detector`; py3langid scores each text."""

    def __init__(self, detector: LanguageDetector, identifier: LanguageIdentifier) -> None:
        self.d = detector
        self.identifier = identifier
        known = {iso for iso in map(_iso1, identifier.labels) if iso}
        preferred = {code for code in detector.languages if code in known}
        keys = [_iso1(code) or code for code in identifier.nb_classes]
        self.groups = list(dict.fromkeys(keys))
        index = {key: i for i, key in enumerate(self.groups)}
        self.group_of = np.array([index[k] for k in keys], dtype=np.intp)
        self.preferred_idx = np.array(sorted(index[c] for c in preferred), dtype=np.intp)
        self.allowed = np.array([g in X_LANGUAGES | preferred for g in self.groups])

    def scores(self, cleaned: str) -> npt.NDArray[np.float64]:
        if cleaned not in _DECIDED:
            _DECIDED[cleaned] = self.identifier._decide(cleaned)
        merged = np.bincount(
            self.group_of, weights=_DECIDED[cleaned], minlength=len(self.groups)
        ).astype(np.float64)
        merged[~self.allowed] = 0.0
        return merged

    def detect(self, text: str, x_lang: str | None) -> str:
        d = self.d
        cleaned, letters = reference_cleaned(text)
        if letters == 0:
            return UNDETERMINED
        tagged = normalize_x_lang(x_lang)
        if letters < d.min_letters or (tagged and letters < d.short_letters):
            return tagged or UNDETERMINED
        scores = self.scores(cleaned)
        best = int(scores.argmax())
        if self.preferred_idx.size and best not in self.preferred_idx:
            preferred = int(self.preferred_idx[scores[self.preferred_idx].argmax()])
            if scores[preferred] >= d.prefer_ratio * scores[best]:
                best = preferred
        if letters < d.short_letters and scores[best] < d.min_confidence:
            return UNDETERMINED
        code = self.groups[best]
        return code if len(code) == 2 else UNDETERMINED


# --- texts -----------------------------------------------------------------------------------

EDGE_CASES = [
    "",
    " ",
    "\n\t\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000",
    "😂😂🔥",
    "👍",
    "12:45 !!!",
    "@orbital https://t.co/xyz",
    "RT @a: https://t.co/x www.example.com #",
    "RT",
    "RT: merci",
    "#",
    "#_",
    "#CamelCaseTagÉtéÀParis",
    "&amp;&lt;&#0;&#x1F600;&notit; &amp",
    "\x00",
    "\x00\x00 a",
    "bonjour\x00tout le monde, ça va très bien aujourd'hui",
    "\ud800",
    "merci \ud83d beaucoup pour votre aide",
    "\udfff\ud800 texte avec des demi-paires isolées dans une phrase",
    "ΣΑΣ ΚΑΛΗΜΕΡΑ ΣΑΣ ΦΙΛΟΙ ΜΟΥ",
    "ΟΔΟΣ",
    "ϒϓϔ ℂℍℕ",
    "İSTANBUL ÇOK GÜZEL BİR ŞEHİR",
    "\u0301\u0301 combining marks first",
    "e\u0301te\u0301 a\u0300 Paris avec des accents de\u0301compose\u0301s",
    "ＦＵＬＬ ＷＩＤＴＨ ｔｅｘｔ ｉｎ ｅｎｇｌｉｓｈ",
    "𝐁𝐨𝐥𝐝 𝐭𝐞𝐱𝐭 𝐡𝐞𝐫𝐞 𝐟𝐨𝐫 𝐲𝐨𝐮",
    "ﻻ ﺗﻮﺟﺪ ﺷﺒﻜﺔ ﻣﻨﺬ ﺍﻟﺼﺒﺎﺡ",
    "Hello мир 世界 مرحبا שלום नमस्ते 안녕하세요 สวัสดี",
    "HTTPS://EXAMPLE.COM/ABC texto em português sobre a rede",
    "httpſ://x.y oui non peut-être",
    "xhttp://a b https http: https:// HTTP:///",
    "ok",
    "ok merci",
    "bonjour " * 2000,
    "a" * 10000,
    "東京" * 3000,
    "🔥" * 500,
    "\u200b\u200d\ufeff zero width joiner, BOM and friends",
    "ǅemal ǈubljana ǋ titlecase",
    "한국어 텍스트입니다 정말로",
    "यह एक हिंदी वाक्य है",
    "yaar ye network bahut kharab hai aaj",
    "\x7f\x80\x9f control characters here",
    "\U0010ffff\U000e0001 plane sixteen and tags",
    "ß ẞ ﬁ ﬂ Ⅻ ① ½",
    "Grazas por difundir a nosa campaña",
    "Gratias tibi ago pro auxilio tuo, amice carissime, et vale semper",
]

_FUZZ_TOKENS = (
    "RT|rt|RT:|RT :|@|@user|@@x|a@b|#|#Tag|#camelCaseTag|#a_b|#_x|http|https|HTTP://x.y|"
    "httpſ://z|www.|WWW.x.fr|http:/|https://|&amp;|&|&#64;|&#0;|&#35;x|é|e\u0301|\u0301|Σ|σ|ς|"
    "ΑΣ|ﬁ|Ⅻ|①|😀|\ud800|\udc00|abc|Xyz|_|-|:|/|.|word|mot|ÀÉ|İ|ß|ǅ|\u200d|\ufeff|٣|ـ"
).split("|")
_FUZZ_SPACES = ["", "", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\x1c"]


def fuzz_texts(n: int, seed: int, nul: bool = False) -> list[str]:
    rng = random.Random(seed)
    tokens = _FUZZ_TOKENS + (["\x00"] if nul else [])
    return [
        "".join(rng.choice(tokens) + rng.choice(_FUZZ_SPACES) for _ in range(rng.randrange(0, 12)))
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@pytest.fixture(scope="module")
def posts() -> tuple[list[str], list[str | None]]:
    """Texts and X tags: synthetic posts, XLM-T tweets (when present), edge cases."""
    watch = load_watch()
    source = SyntheticSource(watch, rate=None, seed=11, start_time=datetime(2026, 1, 1, tzinfo=UTC))
    synthetic = [parse_stream_payload(p, source="synthetic") for p in source.generate(3000)]
    texts = [p.text for p in synthetic]
    tags = [p.x_lang for p in synthetic]
    data = default_data_dir()
    if language_folders(data):
        for split in ("train", "val"):
            tweets = load_split(data, split).texts
            texts += tweets
            tags += [None] * len(tweets)
    texts += EDGE_CASES + fuzz_texts(1000, seed=5)
    tags += [None] * (len(EDGE_CASES) + 1000)
    return texts, tags


SETTINGS = [
    {},
    {"languages": ["fr", "en", "es", "de"]},
    {"languages": ["gl", "la", "oc"]},
    {
        "languages": ["fr", "en", "es", "de", "it", "pt", "ar"],
        "min_confidence": 0.7,
        "short_letters": 40,
        "prefer_ratio": 0.5,
    },
    {"min_letters": 1, "short_letters": 1, "prefer_ratio": 1.0},
]
OTHER_TAGS = ["fr", "en", "und", "qme", "pt-BR", "in", None, "zh-cn", "xx-YY", "", "EN", "ja"]


@pytest.mark.parametrize("settings", SETTINGS)
def test_batch_decides_as_the_per_text_reference(
    settings: dict[str, object],
    posts: tuple[list[str], list[str | None]],
    identifier: LanguageIdentifier,
) -> None:
    texts, tags = posts
    assert len(texts) > 4096  # more than one of detect_batch's chunks
    detector = LanguageDetector(**settings)  # type: ignore[arg-type]
    reference = Reference(detector, identifier)
    rng = random.Random(3)
    other = [rng.choice(OTHER_TAGS) for _ in texts]
    for x_langs in (tags, [None] * len(texts), other):
        expected = [reference.detect(t, x) for t, x in zip(texts, x_langs, strict=True)]
        found = detector.detect_batch(texts, x_langs)
        wrong = [
            (t[:60], x, e, f)
            for t, x, e, f in zip(texts, x_langs, expected, found, strict=True)
            if e != f
        ]
        assert not wrong, f"{len(wrong)} of {len(texts)} differ: {wrong[:5]}"
    # batches of any size (and one text) decide alike
    sample = texts[:300] + EDGE_CASES
    expected = [reference.detect(t, None) for t in sample]
    for size in (1, 7, 64):
        found = []
        for i in range(0, len(sample), size):
            found += detector.detect_batch(sample[i : i + size], [None] * len(sample[i : i + size]))
        assert found == expected
    assert [detector.detect(t) for t in EDGE_CASES] == expected[300:]


@pytest.mark.parametrize("margin", [0.0, 1e9])
def test_close_calls_left_to_py3langid_decide_alike(
    margin: float,
    posts: tuple[list[str], list[str | None]],
    identifier: LanguageIdentifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # no margin: every text decided on the batch's scores; a huge one: every text with a
    # feature re-scored by py3langid itself
    monkeypatch.setattr(language, "_MARGIN_PER_100_BYTES", margin)
    texts = posts[0][:2000] + EDGE_CASES
    for settings in (SETTINGS[1], SETTINGS[3]):
        detector = LanguageDetector(**settings)  # type: ignore[arg-type]
        reference = Reference(detector, identifier)
        expected = [reference.detect(t, None) for t in texts]
        assert detector.detect_batch(texts, [None] * len(texts)) == expected


def test_probabilities_are_py3langid_s(
    posts: tuple[list[str], list[str | None]], identifier: LanguageIdentifier
) -> None:
    detector = LanguageDetector(["fr", "en", "es", "de"])
    reference = Reference(detector, identifier)
    texts = [reference_clean(t) for t in posts[0][::50] + EDGE_CASES]
    texts += ["HELLO WORLD, HOW ARE YOU", "ΣΑΣ ΚΑΛΗΜΕΡΑ"]  # not cleaned: py3langid lowers these
    for cleaned in texts:
        expected = dict(zip(reference.groups, reference.scores(cleaned), strict=True))
        found = detector.probabilities(cleaned)
        assert set(found) <= {k for k, p in expected.items() if p > 0}
        got = np.array([found.get(k, 0.0) for k in reference.groups])
        # float32 rounding apart (summed in another order)
        assert np.allclose(got, list(expected.values()), rtol=1e-3, atol=1e-6), cleaned[:60]


@pytest.mark.parametrize("nul", [False, True])
def test_batch_cleaning_and_letters_are_the_per_text_ones(
    posts: tuple[list[str], list[str | None]], nul: bool
) -> None:
    texts = posts[0] + fuzz_texts(5000, seed=1, nul=nul)
    expected = [reference_clean(t) for t in texts]
    for size in (1, 2, 7, 500, len(texts)):
        found: list[str] = []
        for i in range(0, len(texts), size):
            found += clean_batch(texts[i : i + size])
        assert found == expected
    assert [clean_for_detection(t) for t in texts[:2000]] == expected[:2000]
    assert clean_batch([]) == []
    assert [count_letters(t) for t in expected] == [reference_letters(t) for t in expected]


def _trie_strings(identifier: LanguageIdentifier) -> list[bytes]:
    """The byte string of each state of py3langid's automaton (breadth-first from the start)."""
    nextmove = np.frombuffer(identifier.tk_nextmove, dtype=identifier.tk_nextmove.typecode)
    rowbase = np.frombuffer(identifier.tk_row, dtype=identifier.tk_row.typecode).astype(np.intp)
    rowbase <<= 8
    strings = {0: b""}
    seen = np.zeros(rowbase.size, dtype=bool)
    seen[0] = True
    frontier = np.zeros(1, dtype=np.intp)
    while frontier.size:
        found = []
        for start in range(0, frontier.size, 2048):
            part = frontier[start : start + 2048]
            reached = nextmove[rowbase[part][:, None] + np.arange(256)]
            rows, byte = np.nonzero(~seen[reached])
            states, first = np.unique(reached[rows, byte], return_index=True)
            for state, k in zip(states.tolist(), first.tolist(), strict=True):
                strings[state] = strings[int(part[rows[k]])] + bytes([int(byte[k])])
            seen[states] = True
            found.append(states.astype(np.intp))
        frontier = np.concatenate(found)
    assert seen.all()
    return [strings[state] for state in range(rowbase.size)]


def _walk_counts(identifier: LanguageIdentifier, encoded: Sequence[bytes]) -> set[tuple]:
    rowbase = [r << 8 for r in identifier.tk_row]
    found = set()
    for i, text in enumerate(encoded):
        counts = visit_counts(identifier.tk_nextmove, rowbase, identifier.tk_output, text) or {}
        found |= {(i, f, float(np.log1p(np.float32(n)))) for f, n in Counter(counts).items()}
    return found


def test_batch_walk_counts_py3langid_s_features(identifier: LanguageIdentifier) -> None:
    detector = LanguageDetector()
    detector.load()
    model = detector._model
    assert model is not None
    strings = _trie_strings(identifier)
    deepest = max(map(len, strings))
    assert model.depth == deepest
    rng = random.Random(2)
    deep = [s for s in strings if len(s) >= deepest - 1]
    texts = [
        bytes(rng.randrange(256) for _ in range(rng.randrange(4)))
        + b"".join(rng.choice(deep) for _ in range(rng.randrange(1, 6)))
        for _ in range(3000)
    ]
    texts += [bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(500)]
    texts += [b"", b"a", b"\xff", b"\x00" * 3] + [
        t.encode("utf-8", "surrogatepass") for t in EDGE_CASES
    ]
    counts = model.features(texts).tocoo()
    found = set(zip(counts.row.tolist(), counts.col.tolist(), counts.data.tolist(), strict=True))
    assert found == _walk_counts(identifier, texts)
