"""processors.enrich.features and .linear against the straightforward implementation they replaced.

The featurizer works on a whole batch at once (one regular-expression pass over the joined
posts, numpy for folding and tokens, a hash table for counting) and the scoring gathers each
feature's weights once. This file keeps the plain version (regular expressions post by post,
`np.unique` over (post, bucket) keys, one `np.bincount` per class) as the reference, and
checks on thousands of texts (XLM-T train tweets when the data is present, synthetic posts,
edge cases) that both give the same features, the same TF-IDF values (what training fits on)
and the same probabilities of the shipped model.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from scipy.sparse import csr_matrix

from processors.enrich import features
from processors.enrich.features import FeatureConfig, HashingFeaturizer, SparseCounts, normalize
from processors.enrich.linear import LinearModel, term_values
from processors.enrich.sentiment import FastSentiment
from processors.enrich.training import default_data_dir, load_split
from processors.enrich.training.fit import tfidf

# ---------------------------------------------------------------- the reference implementation

_U64 = np.uint64
_P = 0x9E3779B97F4A7C15
_Q = pow(_P, -1, 2**64)
_URL_RE = re.compile(r"(?:https?://|www\.)\S+|\bhttps?\b(?::/*)?", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<![\w@])@\w{1,50}")
_NOISE_RE = re.compile("[\u200b-\u200f\u2060\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")
_REPEAT_RE = re.compile(r"(\S)\1{2,}")
_DIGITS_RE = re.compile(r"\d")
_TOKEN_RE = re.compile(r"@user\b|\w+|[^\w\s]")
_AR_MARKS_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_AR_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})


def ref_normalize(text: str, *, digits: bool = True, arabic: bool = True) -> str:
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
    z = h ^ _U64((salt * 0xD6E8FEB86659FD93) & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def ref_counts(
    cfg: FeatureConfig, texts: Sequence[str], langs: Sequence[str] | None
) -> SparseCounts:
    """Counts with every row's indices sorted: hashes of each gram, then `np.unique`."""
    n_docs = len(texts)
    docs = [" " + ref_normalize(t, digits=cfg.digits, arabic=cfg.arabic) + " " for t in texts]
    cp = np.frombuffer("".join(docs).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    cp = cp.astype(np.uint64)
    n = len(cp)
    doc_of = np.repeat(np.arange(n_docs), [len(d) for d in docs])
    with np.errstate(over="ignore"):
        pow_p = np.ones(n + 1, dtype=np.uint64)
        pow_q = np.ones(n + 1, dtype=np.uint64)
        pow_p[1:] = np.cumprod(np.full(n, _P, dtype=np.uint64))
        pow_q[1:] = np.cumprod(np.full(n, _Q, dtype=np.uint64))
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(cp * pow_q[:n], out=prefix[1:])

        def span(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
            result: npt.NDArray[np.uint64] = (prefix[b] - prefix[a]) * pow_p[a]
            return result

        hashes, owners = [], []
        is_space = cp == 32
        spaces = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(is_space, out=spaces[1:])
        for size in range(cfg.char_min, cfg.char_max + 1):
            if n < size:
                break
            start = np.arange(n - size + 1)
            end = start + size
            ok = doc_of[start] == doc_of[end - 1]
            if size == 1:
                ok &= ~is_space[start]
            elif size == 2:
                ok &= ~(is_space[start] & is_space[start + 1])
            else:
                ok &= spaces[end - 1] == spaces[start + 1]
            start, end = start[ok], end[ok]
            hashes.append(_mix(span(start, end), 100 + size))
            owners.append(doc_of[start])
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
            hashes.append(_mix(span(a[ok], b[ok]), 200 + size))
            owners.append(tok_doc[: len(ok)][ok])
        hashes.append(_mix(np.zeros(n_docs, dtype=np.uint64), 1))
        owners.append(np.arange(n_docs))
        h, owner = np.concatenate(hashes), np.concatenate(owners)
        if cfg.lang_copies and langs is not None:
            index = {lang: i for i, lang in enumerate(cfg.languages)}
            lang_ids = np.array([index.get(lang, -1) for lang in langs], dtype=np.int64)
            own_lang = lang_ids[owner]
            keep = own_lang >= 0
            salted = _mix(h[keep] ^ (own_lang[keep].astype(np.uint64) + _U64(1)), 7)
            h, owner = np.concatenate([h, salted]), np.concatenate([owner, owner[keep]])
        bucket = (h >> _U64(64 - cfg.n_bits)).astype(np.int64)
    uniq, cnt = np.unique((owner << cfg.n_bits) | bucket, return_counts=True)
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(uniq >> cfg.n_bits, minlength=n_docs), out=indptr[1:])
    n_features = 1 << cfg.n_bits
    return SparseCounts(indptr, uniq & (n_features - 1), cnt.astype(np.float32), n_features)


def ref_term_values(
    counts: SparseCounts, weight: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    values = (1.0 + np.log(counts.counts)) * weight[counts.indices]
    rows = counts.rows
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=counts.n_rows))
    norms[norms == 0.0] = 1.0
    result: npt.NDArray[np.float32] = (values / norms[rows]).astype(np.float32)
    return result


def ref_probabilities(
    model: LinearModel, texts: Sequence[str], langs: Sequence[str]
) -> npt.NDArray[np.float64]:
    counts = ref_counts(model.config, texts, langs)
    values = ref_term_values(counts, model.weight)
    contrib = model.coef[counts.indices] * values[:, None]
    logits = np.empty((counts.n_rows, len(model.labels)))
    for k in range(len(model.labels)):
        logits[:, k] = np.bincount(counts.rows, weights=contrib[:, k], minlength=counts.n_rows)
    logits += model.intercept
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    result: npt.NDArray[np.float64] = logits / logits.sum(axis=1, keepdims=True)
    return result


# ------------------------------------------------------------------------------ the texts

EDGE_CASES = [
    "",
    " ",
    "\n\t ",
    "👍🏽🔥🔥🔥🔥",
    "🏳️‍🌈 \u200b\u200d\ufe0f",
    "𝕏 𝓊𝓈𝑒𝓇 𝟙𝟚𝟛 🤖 \U0001f600\U0001f600\U0001f600",
    "مَرْحَبًا بِكُمْ أإآٱ ى ة ـــــ ١٢٣٤",
    "ΟΔΟΣ ΟΔΟΣΣ Σ ΑΣ\u200bΒ ΣΑΣ.",
    "İstanbul IŞIK ǅemal ß ﬃ",
    "@user @users @user_ a@user @@user @USER! @usér @x @" + "a" * 60,
    "RT @Orbital_care: C'EST NUUUUL!!!! 👍🏽 http://t.co/x &amp; 2024",
    "hhttp://x http:/ HTTPſ://y wwW.x.y/z ſ xhttp:// https: http https://",
    "&amp;&#1;&#0;&lt;b&gt;&#x1F600;&#65535;&notin; &amp",
    "\udc00 lone \ud83d surrogates \ud83d\ude00 pair",
    "\x00 nul \x1f unit \x7f del",
    "loooooool!!!!!! ??? ... 1111 २२२२ ٣٣٣",
    "a" * 3 + "\u0301" * 4 + " e\u0301\u0301\u0301",
    "tab\tnew\nline\r\nform\x0cfeed\u2028para\u2029end",
    "snake_case_word __init__ _ __",
    "😀" * 500,
    " ".join(f"mot{i} كلمة{i % 7} wörd{i % 13} #{i} @u{i}" for i in range(1500)),
]
# \x01 joins the posts of a batch: posts holding one are featurized on their own
SEPARATOR_CASES = ["\x01", "a\x01b", "\x01\x01\x01 x\n\x01\n", "&#1;\x01&amp"]

_FRAGMENTS = [
    "love", "hate", "merci", "génial", "nul", "super", "scheiße", "grazie", "obrigado", "día",
    "NOOOO", "yessss", "lol", "mdr", "jajaja", "kkkk", "यार", "bahut", "accha",
    "رائع", "سيء", "جدا", "الله", "مَرْحَبًا", "آمين", "ةى",
    "😀", "😡", "👍🏽", "❤️", "🔥🔥🔥", "🤣🤣", "🇫🇷",
    "!", "!!!", "?", "...", ",", "'", '"', "#", "#tag", "$5", "100%", "2024", "١٢٣", "३",
    "@someone", "@user", "RT", "http://t.co/abc", "https://example.com/a?b=c", "www.site.fr",
    "&amp;", "&lt;3", "&#128512;", "\u200b", "\ufe0f", "ſ", "İ", "Σ", "\ud83d",
]  # fmt: skip
_GLUE = [" ", " ", " ", "", "\n", "  ", "\t"]


def synthetic_posts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    posts = []
    for _ in range(n):
        parts = rng.choice(len(_FRAGMENTS), size=int(rng.integers(0, 30)))
        glue = rng.choice(len(_GLUE), size=len(parts))
        posts.append("".join(_FRAGMENTS[p] + _GLUE[g] for p, g in zip(parts, glue, strict=True)))
    return posts


LANGS = ["fr", "en", "ar", "und", "de", "ja", "es", "pt", "it", "hi", "xx", ""]


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    """Edge cases, synthetic posts, XLM-T train tweets (every 4th, when present), posts holding
    the batch separator (last, so only the last batches take that path); their languages."""
    texts = EDGE_CASES + synthetic_posts(1500)
    data_dir = default_data_dir()
    if (data_dir / "english" / "train_text.txt").is_file():
        texts += load_split(data_dir, "train").texts[::4]
    texts += SEPARATOR_CASES
    return texts, [LANGS[i % len(LANGS)] for i in range(len(texts))]


def _same(a: SparseCounts, b: SparseCounts) -> None:
    assert a.n_features == b.n_features
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.counts, b.counts)


CONFIGS = [
    FeatureConfig(),
    FeatureConfig(n_bits=18, char_min=1, char_max=3, word_max=3, digits=False, arabic=False),
    FeatureConfig(n_bits=22, char_min=3, char_max=6, word_max=1, lang_copies=False),
]


# ------------------------------------------------------------------------------ the tests


def test_normalize_matches_the_reference(corpus: tuple[list[str], list[str]]) -> None:
    texts, _ = corpus
    assert len(texts) > 1500
    for text in texts:
        assert normalize(text) == ref_normalize(text), repr(text)
        assert normalize(text, digits=False, arabic=False) == ref_normalize(
            text, digits=False, arabic=False
        ), repr(text)


@pytest.mark.parametrize("cfg", CONFIGS, ids=["default", "small", "no-copies"])
def test_counts_match_the_reference(
    cfg: FeatureConfig, corpus: tuple[list[str], list[str]]
) -> None:
    texts, langs = corpus
    featurizer = HashingFeaturizer(cfg)
    # batches of one, odd sizes, the bench's 500, more than `_CHUNK`, with and without langs
    for size, with_langs in ((1, True), (7, False), (500, True), (1234, True)):
        stop = 300 if size == 1 else len(texts)
        for i in range(0, stop, size):
            batch, batch_langs = texts[i : i + size], langs[i : i + size] if with_langs else None
            _same(
                featurizer.counts(batch, batch_langs).sorted(), ref_counts(cfg, batch, batch_langs)
            )


def test_counts_of_an_empty_batch() -> None:
    counts = HashingFeaturizer(FeatureConfig()).counts([], [])
    assert counts.n_rows == 0 and counts.indptr.tolist() == [0] and len(counts.indices) == 0


def test_a_post_gets_the_same_row_in_any_batch(corpus: tuple[list[str], list[str]]) -> None:
    texts, langs = corpus
    texts, langs = texts[:599] + SEPARATOR_CASES[1:2], langs[:600]  # with a post on its own
    featurizer = HashingFeaturizer(FeatureConfig())
    batch = featurizer.counts(texts, langs)
    shuffled = np.random.default_rng(1).permutation(600)
    other = featurizer.counts([texts[i] for i in shuffled], [langs[i] for i in shuffled])
    for row, i in enumerate(shuffled):
        alone = featurizer.counts([texts[i]], [langs[i]])
        ours = slice(batch.indptr[i], batch.indptr[i + 1])
        theirs = slice(other.indptr[row], other.indptr[row + 1])
        assert (
            alone.indices.tolist() == batch.indices[ours].tolist() == other.indices[theirs].tolist()
        )
        assert alone.counts.tolist() == batch.counts[ours].tolist() == other.counts[theirs].tolist()


def test_counting_when_the_hash_rounds_give_up(
    corpus: tuple[list[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys still colliding after the last round are settled by a sort (here: all that lost
    their first slot), with the same result, in the same order."""
    texts, langs = corpus[0][:800], corpus[1][:800]
    featurizer = HashingFeaturizer(FeatureConfig())
    usual = featurizer.counts(texts, langs)
    monkeypatch.setattr(features, "_ROUNDS", ())
    _same(featurizer.counts(texts, langs), usual)
    _same(usual.sorted(), ref_counts(FeatureConfig(), texts, langs))


def test_counts_from_several_threads(corpus: tuple[list[str], list[str]]) -> None:
    texts, langs = corpus
    featurizer = HashingFeaturizer(FeatureConfig())
    batches = [(texts[i : i + 300], langs[i : i + 300]) for i in range(0, 2400, 300)]
    expected = [featurizer.counts(t, lang) for t, lang in batches]
    results: dict[int, list[SparseCounts]] = {}

    def work(k: int) -> None:
        results[k] = [featurizer.counts(t, lang) for t, lang in batches[k:] + batches[:k]]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k, got in results.items():
        for a, b in zip(got, expected[k:] + expected[:k], strict=True):
            _same(a, b)


def test_training_features_are_bit_identical(corpus: tuple[list[str], list[str]]) -> None:
    """What `veille train sentiment` fits on: the same TF-IDF matrix, bit for bit."""
    texts, langs = corpus
    cfg = FeatureConfig()
    matrix, idf = tfidf(HashingFeaturizer(cfg).counts(texts, langs))
    ref = ref_counts(cfg, texts, langs)
    doc_freq = np.bincount(ref.indices, minlength=ref.n_features)
    ref_idf = (np.log((1.0 + ref.n_rows) / (1.0 + doc_freq)) + 1.0).astype(np.float32)
    expected = csr_matrix(
        (ref_term_values(ref, ref_idf), ref.indices, ref.indptr), shape=matrix.shape
    )
    assert np.array_equal(idf, ref_idf)
    assert np.array_equal(matrix.indptr, expected.indptr)
    assert np.array_equal(matrix.indices, expected.indices)
    assert np.array_equal(matrix.data.view(np.uint32), expected.data.view(np.uint32))
    # and `term_values` itself, on the canonical order training uses
    values = term_values(HashingFeaturizer(cfg).counts(texts[:500], langs[:500]).sorted(), idf)
    head = ref_counts(cfg, texts[:500], langs[:500])
    assert np.array_equal(values.view(np.uint32), ref_term_values(head, idf).view(np.uint32))


def test_shipped_model_probabilities_match_the_reference(
    corpus: tuple[list[str], list[str]],
) -> None:
    texts, langs = corpus
    backend = FastSentiment()
    backend.load()
    model = backend.model
    worst = 0.0
    for i in range(0, len(texts), 500):
        batch, batch_langs = texts[i : i + 500], langs[i : i + 500]
        got = model.probabilities(batch, batch_langs)
        worst = max(worst, float(np.abs(got - ref_probabilities(model, batch, batch_langs)).max()))
        assert np.allclose(got.sum(axis=1), 1.0)
    assert worst <= 1e-5


def test_scoring_sees_changed_weights() -> None:
    """`coef` and `weight` are views of the scoring table: changes in place or new arrays."""
    backend = FastSentiment()
    backend.load()
    loaded = backend.model
    model = LinearModel(
        loaded.config,
        loaded.labels,
        loaded.coef.copy(),
        loaded.intercept.copy(),
        loaded.weight.copy(),
    )
    texts, langs = ["c'est génial, merci", "horrible service"], ["fr", "fr"]
    counts = model.featurizer.counts(texts, langs)
    before = model.logits(counts) - model.intercept
    model.coef /= 2.0
    assert np.allclose(model.logits(counts) - model.intercept, before / 2.0, atol=1e-6)
    model.coef = np.zeros_like(loaded.coef)
    assert np.allclose(model.logits(counts), model.intercept)
    model.weight = loaded.weight * 3.0  # TF-IDF values are L2-normalised: scale-free
    model.coef = loaded.coef.copy()
    assert np.allclose(model.logits(counts) - model.intercept, before, atol=1e-6)
