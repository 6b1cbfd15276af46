"""The optional `transformer` sentiment backend, around a small stand-in for a transformers model.

The stand-in (tests/factories.py) follows the transformers call conventions the backend relies
on (a tokenizer called on a batch with padding and truncation, a model called with its output,
`.logits`, and `config.id2label`), so batching, label mapping and text preparation are checked
here; loading a real model folder needs the `transformer` extra, which the suite does not
install. What every backend promises is checked on this one too, in test_sentiment.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from factories import StandInModel, StandInTokenizer, run_veille

from processors.enrich.linear import ModelFileError
from processors.enrich.sentiment import get_backend
from processors.enrich.sentiment.transformer import TransformerSentiment, label_order, prepare
from veille.settings import SentimentSettings


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


def test_settings_are_arguments_built_by_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEILLE_SENTIMENT_MODEL_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("VEILLE_SENTIMENT_BATCH_SIZE", "7")
    monkeypatch.setenv("VEILLE_SENTIMENT_DEVICE", "cuda:3")
    plain = TransformerSentiment()  # the constructor reads no environment
    assert (plain.model_dir, plain.device, plain.batch_size) == (None, "auto", 32)
    given = TransformerSentiment(tmp_path, "cpu", 4)
    assert (given.model_dir, given.device, given.batch_size) == (tmp_path, "cpu", 4)
    settings = SentimentSettings(model_dir=tmp_path / "given", device="cpu", batch_size=5)
    built = get_backend("transformer", settings)
    assert isinstance(built, TransformerSentiment)
    assert (built.model_dir, built.device, built.batch_size) == (tmp_path / "given", "cpu", 5)
    from_env = get_backend("transformer")  # no settings given: the registry reads them
    assert isinstance(from_env, TransformerSentiment)
    assert (from_env.model_dir, from_env.device, from_env.batch_size) == (
        tmp_path / "from-env",
        "cuda:3",
        7,
    )
