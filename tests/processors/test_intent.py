"""Intent on hand-written posts of each kind, in English, French, Spanish and German."""

from __future__ import annotations

import pytest

from processors.enrich.intent import classify
from veille.text import fold

CASES = [
    # (text, sentiment, expected)
    ("@orbital_care how do I activate roaming in Spain?", "neutral", "question"),
    ("@orbital_care comment je change mon forfait ?", "neutral", "question"),
    ("¿Cómo cancelo mi contrato con Orbital?", "neutral", "question"),
    ("Wie kann ich meine Rechnung online sehen?", "neutral", "question"),
    (
        "@orbital_care still no signal since yesterday, this is unacceptable",
        "negative",
        "complaint",
    ),
    ("Toujours pas de réseau chez Orbital, c'est inadmissible !", "negative", "complaint"),
    ("Sigo esperando una respuesta de @orbital_care, qué vergüenza", "negative", "complaint"),
    (
        "Das Internet funktioniert schon wieder nicht, echt eine Frechheit @orbital",
        "negative",
        "complaint",
    ),
    ("why is my internet STILL down again @orbital_care??", "negative", "complaint"),
    ("@orbital_care please send me a copy of my last bill", "neutral", "request"),
    ("@orbital_care pouvez-vous me rappeler svp", "neutral", "request"),
    ("@orbital_care necesito la factura de octubre, por favor", "neutral", "request"),
    ("@orbital_care bitte schickt mir die Rechnung", "neutral", "request"),
    ("Thanks @orbital_care, the technician fixed everything. Great service!", "positive", "praise"),
    ("Merci @orbital_fr, la fibre est top depuis l'installation", "positive", "praise"),
    ("Gracias Orbital, me encanta la nueva app", "positive", "praise"),
    ("Danke @orbital, der Kundenservice war klasse", "positive", "praise"),
    ("Orbital Telecom announces its quarterly results on Tuesday", "neutral", "other"),
    ("Orbital déploie la 5G dans trois nouvelles villes", "neutral", "other"),
]


@pytest.mark.parametrize(("text", "sentiment", "expected"), CASES)
def test_intent(text: str, sentiment: str, expected: str) -> None:
    addressed = "@orbital" in text
    assert classify(fold(text), sentiment, 0.7, addressed=addressed) == expected  # type: ignore[arg-type]


def test_negative_addressed_post_without_cue_is_a_complaint_only_when_confident() -> None:
    text = fold("@orbital_care le débit est lent ce soir")
    assert classify(text, "negative", 0.9, addressed=True) == "complaint"
    assert classify(text, "negative", 0.4, addressed=True) == "other"
    assert classify(text, "negative", 0.9, addressed=False) == "other"
