"""processors.enrich.sentiment.fast (+ features, linear, train): the shipped fast model, its tools.

What every backend promises (the shipped model file included) is checked on this one too, in
test_sentiment.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.enrich.features import FeatureConfig, HashingFeaturizer, normalize
from processors.enrich.linear import LinearModel
from processors.enrich.sentiment import FastSentiment
from processors.enrich.training import (
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


def test_a_post_with_nothing_to_go_on_gets_the_prior(fast: FastSentiment) -> None:
    assert fast.predict([""], ["und"])[0].label == "neutral"  # the prior, which is neutral


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
    assert featurizer.counts(["ok"], ["fr"]).sorted().indices.tolist() == [
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
