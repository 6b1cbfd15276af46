"""Posts: an X post with its author, references and metrics, and the post once enriched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from veille.models.base import (
    MAX_TEXT_CHARS,
    UINT64_MAX,
    EntryKind,
    Intent,
    PostId,
    ReferenceType,
    Sentiment,
    UtcDatetime,
    VerifiedType,
    _Model,
)

EARLIEST_POST = datetime(2006, 1, 1, tzinfo=UTC)
LATEST_POST = datetime(2100, 1, 1, tzinfo=UTC)


class Author(_Model):
    """A post's author. `known` is False (and `username` empty) when X did not include the
    author in its answer (a withheld or suspended account): only the id is known."""

    id: PostId
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{0,50}$")]
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    followers_count: int = Field(0, ge=0, le=UINT64_MAX)
    following_count: int = Field(0, ge=0, le=UINT64_MAX)
    tweet_count: int = Field(0, ge=0, le=UINT64_MAX)
    listed_count: int = Field(0, ge=0, le=UINT64_MAX)
    verified: bool = False
    verified_type: VerifiedType = "none"
    created_at: UtcDatetime | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    known: bool = True


class Reference(_Model):
    """A post this one replies to, quotes or reposts."""

    type: ReferenceType
    id: PostId
    author_username: str | None = None
    text: str | None = None


class PublicMetrics(_Model):
    retweet_count: int = Field(0, ge=0, le=UINT64_MAX)
    reply_count: int = Field(0, ge=0, le=UINT64_MAX)
    like_count: int = Field(0, ge=0, le=UINT64_MAX)
    quote_count: int = Field(0, ge=0, le=UINT64_MAX)
    bookmark_count: int = Field(0, ge=0, le=UINT64_MAX)
    impression_count: int = Field(0, ge=0, le=UINT64_MAX)

    @property
    def engagement(self) -> int:
        return self.retweet_count + self.reply_count + self.like_count + self.quote_count


class ContextAnnotation(_Model):
    domain_id: str
    domain_name: str
    entity_id: str
    entity_name: str


class Post(_Model):
    """One X post with its author, entities and the filtered-stream rules it matched."""

    id: PostId
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
    created_at: UtcDatetime
    author: Author
    x_lang: str | None = Field(None, description="X's own language tag (BCP47, 'und' unknown)")
    conversation_id: PostId | None = None
    in_reply_to_user_id: PostId | None = None
    in_reply_to_username: str | None = None
    references: tuple[Reference, ...] = ()
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    cashtags: tuple[str, ...] = ()
    metrics: PublicMetrics = PublicMetrics()
    context_annotations: tuple[ContextAnnotation, ...] = ()
    rule_tags: tuple[str, ...] = ()
    source: str = "x"
    received_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("created_at")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        # X began in 2006; a year 1 or 9999 is a broken record, and would make ClickHouse
        # partitions (months) that no query reads
        if not EARLIEST_POST <= value < LATEST_POST:
            raise ValueError(f"{value.isoformat()} is not between 2006 and 2100")
        return value

    def reference(self, kind: ReferenceType) -> Reference | None:
        return next((r for r in self.references if r.type == kind), None)

    @property
    def is_retweet(self) -> bool:
        return self.reference("retweeted") is not None

    @property
    def is_reply(self) -> bool:
        return self.reference("replied_to") is not None

    @property
    def is_quote(self) -> bool:
        return self.reference("quoted") is not None

    @property
    def key(self) -> bytes:
        """The Kafka key: the post id, so every copy of a post lands in one partition."""
        return self.id.encode()


class EnrichedPost(Post):
    """A post plus language, sentiment, topics, intent and the watch entries it matched."""

    lang: str = Field(description="ISO 639-1 detected from the text; 'und' when unknown")
    sentiment: Sentiment
    sentiment_score: float = Field(
        ge=-1.0, le=1.0, description="polarity: P(positive) - P(negative)"
    )
    sentiment_confidence: float = Field(ge=0.0, le=1.0, description="probability of the label")
    topics: tuple[str, ...] = ()
    intent: Intent = "other"
    entries: tuple[str, ...] = Field((), description="names of the watch entries matched")
    entry_kinds: tuple[EntryKind, ...] = Field((), description="kind of each entry, same order")
    author_entry: str = Field("", description="entry whose official account wrote it, or ''")
    addressed: tuple[str, ...] = Field(
        (), description="official accounts (lower-case handles) it mentions or replies to"
    )
    enriched_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))
