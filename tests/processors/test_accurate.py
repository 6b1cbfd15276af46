"""processors.enrich.accurate (+ its training in train.py): the shipped accurate backend."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from factories import OBVIOUS_SENTIMENT

from processors.enrich.accurate import (
    DEFAULT_ACCURATE_MODEL,
    AccurateModel,
    AccurateSentiment,
    E5Encoder,
)
from processors.enrich.features import FeatureConfig
from processors.enrich.linear import ModelFileError
from processors.enrich.sentiment import LABELS, SentimentBackend, SentimentResult, get_backend
from processors.enrich.train import embed_cached, train_accurate, train_fast


@pytest.fixture(scope="module")
def accurate() -> AccurateSentiment:
    backend = AccurateSentiment()
    backend.load()
    return backend


OBVIOUS = [
    *OBVIOUS_SENTIMENT,
    ("أنا سعيد جدا، شكرا لكم على هذه الخدمة الرائعة", "ar", "positive"),
    ("yeh movie bahut bekar hai, time waste", "hi", "negative"),
]


def test_shipped_model_is_small_and_loads(accurate: AccurateSentiment) -> None:
    assert DEFAULT_ACCURATE_MODEL.is_file()
    assert DEFAULT_ACCURATE_MODEL.stat().st_size < 100 * 2**10
    assert accurate.model.labels == LABELS
    assert accurate.model.meta["val_macro_f1"]["mean"] >= 63
    assert isinstance(accurate, SentimentBackend)
    backend = get_backend("accurate")
    assert backend.name == "accurate" and isinstance(backend, AccurateSentiment)


def test_obvious_examples(accurate: AccurateSentiment) -> None:
    results = accurate.predict([t for t, _, _ in OBVIOUS], [lang for _, lang, _ in OBVIOUS])
    assert [r.label for r in results] == [label for _, _, label in OBVIOUS]
    for result, (_, _, label) in zip(results, OBVIOUS, strict=True):
        assert (result.score > 0) == (label == "positive")


def test_results_are_consistent_and_in_range(accurate: AccurateSentiment) -> None:
    texts = [t for t, _, _ in OBVIOUS] + ["Le train part à 8h", "😡😡😡", "❤️❤️"]
    langs = [lang for _, lang, _ in OBVIOUS] + ["fr", "und", "und"]
    probs = accurate.predict_proba(texts, langs)
    assert np.allclose(probs.sum(axis=1), 1.0)
    for result, p in zip(accurate.predict(texts, langs), probs, strict=True):
        assert isinstance(result, SentimentResult)
        assert result.label in LABELS
        assert -1.0 <= result.score <= 1.0
        assert 1 / 3 - 1e-9 <= result.confidence <= 1.0
        assert math.isclose(result.score, p[2] - p[0], abs_tol=1e-9)
        assert math.isclose(result.confidence, p.max(), abs_tol=1e-9)
        assert result.label == LABELS[int(p.argmax())]


def test_batch_order_is_preserved(accurate: AccurateSentiment) -> None:
    texts = [t for t, _, _ in OBVIOUS]
    langs = [lang for _, lang, _ in OBVIOUS]
    batch = accurate.predict(texts, langs)
    reversed_batch = accurate.predict(texts[::-1], langs[::-1])[::-1]
    one_by_one = [accurate.predict([t], [lang])[0] for t, lang in zip(texts, langs, strict=True)]
    for a, b, c in zip(batch, reversed_batch, one_by_one, strict=True):
        assert a.label == b.label == c.label
        assert math.isclose(a.score, b.score, abs_tol=1e-5)
        assert math.isclose(a.score, c.score, abs_tol=1e-5)


def test_odd_inputs_do_not_raise(accurate: AccurateSentiment) -> None:
    texts = ["", "   ", "\n", "@user", "http://t.co/x", "!!!", "a" * 25_000]
    texts += ["bad \ud800 surrogate", "\x00\x01", "ﷺ ﷽", "x"]
    langs = ["und", "", "fr", "en", "xx", "es", "en", "en", "de", "ar", "zz-ZZ"]
    results = accurate.predict(texts, langs)
    assert len(results) == len(texts)
    assert all(r.label in LABELS for r in results)
    assert accurate.predict([], []) == []
    with pytest.raises(ValueError):
        accurate.predict(["a", "b"], ["en"])


def test_missing_or_bad_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"absent\.npz"):
        AccurateSentiment(tmp_path / "absent.npz").load()
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match=r"junk\.npz"):
        AccurateSentiment(tmp_path / "junk.npz").load()
    # a fast model file is not an accurate one
    from processors.enrich.sentiment import DEFAULT_FAST_MODEL

    with pytest.raises(ModelFileError, match="format"):
        AccurateModel.load(DEFAULT_FAST_MODEL)


def test_model_file_round_trip(tmp_path: Path, accurate: AccurateSentiment) -> None:
    path = tmp_path / "copy.npz"
    accurate.model.save(path)
    copy = AccurateModel.load(path)
    assert copy.meta == accurate.model.meta and copy.encoder == accurate.model.encoder
    assert np.array_equal(copy.coef, accurate.model.coef)


class CountingEncoder:
    """Wraps the real encoder and counts the texts it embeds (to see the cache at work)."""

    def __init__(self) -> None:
        self.inner = E5Encoder()
        self.name = self.inner.name
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.embedded += len(texts)
        return self.inner.embed(texts)


def _tiny_dataset(root: Path) -> Path:
    rng = np.random.default_rng(0)
    words = {
        0: ["nul", "horrible", "hate", "bad", "awful"],
        1: ["train", "today", "meeting", "at", "the"],
        2: ["love", "great", "merci", "super", "happy"],
    }
    for folder in ("english", "french"):
        for split, n in (("train", 45), ("val", 15)):
            labels = [i % 3 for i in range(n)]
            texts = [" ".join(rng.choice(words[y], 3)) for y in labels]
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / f"{split}_text.txt").write_text("\n".join(texts) + "\n")
            (root / folder / f"{split}_labels.txt").write_text("\n".join(map(str, labels)) + "\n")
    return root


def test_train_accurate_is_reproducible_and_caches(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _tiny_dataset(tmp_path / "xlmt")
    fast_model = tmp_path / "fast.npz"  # a small fast model keeps the out-of-fold fits quick
    train_fast(data, fast_model, config=FeatureConfig(n_bits=14), c_grid=(1.0,))
    encoder = CountingEncoder()
    cache = tmp_path / "cache"
    runs = []
    for name, fit_on in (("a", "train"), ("b", "train"), ("c", "train+val")):
        runs.append(
            train_accurate(
                data,
                tmp_path / f"{name}.npz",
                c_grid=(0.1, 1.0),
                fit_on=fit_on,  # type: ignore[arg-type]
                fast_model=fast_model,
                encoder=encoder,
                cache_dir=cache,
                folds=3,
            )
        )
    assert encoder.embedded == 120  # 90 train + 30 val tweets, embedded once, then cached
    a, b, c = (AccurateModel.load(tmp_path / f"{n}.npz") for n in "abc")
    assert np.array_equal(a.coef, b.coef)
    assert runs[0]["val"]["mean"] > 80  # the tiny task is easy
    assert a.meta["data"] == "xlmt train" and c.meta["data"] == "xlmt train+val"
    assert c.meta["val_macro_f1"] == a.meta["val_macro_f1"]  # train-only figures are kept
    assert runs[2]["n_fit"] == 120
    backend = AccurateSentiment(tmp_path / "c.npz", fast_model)
    assert backend.predict(["love love great"], ["en"])[0].label == "positive"
    # the cache is keyed by the texts: other texts are embedded anew
    embed_cached(encoder, ["something else"], cache)
    assert encoder.embedded == 121
    # stacked on another fast model than the one it was trained with: said in the log
    with caplog.at_level(logging.WARNING, logger="processors.enrich.accurate"):
        AccurateSentiment(tmp_path / "c.npz").load()
    assert "stacked on another fast model" in caplog.text
