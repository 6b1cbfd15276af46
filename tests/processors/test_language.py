"""processors.enrich.language: ISO 639-1 detection with X's tag as the short-text fallback."""

from __future__ import annotations

import pytest

from processors.enrich.language import (
    LanguageDetector,
    clean_for_detection,
    normalize_x_lang,
)

PREFERRED = ["fr", "en", "es", "de", "it", "pt", "ar"]


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    d = LanguageDetector()
    d.load()
    return d


@pytest.fixture(scope="module")
def preferring() -> LanguageDetector:
    d = LanguageDetector(PREFERRED)
    d.load()
    return d


SENTENCES = [
    ("Bonjour, je n'ai plus de réseau depuis ce matin, c'est vraiment pénible", "fr"),
    ("The network has been down since this morning, so annoying", "en"),
    ("Hola, no tengo señal desde esta mañana, qué rabia", "es"),
    ("Ich habe seit heute Morgen kein Netz, echt nervig", "de"),
    ("Ancora nessun segnale da stamattina, che vergogna", "it"),
    ("Estou sem sinal desde hoje de manhã, que absurdo", "pt"),
    ("لا توجد شبكة منذ الصباح، خدمة سيئة جدا", "ar"),
]


@pytest.mark.parametrize(("text", "lang"), SENTENCES)
def test_detects_sentences(
    detector: LanguageDetector, preferring: LanguageDetector, text: str, lang: str
) -> None:
    assert detector.detect(text) == lang
    assert preferring.detect(text) == lang
    # a clear sentence wins over a wrong X tag
    assert preferring.detect(text, "ja") == lang


def test_ignores_mentions_links_and_hashtag_signs(detector: LanguageDetector) -> None:
    text = (
        "@OrbitalTelecom @orbital_care toujours pas de connexion chez moi depuis hier soir "
        "https://t.co/AbCdEf12 #PanneOrbital"
    )
    assert (
        clean_for_detection(text) == "toujours pas de connexion chez moi depuis hier soir "
        "panne orbital"
    )
    assert detector.detect(text) == "fr"


def test_short_text_falls_back_to_x_lang(detector: LanguageDetector) -> None:
    assert detector.detect("ok", "fr") == "fr"
    assert detector.detect("ok merci", "fr") == "fr"
    assert detector.detect("@orbital nul", "fr") == "fr"
    assert detector.detect("ok", None) == "und"
    assert detector.detect("ok", "und") == "und"
    assert detector.detect("ok", "qme") == "und"
    assert detector.detect("ok", "pt-BR") == "pt"


def test_no_letters_is_und(detector: LanguageDetector) -> None:
    for text in ["😂😂🔥", "👍", "", "   ", "12:45 !!!", "@orbital https://t.co/xyz"]:
        assert detector.detect(text) == "und"
        assert detector.detect(text, "en") == "und"


def test_preferred_languages_win_when_close(
    detector: LanguageDetector, preferring: LanguageDetector
) -> None:
    # Galician is not a language X tags: it competes only when the watch asks for it
    text = "Grazas por difundir a nosa campaña"
    assert detector.detect(text) in ("pt", "es")
    assert LanguageDetector(["gl"]).detect(text) == "gl"
    assert LanguageDetector(["es"]).detect(text) == "es"
    # ... but a preference never overrides a clear answer
    assert preferring.detect("Dit is echt een prachtige dag om buiten te fietsen") == "nl"


def test_output_is_iso_639_1(detector: LanguageDetector) -> None:
    texts = [
        "Мы любим наш город и его людей",
        "我们今天去公园散步",
        "Bugün hava çok güzel",
        "The service was fine",
        "ماشي يا سيسي والله ما فاهم حاجة",
    ]
    for lang in detector.detect_batch(texts, [None] * len(texts)):
        assert lang == "und" or (len(lang) == 2 and lang.isalpha() and lang.islower())


def test_batch_keeps_order_and_checks_lengths(preferring: LanguageDetector) -> None:
    texts = [text for text, _ in SENTENCES] + ["ok"]
    langs = preferring.detect_batch(texts, [None] * len(SENTENCES) + ["it"])
    assert langs == [lang for _, lang in SENTENCES] + ["it"]
    assert preferring.detect_batch([], []) == []
    with pytest.raises(ValueError):
        preferring.detect_batch(["a"], [])


def test_normalize_x_lang() -> None:
    assert normalize_x_lang("fr") == "fr"
    assert normalize_x_lang("EN") == "en"
    assert normalize_x_lang("zh-cn") == "zh"
    assert normalize_x_lang("in") == "id"
    assert normalize_x_lang("iw") == "he"
    for tag in [None, "", "und", "qme", "qht", "qam", "qst", "zxx", "art"]:
        assert normalize_x_lang(tag) is None


def test_settings_are_validated_without_loading() -> None:
    with pytest.raises(ValueError):
        LanguageDetector(prefer_ratio=0.0)
    with pytest.raises(ValueError):
        LanguageDetector(min_letters=30, short_letters=20)
    assert LanguageDetector(["FR", "fr", "xx"])._model is None
