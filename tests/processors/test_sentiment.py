"""processors.enrich.sentiment: the contract every backend keeps, checked on each, and the registry.

Every test taking `backend` runs on the shipped `fast` and `accurate` backends and on the
`transformer` backend around a stand-in model (tests/factories.py); a backend's own behaviour is
tested in its own file (test_fast.py, test_accurate.py, test_transformer.py).
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from factories import OBVIOUS_SENTIMENT, StandInModel, StandInTokenizer

from processors.enrich.sentiment import (
    BACKEND_NAMES,
    DEFAULT_ACCURATE_MODEL,
    DEFAULT_FAST_MODEL,
    LABELS,
    AccurateSentiment,
    FastSentiment,
    ModelFileError,
    SentimentBackend,
    SentimentResult,
    TransformerSentiment,
    get_backend,
)

# Texts of obvious sentiment beyond the shared ones that the accurate backend also gets right.
OBVIOUS_ACCURATE = [
    *OBVIOUS_SENTIMENT,
    ("أنا سعيد جدا، شكرا لكم على هذه الخدمة الرائعة", "ar", "positive"),
    ("yeh movie bahut bekar hai, time waste", "hi", "negative"),
]
ODD_TEXTS = ["", "   ", "\n", "@user", "http://t.co/x", "!!!", "a" * 25_000]
ODD_TEXTS += ["bad \ud800 surrogate", "\x00\x01", "ﷺ ﷽", "x"]
ODD_LANGS = ["und", "", "fr", "en", "xx", "es", "en", "en", "de", "ar", "zz-ZZ"]
MODULES = ("base", "registry", "fast", "accurate", "transformer")


@dataclass(frozen=True)
class Case:
    """A backend under test and what its contract checks expect of it."""

    name: str
    build: Callable[[], SentimentBackend]
    obvious: list[tuple[str, str, str]]
    """Texts it must get right (language, label); the stand-in model knows keywords only."""
    tolerance: float
    """How far a post's score may move with the batch it is scored in."""
    exact_reversal: bool
    """Whether a reversed batch gives exactly the reversed results."""
    from_file: Callable[[Path], SentimentBackend] | None = None
    """The backend reading its model from a given file (None: it has no model file)."""
    shipped: Path | None = None
    """The model file shipped with veille (None: the model is downloaded by its user)."""
    max_bytes: int = 0
    """How large the shipped model file may be."""


def _stand_in() -> TransformerSentiment:
    model = StandInModel({0: "Positive", 1: "negative", 2: "NEUTRAL"})
    return TransformerSentiment.from_parts(StandInTokenizer(), model, batch_size=2)


CASES = [
    Case(
        "fast",
        FastSentiment,
        OBVIOUS_SENTIMENT,
        1e-6,
        True,
        FastSentiment,
        shipped=DEFAULT_FAST_MODEL,
        max_bytes=15 * 2**20,
    ),
    Case(
        "accurate",
        AccurateSentiment,
        OBVIOUS_ACCURATE,
        1e-5,
        False,
        AccurateSentiment,
        shipped=DEFAULT_ACCURATE_MODEL,
        max_bytes=100 * 2**10,
    ),
    Case(
        "transformer",
        _stand_in,
        [("great phone", "en", "positive"), ("awful service", "en", "negative")],
        1e-9,
        True,
    ),
]


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    c: Case = request.param
    return c


@pytest.fixture(scope="module")
def backend(case: Case) -> Iterator[SentimentBackend]:
    loaded = case.build()
    loaded.load()
    yield loaded


def _texts(examples: list[tuple[str, str, str]]) -> tuple[list[str], list[str]]:
    return [t for t, _, _ in examples], [lang for _, lang, _ in examples]


def test_is_a_backend_by_its_name(case: Case, backend: SentimentBackend) -> None:
    assert isinstance(backend, SentimentBackend)
    assert backend.name == case.name
    named = get_backend(case.name)  # type: ignore[arg-type]
    assert named.name == case.name and isinstance(named, type(backend))


def test_shipped_model_is_small_and_loads(case: Case, backend: SentimentBackend) -> None:
    if case.shipped is None:
        pytest.skip(f"the {case.name} backend ships no model file")
    assert case.shipped.is_file()
    assert case.shipped.stat().st_size < case.max_bytes
    assert backend.model.labels == LABELS


def test_obvious_examples(case: Case, backend: SentimentBackend) -> None:
    results = backend.predict(*_texts(case.obvious))
    assert [r.label for r in results] == [label for _, _, label in case.obvious]
    for result, (_, _, label) in zip(results, case.obvious, strict=True):
        assert (result.score > 0) == (label == "positive")


def test_results_are_consistent_and_in_range(case: Case, backend: SentimentBackend) -> None:
    texts, langs = _texts(case.obvious)
    texts += ["Le train part à 8h", "😡😡😡", "❤️❤️"]
    langs += ["fr", "und", "und"]
    probs = backend.predict_proba(texts, langs)
    assert probs.shape == (len(texts), len(LABELS))
    assert np.allclose(probs.sum(axis=1), 1.0)
    for result, p in zip(backend.predict(texts, langs), probs, strict=True):
        assert isinstance(result, SentimentResult)
        assert result.label in LABELS
        assert -1.0 <= result.score <= 1.0
        assert 1 / 3 - 1e-9 <= result.confidence <= 1.0
        assert math.isclose(result.score, p[2] - p[0], abs_tol=1e-9)
        assert math.isclose(result.confidence, p.max(), abs_tol=1e-9)
        assert result.label == LABELS[int(p.argmax())]


def test_batch_order_is_preserved(case: Case, backend: SentimentBackend) -> None:
    texts, langs = _texts(case.obvious)
    batch = backend.predict(texts, langs)
    reversed_batch = backend.predict(texts[::-1], langs[::-1])[::-1]
    if case.exact_reversal:
        assert reversed_batch == batch
    one_by_one = [backend.predict([t], [lang])[0] for t, lang in zip(texts, langs, strict=True)]
    for a, b, c in zip(batch, reversed_batch, one_by_one, strict=True):
        assert a.label == b.label == c.label
        assert math.isclose(a.score, b.score, abs_tol=case.tolerance)
        assert math.isclose(a.score, c.score, abs_tol=case.tolerance)


def test_odd_inputs_do_not_raise(backend: SentimentBackend) -> None:
    results = backend.predict(ODD_TEXTS, ODD_LANGS)
    assert len(results) == len(ODD_TEXTS)
    assert all(r.label in LABELS for r in results)


def test_empty_batch_and_length_mismatch(backend: SentimentBackend) -> None:
    assert backend.predict([], []) == []
    assert backend.predict_proba([], []).shape == (0, len(LABELS))
    with pytest.raises(ValueError):
        backend.predict(["a", "b"], ["en"])
    with pytest.raises(ValueError):
        backend.predict(["a"], [])


@pytest.mark.parametrize("case", [c for c in CASES if c.from_file], ids=lambda c: c.name)
def test_missing_or_bad_model_file_is_a_clear_error(case: Case, tmp_path: Path) -> None:
    assert case.from_file is not None
    with pytest.raises(ModelFileError, match=r"absent\.npz"):
        case.from_file(tmp_path / "absent.npz").load()
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match=r"junk\.npz"):
        case.from_file(tmp_path / "junk.npz").load()


def test_registry_names_every_backend_and_refuses_others() -> None:
    assert BACKEND_NAMES == ("fast", "accurate", "transformer")
    assert {c.name for c in CASES} == set(BACKEND_NAMES)
    with pytest.raises(ValueError, match="nope"):
        get_backend("nope")  # type: ignore[arg-type]


class Counting(SentimentBackend[str]):
    """The smallest backend: counts its loads; every post is neutral."""

    name = "counting"

    def __init__(self) -> None:
        self.loads = 0

    def _load(self) -> str:
        self.loads += 1
        return "model"

    def _source(self) -> str:
        return "path=memory"

    def _proba(self, model: str, texts: list[str], langs: list[str]) -> np.ndarray:
        assert model == "model" and texts
        return np.tile([0.25, 0.5, 0.25], (len(texts), 1))


def test_the_model_loads_once_and_only_when_needed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="processors.enrich.sentiment.base")
    backend = Counting()
    assert backend.predict([], []) == [] and backend.loads == 0  # an empty batch loads nothing
    assert backend.predict(["a"], ["en"]) == [SentimentResult("neutral", 0.0, 0.5)]
    backend.load()
    assert backend.model == "model" and backend.loads == 1
    assert "sentiment model loaded backend=counting path=memory elapsed_s=" in caplog.text
    assert caplog.text.count("sentiment model loaded") == 1
    fresh = Counting()
    assert fresh.model == "model" and fresh.loads == 1
    with pytest.raises(TypeError):
        SentimentBackend()  # type: ignore[abstract]


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_first_without_a_cycle(module: str) -> None:
    name = f"processors.enrich.sentiment.{module}"
    proc = subprocess.run(
        [sys.executable, "-c", f"import importlib; importlib.import_module({name!r})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
