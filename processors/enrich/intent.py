"""Intent of a post: question, complaint, praise, request or other, from multilingual cues.

Rules over folded text (case- and accent-insensitive) in English, French, Spanish and German,
combined with the sentiment already computed:
- complaint: negative, with a complaint cue ("still not", "toujours pas", "sigo esperando",
  "funktioniert nicht", "refund", "scandale" ...) or addressed to a watched account;
- question: a question mark or an interrogative opening ("how do I", "comment", "¿cómo", "wie");
- request: a polite demand ("please", "svp", "por favor", "bitte", "can you", "pouvez-vous");
- praise: positive, with a praise cue ("thank you", "merci", "gracias", "danke", "love", "top")
  or clearly positive (confidence above `praise_confidence`);
- other otherwise.
A negative question is a complaint only with a complaint cue: "why is my bill so high?" is a
question; "why is my internet STILL down?" is a complaint. Both wait for an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from veille.models import Intent, Sentiment
from veille.text import terms_regex


def _cues(words: Iterable[str]) -> re.Pattern[str]:
    pattern = terms_regex(words)
    assert pattern is not None, "a cue list is never empty"
    return pattern


# All cue lists are folded (lower case, no accents), as the text they are matched against.
COMPLAINT = _cues(
    [
        # en
        "still not",
        "still no",
        "still waiting",
        "again",
        "unacceptable",
        "worst",
        "terrible",
        "awful",
        "horrible",
        "useless",
        "scam",
        "rip off",
        "ripoff",
        "refund",
        "overcharged",
        "no answer",
        "no response",
        "not working",
        "doesn't work",
        "doesnt work",
        "does not work",
        "broken",
        "disgrace",
        "ridiculous",
        "fed up",
        "sick of",
        "cancel my",
        "cancelling",
        "switching to",
        "down again",
        "hours on hold",
        "never again",
        "shame on",
        # fr
        "toujours pas",
        "toujours rien",
        "encore une",
        "encore un",
        "inadmissible",
        "honteux",
        "honte",
        "scandale",
        "scandaleux",
        "arnaque",
        "nul",
        "nuls",
        "lamentable",
        "inacceptable",
        "ne marche pas",
        "ne marche plus",
        "ne fonctionne pas",
        "ne fonctionne plus",
        "aucune reponse",
        "pas de reponse",
        "ras le bol",
        "marre",
        "en panne",
        "resilier",
        "je resilie",
        "rembourser",
        "remboursement",
        "degoute",
        "n'importe quoi",
        # es
        "sigo esperando",
        "todavia no",
        "otra vez",
        "verguenza",
        "estafa",
        "fatal",
        "pesimo",
        "horrible",
        "no funciona",
        "sin respuesta",
        "ninguna respuesta",
        "harto",
        "harta",
        "inaceptable",
        "reembolso",
        "cancelar",
        "me cambio",
        "indignante",
        # de
        "immer noch",
        "schon wieder",
        "unverschamt",
        "frechheit",
        "abzocke",
        "katastrophe",
        "funktioniert nicht",
        "geht nicht",
        "keine antwort",
        "schlecht",
        "miserabel",
        "inakzeptabel",
        "kundigen",
        "kundige",
        "erstattung",
        "reicht",
        "skandal",
    ]
)

QUESTION_START = _cues(
    [
        "how",
        "why",
        "what",
        "when",
        "where",
        "who",
        "which",
        "can i",
        "can you",
        "could",
        "is it",
        "is there",
        "are you",
        "are there",
        "do you",
        "does",
        "did",
        "will",
        "anyone",
        "any idea",
        "comment",
        "pourquoi",
        "quand",
        "ou est",
        "ou sont",
        "qui",
        "quel",
        "quelle",
        "quels",
        "quelles",
        "est-ce",
        "combien",
        "savez-vous",
        "avez-vous",
        "y a-t-il",
        "como",
        "por que",
        "cuando",
        "donde",
        "quien",
        "que",
        "cual",
        "alguien",
        "sabeis",
        "wie",
        "warum",
        "wann",
        "wo",
        "wer",
        "was",
        "welche",
        "welcher",
        "kann man",
        "gibt es",
        "weiss jemand",
        "habt ihr",
    ]
)

REQUEST = _cues(
    [
        "please",
        "pls",
        "plz",
        "can you",
        "could you",
        "would you",
        "i need",
        "i want",
        "dm me",
        "help me",
        "let me know",
        "svp",
        "stp",
        "s'il vous plait",
        "s'il te plait",
        "merci de",
        "pouvez-vous",
        "pouvez vous",
        "pourriez-vous",
        "j'aimerais",
        "je voudrais",
        "aidez-moi",
        "por favor",
        "necesito",
        "podeis",
        "pueden",
        "podrian",
        "quiero",
        "ayuda",
        "bitte",
        "konnt ihr",
        "konnen sie",
        "ich brauche",
        "ich mochte",
        "helft mir",
    ]
)

PRAISE = _cues(
    [
        "thank you",
        "thanks",
        "thx",
        "love",
        "loving",
        "great",
        "awesome",
        "amazing",
        "excellent",
        "perfect",
        "brilliant",
        "well done",
        "kudos",
        "best",
        "fantastic",
        "impressed",
        "merci",
        "bravo",
        "genial",
        "top",
        "super",
        "parfait",
        "excellent",
        "j'adore",
        "au top",
        "chapeau",
        "felicitations",
        "gracias",
        "encanta",
        "excelente",
        "perfecto",
        "increible",
        "enhorabuena",
        "danke",
        "toll",
        "klasse",
        "spitze",
        "hervorragend",
        "perfekt",
        "liebe",
        "grossartig",
        "wunderbar",
    ]
)

_QUESTION_MARK = re.compile(r"\?|¿")


def _opening(folded: str) -> str:
    """The text without leading @mentions, so "@acme how do I ..." opens with "how"."""
    return re.sub(r"^(?:\s*@\w+)+\s*[,:]?\s*", "", folded)


def classify(
    folded: str,
    sentiment: Sentiment,
    confidence: float = 0.5,
    *,
    addressed: bool = False,
    praise_confidence: float = 0.8,
) -> Intent:
    """The intent of one post from its folded text and sentiment (see the module docstring).

    `addressed` is true when the post mentions or replies to a watched account.
    """
    complaint_cue = COMPLAINT.search(folded) is not None
    if sentiment == "negative" and (complaint_cue or (addressed and confidence >= 0.6)):
        return "complaint"
    opening = _opening(folded)
    if _QUESTION_MARK.search(folded) or QUESTION_START.match(opening):
        if sentiment == "negative" and complaint_cue:
            return "complaint"
        return "question"
    if REQUEST.search(folded):
        return "request"
    if sentiment == "negative" and complaint_cue:
        return "complaint"
    if sentiment == "positive" and (PRAISE.search(folded) or confidence >= praise_confidence):
        return "praise"
    return "other"
