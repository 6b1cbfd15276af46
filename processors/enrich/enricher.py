"""Enrichment of batches of posts: language, sentiment, topics, intent and watch entries
(sector items included, as entries of kind "sector").

`Enricher.enrichments(posts)` takes a batch so that each model pays its per-call overhead once
per batch; it returns one `Enrichment` per post, in order. `enrich(posts)` makes them
`EnrichedPost`s; `enrich_texts()` enriches bare texts (`veille enrich`). Models load in `load()`
(or lazily on first use), never at import.

The processor's hot path never validates or serialises a post twice: `enriched_post()` builds the
`EnrichedPost` from a validated `Post` without validating again, and `enriched_json()` writes the
enriched record by appending the enrichment's fields to the raw record's own JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from processors.enrich.intent import classify
from processors.enrich.language import LanguageDetector
from processors.enrich.sentiment import SentimentBackend, get_backend
from veille.models import EnrichedPost, EntryKind, Intent, Post, Sentiment, trusted
from veille.text import fold, hashtags_in, mentions_in
from veille.watch import WatchConfig, WatchMatcher


class Enrichment(NamedTuple):
    """What enrichment adds to a post (the fields of `EnrichedPost` beyond `Post`); a named
    tuple, made once per post on the hot path."""

    lang: str
    sentiment: Sentiment
    sentiment_score: float
    sentiment_confidence: float
    topics: tuple[str, ...]
    intent: Intent
    entries: tuple[str, ...]
    entry_kinds: tuple[EntryKind, ...]
    author_entry: str = ""
    addressed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "sentiment": self.sentiment,
            "sentiment_score": self.sentiment_score,
            "sentiment_confidence": self.sentiment_confidence,
            "topics": list(self.topics),
            "intent": self.intent,
            "entries": list(self.entries),
            "entry_kinds": list(self.entry_kinds),
            "author_entry": self.author_entry,
            "addressed": list(self.addressed),
        }

    def fields(self, enriched_at: datetime) -> dict[str, Any]:
        """The `EnrichedPost` fields it adds to a post, stamped `enriched_at`."""
        return {
            "lang": self.lang,
            "sentiment": self.sentiment,
            "sentiment_score": self.sentiment_score,
            "sentiment_confidence": self.sentiment_confidence,
            "topics": self.topics,
            "intent": self.intent,
            "entries": self.entries,
            "entry_kinds": self.entry_kinds,
            "author_entry": self.author_entry,
            "addressed": self.addressed,
            "enriched_at": enriched_at,
        }


def enriched_post(post: Post, enrichment: Enrichment, enriched_at: datetime) -> EnrichedPost:
    """`post` (validated) with `enrichment` (ours), built without validating either again."""
    return trusted(EnrichedPost, {**post.__dict__, **enrichment.fields(enriched_at)})


def enriched_json(raw: bytes, enrichment: Enrichment, enriched_at: datetime) -> bytes:
    """The JSON of the enriched post whose raw record is `raw`: the raw JSON object (a `Post`
    that validated, so none of the enrichment's keys is in it) with the enrichment's fields
    appended, rather than the whole post serialised again. Raises ValueError when `raw` is not
    a JSON object."""
    body = raw.rstrip()
    if not body.endswith(b"}"):
        raise ValueError("a raw post's JSON must be an object")
    added = orjson.dumps(enrichment.fields(enriched_at), option=orjson.OPT_UTC_Z)
    return body[:-1] + b"," + added[1:]


@dataclass
class _Item:
    text: str
    x_lang: str | None = None
    hashtags: Sequence[str] = ()
    mentions: Sequence[str] = ()
    author: str | None = None
    reply_to: str | None = None
    rule_tags: Sequence[str] = ()
    entities: Sequence[str] = field(default_factory=tuple)


def _item(p: Post) -> _Item:
    return _Item(
        text=p.text,
        x_lang=p.x_lang,
        hashtags=p.hashtags,
        mentions=p.mentions,
        author=p.author.username,
        reply_to=p.in_reply_to_username,
        rule_tags=p.rule_tags,
        entities=[n for c in p.context_annotations for n in (c.entity_name, c.entity_id)],
    )


WARM_UP_TEXTS = [
    "@someone why is my internet still down?? https://t.co/x #outage",
    "Merci pour votre aide, service au top !",
    "¿Cómo cambio mi tarifa?",
]


class Enricher:
    """Enriches batches; one instance per worker (models are loaded once)."""

    def __init__(self, watch: WatchConfig, sentiment: str = "fast") -> None:
        self.watch = watch
        self.matcher = WatchMatcher(watch)
        self.language = LanguageDetector(watch.languages)
        self.sentiment_name = sentiment
        self._sentiment: SentimentBackend | None = None
        self._official = watch.official_accounts(("brand", "competitor", "partner", "supplier"))

    def load(self) -> Enricher:
        """Load the models once, then enrich a few sample texts so that the first real batch
        does not pay for first-call work (regular expressions, caches)."""
        self.language.load()
        if self._sentiment is None:
            self._sentiment = get_backend(self.sentiment_name)  # type: ignore[arg-type]
            self._sentiment.load()
            self.enrich_texts(WARM_UP_TEXTS, [None] * len(WARM_UP_TEXTS))
        return self

    def _enrich(self, items: Sequence[_Item]) -> list[Enrichment]:
        if not items:
            return []
        self.load()
        assert self._sentiment is not None
        texts = [it.text for it in items]
        langs = self.language.detect_batch(texts, [it.x_lang for it in items])
        sentiments = self._sentiment.predict(texts, langs)
        out = []
        for it, lang, s in zip(items, langs, sentiments, strict=True):
            folded = fold(it.text)
            entries = self.matcher.match_entries(
                folded,
                hashtags=it.hashtags,
                mentions=it.mentions,
                author=it.author,
                reply_to=it.reply_to,
                rule_tags=it.rule_tags,
                lang=lang,
            )
            topics = self.matcher.match_topics(
                folded, lang, hashtags=it.hashtags, entities=it.entities
            )
            addressed = tuple(
                dict.fromkeys(
                    fold(m) for m in (*it.mentions, it.reply_to or "") if fold(m) in self._official
                )
            )
            author_entry = self._official.get(fold(it.author), "") if it.author else ""
            intent = classify(folded, s.label, s.confidence, addressed=bool(addressed))
            out.append(
                Enrichment(
                    lang=lang,
                    sentiment=s.label,
                    sentiment_score=round(s.score, 4),
                    sentiment_confidence=round(s.confidence, 4),
                    topics=tuple(topics),
                    intent=intent,
                    entries=tuple(e.name for e in entries),
                    entry_kinds=tuple(e.kind for e in entries),
                    author_entry=author_entry,
                    addressed=addressed,
                )
            )
        return out

    def enrichments(self, posts: Sequence[Post]) -> list[Enrichment]:
        """One `Enrichment` per post, in order. Raises only on a bug or a broken model."""
        return self._enrich([_item(p) for p in posts])

    def enrich(self, posts: Sequence[Post]) -> list[EnrichedPost]:
        """One `EnrichedPost` per post, in order. Raises only on a bug or a broken model."""
        now = datetime.now(UTC)
        return [
            enriched_post(p, e, now) for p, e in zip(posts, self.enrichments(posts), strict=True)
        ]

    def enrich_texts(
        self, texts: Sequence[str], x_langs: Sequence[str | None] | None = None
    ) -> list[Enrichment]:
        """Enrichment of bare texts; @mentions and #hashtags are read from the text itself."""
        langs = x_langs or [None] * len(texts)
        items = [
            _Item(text=t, x_lang=lang, hashtags=hashtags_in(t), mentions=mentions_in(t))
            for t, lang in zip(texts, langs, strict=True)
        ]
        return self._enrich(items)
