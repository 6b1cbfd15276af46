"""processors.enrich.sentiment (+ features, linear, train): the shipped fast model and its tools."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from factories import OBVIOUS_SENTIMENT

from processors.enrich.features import FeatureConfig, HashingFeaturizer, normalize
from processors.enrich.linear import LinearModel, ModelFileError
from processors.enrich.sentiment import (
    DEFAULT_FAST_MODEL,
    LABELS,
    FastSentiment,
    SentimentBackend,
    SentimentResult,
    get_backend,
)
from processors.enrich.train import (
    default_data_dir,
    evaluate,
    load_split,
    macro_f1,
    train_fast,
)


@pytest.fixture(scope="module")
def fast() -> FastSentiment:
    backend = FastSentiment()
    backend.load()
    return backend


OBVIOUS = OBVIOUS_SENTIMENT


def test_shipped_model_is_small_and_loads(fast: FastSentiment) -> None:
    assert DEFAULT_FAST_MODEL.is_file()
    assert DEFAULT_FAST_MODEL.stat().st_size < 15 * 2**20
    assert fast.model.labels == LABELS
    assert isinstance(fast, SentimentBackend)
    assert get_backend("fast").name == "fast"


def test_obvious_examples(fast: FastSentiment) -> None:
    results = fast.predict([t for t, _, _ in OBVIOUS], [lang for _, lang, _ in OBVIOUS])
    assert [r.label for r in results] == [label for _, _, label in OBVIOUS]
    for result, (_, _, label) in zip(results, OBVIOUS, strict=True):
        assert (result.score > 0) == (label == "positive")


def test_results_are_consistent_and_in_range(fast: FastSentiment) -> None:
    texts = [t for t, _, _ in OBVIOUS] + ["Le train part à 8h", "😡😡😡", "❤️❤️"]
    langs = [lang for _, lang, _ in OBVIOUS] + ["fr", "und", "und"]
    probs = fast.predict_proba(texts, langs)
    assert np.allclose(probs.sum(axis=1), 1.0)
    for result, p in zip(fast.predict(texts, langs), probs, strict=True):
        assert isinstance(result, SentimentResult)
        assert result.label in LABELS
        assert -1.0 <= result.score <= 1.0
        assert 1 / 3 - 1e-9 <= result.confidence <= 1.0
        assert math.isclose(result.score, p[2] - p[0], abs_tol=1e-9)
        assert math.isclose(result.confidence, p.max(), abs_tol=1e-9)
        assert result.label == LABELS[int(p.argmax())]


def test_batch_order_is_preserved(fast: FastSentiment) -> None:
    texts = [t for t, _, _ in OBVIOUS]
    langs = [lang for _, lang, _ in OBVIOUS]
    batch = fast.predict(texts, langs)
    assert fast.predict(texts[::-1], langs[::-1]) == batch[::-1]
    one_by_one = [fast.predict([t], [lang])[0] for t, lang in zip(texts, langs, strict=True)]
    for a, b in zip(batch, one_by_one, strict=True):
        assert a.label == b.label
        assert math.isclose(a.score, b.score, abs_tol=1e-6)


def test_odd_inputs_do_not_raise(fast: FastSentiment) -> None:
    texts = [
        "",
        "   ",
        "\n",
        "@user",
        "http://t.co/x",
        "!!!",
        "a" * 25_000,
        "bad \ud800 surrogate",
        "\x00\x01",
        "ﷺ ﷽",
        "x",
    ]
    results = fast.predict(
        texts, ["und", "", "fr", "en", "xx", "es", "en", "en", "de", "ar", "zz-ZZ"]
    )
    assert len(results) == len(texts)
    assert results[0].label == "neutral"  # nothing to go on: the prior, which is neutral
    assert fast.predict([], []) == []
    with pytest.raises(ValueError):
        fast.predict(["a", "b"], ["en"])


def test_backends_by_name() -> None:
    from processors.enrich.accurate import AccurateSentiment

    assert isinstance(get_backend("fast"), FastSentiment)
    assert isinstance(get_backend("accurate"), AccurateSentiment)
    with pytest.raises(ValueError, match="nope"):
        get_backend("nope")  # type: ignore[arg-type]


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    backend = FastSentiment(tmp_path / "absent.npz")
    with pytest.raises(ModelFileError, match=r"absent\.npz"):
        backend.load()
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(ModelFileError):
        FastSentiment(tmp_path / "junk.npz").load()


def test_normalize() -> None:
    assert (
        normalize("RT @Orbital_care: C'EST NUUUUL!!!! 👍🏽 http://t.co/x &amp; 2024")
        == "rt @user : c ' est nuul ! ! 👍 http & 0000"
    )
    assert normalize("") == ""


def test_features_are_deterministic_and_batch_independent() -> None:
    featurizer = HashingFeaturizer(FeatureConfig(n_bits=18))
    alone = featurizer.counts(["ab cd"], ["fr"])
    batch = featurizer.counts(["zz", "ab cd", ""], ["en", "fr", "und"])
    row = slice(batch.indptr[1], batch.indptr[2])
    assert alone.indices.tolist() == batch.indices[row].tolist()
    # " ab cd ": 6 bigrams, 4 trigrams, 2 four-grams, 2 words, 1 word bigram, 1 bias; twice (fr)
    assert alone.counts.sum() == 2 * 16
    # the empty post has its bias feature only (its language has no copies)
    assert batch.indptr[3] - batch.indptr[2] == 1
    # fixed values: the shipped model depends on them, whatever PYTHONHASHSEED is
    assert featurizer.counts(["ok"], ["fr"]).indices.tolist() == [
        10712,
        12614,
        29245,
        35887,
        58151,
        66692,
        77259,
        94508,
        153099,
        174647,
        185706,
        217010,
        221456,
        223810,
        229457,
        242747,
    ]


def test_macro_f1() -> None:
    truth = np.array([0, 1, 2, 0, 1, 2])
    assert macro_f1(truth, truth) == 100.0
    assert macro_f1(truth, np.array([0, 0, 0, 0, 0, 0])) == pytest.approx(100 * (0.5 / 3))


def _tiny_dataset(root: Path) -> Path:
    rng = np.random.default_rng(0)
    words = {
        0: ["nul", "horrible", "hate", "bad"],
        1: ["train", "today", "meeting", "at"],
        2: ["love", "great", "merci", "super"],
    }
    for folder in ("english", "french"):
        for split, n in (("train", 60), ("val", 15)):
            labels = [i % 3 for i in range(n)]
            texts = [" ".join(rng.choice(words[y], 3)) for y in labels]
            (root / folder).mkdir(parents=True, exist_ok=True)
            texts[0] = '"say \\u201chi\\u201d ""now"""'
            (root / folder / f"{split}_text.txt").write_text("\n".join(texts) + "\n")
            (root / folder / f"{split}_labels.txt").write_text("\n".join(map(str, labels)) + "\n")
    return root


def test_train_fast_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _tiny_dataset(tmp_path / "xlmt")
    split = load_split(data, "train")
    assert split.texts[0] == 'say “hi” "now"'
    assert len(split.texts) == 120 and set(split.langs) == {"en", "fr"}
    monkeypatch.setenv("VEILLE_XLMT_DIR", str(data))
    assert default_data_dir() == data
    config = FeatureConfig(n_bits=16)
    first = train_fast(None, tmp_path / "a.npz", seed=0, config=config, c_grid=(1.0, 3.0))
    train_fast(data, tmp_path / "b.npz", seed=0, config=config, c_grid=(1.0, 3.0))
    assert set(first["val"]) == {"en", "fr", "mean"}
    assert first["val"]["mean"] > 80
    a, b = LinearModel.load(tmp_path / "a.npz"), LinearModel.load(tmp_path / "b.npz")
    assert np.array_equal(a.coef, b.coef) and np.array_equal(a.weight, b.weight)
    assert evaluate(FastSentiment(tmp_path / "a.npz"), data) == first["val"]


def test_shipped_model_quality_on_val(fast: FastSentiment) -> None:
    data_dir = default_data_dir()
    if not (data_dir / "english" / "val_text.txt").is_file():
        pytest.skip(f"XLM-T data not found at {data_dir}")
    scores = evaluate(fast, data_dir, "val")
    assert scores["mean"] == pytest.approx(fast.model.meta["val_macro_f1"]["mean"], abs=0.05)
    assert scores["mean"] > 55.0
