"""processors.enrich.sentiment.accurate and its training: the shipped accurate backend.

What every backend promises (the shipped model file included) is checked on this one too, in
test_sentiment.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from processors.enrich.features import FeatureConfig
from processors.enrich.linear import ModelFileError
from processors.enrich.sentiment import DEFAULT_FAST_MODEL
from processors.enrich.sentiment.accurate import (
    AccurateModel,
    AccurateSentiment,
    E5Encoder,
)
from processors.enrich.training import embed_cached, train_accurate, train_fast


@pytest.fixture(scope="module")
def accurate() -> AccurateSentiment:
    backend = AccurateSentiment()
    backend.load()
    return backend


def test_shipped_model_records_its_validation_score(accurate: AccurateSentiment) -> None:
    assert accurate.model.meta["val_macro_f1"]["mean"] >= 63


def test_a_fast_model_file_is_not_an_accurate_one() -> None:
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
    with caplog.at_level(logging.WARNING, logger="processors.enrich.sentiment.accurate"):
        AccurateSentiment(tmp_path / "c.npz").load()
    assert "stacked on another fast model" in caplog.text
