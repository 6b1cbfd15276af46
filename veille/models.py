"""The records that cross Kafka: posts, enriched posts, dead letters.

A `Post` is one X post normalised from an X API v2 payload (the filtered stream's
`{"data", "includes", "matching_rules"}` shape, which recent search and the synthetic and replay
sources also produce). `parse_stream_payload` is the only way in: it raises `InvalidPayload`
whose message names the offending field. `EnrichedPost` is a `Post` plus what the processors
add. `DeadLetter` is what any stage writes to the dead-letter topic instead of dropping a record.

All models serialise to JSON with `model_dump_json()` and back with `model_validate_json()`;
that JSON is the value of every Kafka record veille writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    computed_field,
    model_validator,
)

PostId = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,18}$")]
"""X ids are decimal strings of a 63-bit snowflake."""

Sentiment = Literal["negative", "neutral", "positive"]
Intent = Literal["question", "complaint", "praise", "request", "other"]
EntryKind = Literal["brand", "competitor", "partner", "supplier"]
ReferenceType = Literal["replied_to", "quoted", "retweeted"]
VerifiedType = Literal["blue", "business", "government", "none"]
Stage = Literal["ingest", "process", "sink"]

MAX_TEXT_CHARS = 25_000
"""X's longest post ("note tweet"); anything longer is not an X post."""

UINT64_MAX = 2**64 - 1
"""The largest count ClickHouse stores (UInt64 columns): a larger one is refused here, as bad
input, rather than failing the sink's insert of the whole batch."""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp has no time zone (X timestamps are UTC, ending in Z)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class InvalidPayload(ValueError):
    """A payload that is not a valid X post; the message names the field and the problem."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Author(_Model):
    id: PostId
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,50}$")]
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    followers_count: int = Field(0, ge=0, le=UINT64_MAX)
    following_count: int = Field(0, ge=0, le=UINT64_MAX)
    tweet_count: int = Field(0, ge=0, le=UINT64_MAX)
    listed_count: int = Field(0, ge=0, le=UINT64_MAX)
    verified: bool = False
    verified_type: VerifiedType = "none"
    created_at: UtcDatetime | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] = ""


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


AlertSeverity = Literal["info", "warning", "critical"]


class Alert(_Model):
    """Something a person should know now: a budget reached, a crisis, an impersonator.

    `key` identifies what the alert is about (`budget:2026-11`, `spike:Orbital Telecom`): a
    later alert with the same key updates the earlier one instead of adding another.
    """

    key: str
    kind: str
    severity: AlertSeverity = "warning"
    title: str
    detail: str = ""
    entry: str | None = None
    created_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any] = {}


class AccountSnapshot(_Model):
    """The public counts of a watched account at one moment (the audience poller's reading)."""

    id: PostId
    username: str
    name: str = ""
    entry: str = Field(description="the watch entry owning the account")
    entry_kind: EntryKind
    followers_count: int = Field(ge=0, le=UINT64_MAX)
    following_count: int = Field(0, ge=0, le=UINT64_MAX)
    tweet_count: int = Field(0, ge=0, le=UINT64_MAX)
    listed_count: int = Field(0, ge=0, le=UINT64_MAX)
    observed_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))


class UsageSnapshot(_Model):
    """Posts read from X (billed once per post per UTC day) and the budget they count against."""

    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    reads_day: int = Field(ge=0)
    reads_month: int = Field(ge=0)
    duplicates_day: int = Field(0, ge=0, description="posts read again the same day (not billed)")
    budget_posts: int | None = None
    cost_month_usd: float = 0.0
    paused: bool = False
    observed_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))


MAX_DEAD_LETTER_PAYLOAD = 512 * 1024
"""Bytes of the original record a dead letter keeps. Base64 and the reason added, the dead letter
stays well under Kafka's default limit on a record (1 MB): a huge bad record is dead-lettered with
its first bytes (its reason says so) instead of failing its delivery and stopping the stage."""


class DeadLetter(_Model):
    """A record a stage could not parse or process, kept with the reason and original bytes
    (the first `MAX_DEAD_LETTER_PAYLOAD` of them)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    stage: Stage
    source: str = Field(description="where the record came from: a source name, file:line, ...")
    reason: str
    payload: bytes = Field(description="the original bytes, unchanged")
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    failed_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))

    @model_validator(mode="before")
    @classmethod
    def _cut(cls, data: Any) -> Any:
        payload = data.get("payload") if isinstance(data, dict) else None
        if isinstance(payload, bytes) and len(payload) > MAX_DEAD_LETTER_PAYLOAD:
            note = f" (payload cut to its first {MAX_DEAD_LETTER_PAYLOAD} of {len(payload)} bytes)"
            data = {**data, "payload": payload[:MAX_DEAD_LETTER_PAYLOAD]}
            data["reason"] = f"{data.get('reason', '')}{note}"
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Stable identity: the same record dead-lettered twice is stored once."""
        h = hashlib.blake2b(digest_size=16)
        for part in (
            self.stage,
            self.source,
            self.topic or "",
            str(self.partition),
            str(self.offset),
        ):
            h.update(part.encode())
            h.update(b"\0")
        h.update(self.payload)
        return h.hexdigest()

    @property
    def key(self) -> bytes:
        return self.id.encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> DeadLetter:
        raw = json.loads(data)
        raw.pop("id", None)
        return cls.model_validate_json(json.dumps(raw))


# --- X API v2 wire format -------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _XUserMetrics(_Wire):
    followers_count: int = 0
    following_count: int = 0
    tweet_count: int = 0
    listed_count: int = 0


class _XUser(_Wire):
    id: str
    username: str
    name: str = ""
    created_at: datetime | None = None
    verified: bool = False
    verified_type: VerifiedType = "none"
    description: str = ""
    public_metrics: _XUserMetrics = _XUserMetrics()


class _XHashtag(_Wire):
    tag: str


class _XMention(_Wire):
    username: str


class _XUrl(_Wire):
    url: str
    expanded_url: str | None = None


class _XEntities(_Wire):
    hashtags: list[_XHashtag] = []
    mentions: list[_XMention] = []
    urls: list[_XUrl] = []
    cashtags: list[_XHashtag] = []


class _XRef(_Wire):
    type: ReferenceType
    id: str


class _XDomain(_Wire):
    id: str
    name: str


class _XContext(_Wire):
    domain: _XDomain
    entity: _XDomain


class _XNoteTweet(_Wire):
    text: str
    entities: _XEntities | None = None


class _XTweet(_Wire):
    id: str
    text: str
    created_at: datetime
    author_id: str
    lang: str | None = None
    conversation_id: str | None = None
    in_reply_to_user_id: str | None = None
    referenced_tweets: list[_XRef] = []
    entities: _XEntities = _XEntities()
    public_metrics: PublicMetrics = PublicMetrics()
    context_annotations: list[_XContext] = []
    note_tweet: _XNoteTweet | None = None


class _XIncludedTweet(_Wire):
    id: str
    text: str = ""
    author_id: str | None = None


class _XIncludes(_Wire):
    users: list[_XUser] = []
    tweets: list[_XIncludedTweet] = []


class _XRule(_Wire):
    id: str | None = None
    tag: str | None = None


class _XPayload(_Wire):
    data: _XTweet
    includes: _XIncludes = _XIncludes()
    matching_rules: list[_XRule] = []


def _describe(err: ValidationError, rename: bool = False) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = _wire_loc(tuple(e["loc"])) if rename else tuple(e["loc"])
        where = ".".join(str(p) for p in loc) or "(root)"
        parts.append(f"{where}: {e['msg']}")
    more = len(err.errors()) - 5
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_stream_payload(
    raw: bytes | str | Mapping[str, Any], *, source: str = "x", received_at: datetime | None = None
) -> Post:
    """Parse one X API v2 post payload into a `Post`.

    Raises `InvalidPayload` naming the field at fault (`data.created_at: ...`), for bad JSON,
    invalid UTF-8, a missing author in `includes.users`, or any value the models refuse.
    """
    try:
        if isinstance(raw, Mapping):
            wire = _XPayload.model_validate(raw)
        else:
            wire = _XPayload.model_validate_json(raw)
    except ValidationError as e:
        raise InvalidPayload(f"invalid X post payload: {_describe(e)}") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidPayload(f"invalid X post payload: {e}") from None

    t = wire.data
    users = {u.id: u for u in wire.includes.users}
    tweets = {tw.id: tw for tw in wire.includes.tweets}
    user = users.get(t.author_id)
    if user is None:
        raise InvalidPayload(
            f"invalid X post payload: includes.users: no user with data.author_id={t.author_id!r}"
        )
    entities = t.entities
    text = t.text
    if t.note_tweet is not None:  # long posts: the full text and its entities
        text = t.note_tweet.text
        entities = t.note_tweet.entities or entities
    refs = []
    for r in t.referenced_tweets:
        inc = tweets.get(r.id)
        ref_author = users.get(inc.author_id) if inc and inc.author_id else None
        refs.append(
            {
                "type": r.type,
                "id": r.id,
                "author_username": ref_author.username if ref_author else None,
                "text": inc.text if inc else None,
            }
        )
    reply_user = users.get(t.in_reply_to_user_id) if t.in_reply_to_user_id else None
    fields: dict[str, Any] = {
        "id": t.id,
        "text": text,
        "created_at": t.created_at,
        "author": {
            "id": user.id,
            "username": user.username,
            "name": user.name,
            "followers_count": user.public_metrics.followers_count,
            "following_count": user.public_metrics.following_count,
            "tweet_count": user.public_metrics.tweet_count,
            "listed_count": user.public_metrics.listed_count,
            "verified": user.verified,
            "verified_type": user.verified_type,
            "created_at": user.created_at,
            "description": user.description,
        },
        "x_lang": t.lang,
        "conversation_id": t.conversation_id,
        "in_reply_to_user_id": t.in_reply_to_user_id,
        "in_reply_to_username": reply_user.username if reply_user else None,
        "references": refs,
        "hashtags": [h.tag for h in entities.hashtags],
        "mentions": [m.username for m in entities.mentions],
        "urls": [u.expanded_url or u.url for u in entities.urls],
        "cashtags": [c.tag for c in entities.cashtags],
        "metrics": t.public_metrics,
        "context_annotations": [
            {
                "domain_id": c.domain.id,
                "domain_name": c.domain.name,
                "entity_id": c.entity.id,
                "entity_name": c.entity.name,
            }
            for c in t.context_annotations
        ],
        "rule_tags": [r.tag for r in wire.matching_rules if r.tag],
        "source": source,
    }
    if received_at is not None:
        fields["received_at"] = received_at
    try:
        return Post.model_validate(fields)
    except ValidationError as e:
        raise InvalidPayload(f"invalid X post payload: {_describe(e, rename=True)}") from None


_WIRE_NAMES = {
    ("author",): "includes.users[author]",
    ("x_lang",): "data.lang",
    ("metrics",): "data.public_metrics",
    ("references",): "data.referenced_tweets",
}


def _wire_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Rename a model location to the payload's own field names so errors point at the input."""
    head = _WIRE_NAMES.get(loc[:1])
    return (head, *loc[1:]) if head else ("data", *loc)
