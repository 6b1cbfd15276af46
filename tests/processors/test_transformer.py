"""The optional `transformer` sentiment backend, around a small stand-in for a transformers model.

The stand-in follows the transformers call conventions the backend relies on (a tokenizer called
on a batch with padding and truncation, a model called with its output, `.logits`, and
`config.id2label`), so batching, label mapping and text preparation are checked here; loading a
real model folder needs the `transformer` extra, which the suite does not install.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from factories import run_veille

from processors.enrich.linear import ModelFileError
from processors.enrich.sentiment import get_backend
from processors.enrich.transformer import TransformerSentiment, label_order, prepare

WORDS = {"awful": "negative", "fine": "neutral", "great": "positive"}


class StandInTokenizer:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str], **kwargs: Any) -> dict[str, Any]:
        assert kwargs["padding"] and kwargs["truncation"] and kwargs["max_length"] > 0
        self.batches.append(list(texts))
        return {"texts": list(texts)}


class StandInModel:
    """Logits favour the label a keyword of the text names (else neutral), in id2label order."""

    def __init__(self, id2label: dict[int, str]) -> None:
        self.config = SimpleNamespace(id2label=id2label)
        self.by_name = {name.lower()[:3]: i for i, name in id2label.items()}

    def __call__(self, texts: list[str]) -> SimpleNamespace:
        logits = np.zeros((len(texts), 3))
        logits[:, self.by_name["neu"]] = 1.0  # no keyword: neutral
        for row, text in enumerate(texts):
            for word, label in WORDS.items():
                if word in text:
                    logits[row, self.by_name[label[:3]]] = 3.0
        return SimpleNamespace(logits=logits)


def test_batches_in_order_with_the_models_label_order() -> None:
    tokenizer = StandInTokenizer()
    model = StandInModel({0: "Positive", 1: "negative", 2: "NEUTRAL"})
    backend = TransformerSentiment.from_parts(tokenizer, model, batch_size=2)
    texts = ["great phone", "awful service", "fine", "", "great @orbital https://x.co/a"]
    results = backend.predict(texts, ["en"] * len(texts))
    assert [r.label for r in results] == ["positive", "negative", "neutral", "neutral", "positive"]
    assert [len(b) for b in tokenizer.batches] == [2, 2, 1]
    assert tokenizer.batches[2] == ["great @user http"]
    assert tokenizer.batches[1][1] == " "  # an empty post is still one row
    assert results[0].score > 0.8 and results[1].score < -0.8 and abs(results[2].score) < 1e-9
    probs = backend.predict_proba(texts, ["en"] * len(texts))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert backend.predict([], []) == []
    with pytest.raises(ValueError):
        backend.predict(["a"], [])


def test_label_mapping() -> None:
    assert label_order({0: "negative", 1: "neutral", 2: "positive"}) == [0, 1, 2]
    assert label_order({0: "POS", 1: "Neg", 2: "neu"}) == [1, 2, 0]
    assert label_order({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == [0, 1, 2]
    with pytest.raises(ModelFileError, match="cannot map"):
        label_order({0: "joy", 1: "anger", 2: "sadness"})
    with pytest.raises(ModelFileError, match="cannot map"):
        label_order({0: "LABEL_0", 1: "LABEL_1"})


def test_prepare_follows_xlmt() -> None:
    assert prepare("@orbital_care help https://t.co/x1 now") == "@user help http now"
    assert prepare("mail me at a@b.com") == "mail me at a@b.com"


def test_clear_errors_without_a_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEILLE_SENTIMENT_MODEL_DIR", raising=False)
    with pytest.raises(ModelFileError, match="VEILLE_SENTIMENT_MODEL_DIR"):
        get_backend("transformer").load()
    with pytest.raises(ModelFileError, match="no such model folder"):
        TransformerSentiment(tmp_path / "absent").load()
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if the extra were not installed
    monkeypatch.setenv("VEILLE_SENTIMENT_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelFileError, match=r"veille\[transformer\]"):
        get_backend("transformer").load()


def test_enrich_command_says_what_is_missing() -> None:
    proc = run_veille("enrich", "--sentiment", "transformer", stdin="great\n")
    assert proc.returncode == 1
    assert "VEILLE_SENTIMENT_MODEL_DIR" in proc.stderr and "Traceback" not in proc.stderr
