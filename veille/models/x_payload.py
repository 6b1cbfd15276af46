"""The X API v2 wire format, and `parse_stream_payload`: the only way from a payload to a `Post`.

The payload is the filtered stream's `{"data", "includes", "matching_rules"}` shape, which recent
search and the synthetic and replay sources also produce. Errors raise `InvalidPayload`, whose
message names the offending field with the payload's own names (`data.created_at: ...`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from veille.models.base import (
    MAX_ENTITIES,
    MAX_TAG_CHARS,
    MAX_TEXT_CHARS,
    MAX_URL_CHARS,
    ReferenceType,
    VerifiedType,
)
from veille.models.posts import Post, PublicMetrics


class InvalidPayload(ValueError):
    """A payload that is not a valid X post; the message names the field and the problem."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _id_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


XId = Annotated[str, BeforeValidator(_id_text)]
"""An id X gives as a string, taken too as the integer it stands for (seen in real answers:
rule ids in `matching_rules`): liberal where the meaning is unambiguous, strict elsewhere."""


class _XUserMetrics(_Wire):
    followers_count: int = 0
    following_count: int = 0
    tweet_count: int = 0
    listed_count: int = 0


class _XUser(_Wire):
    id: XId
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
    id: XId


class _XDomain(_Wire):
    id: XId
    name: str


class _XContext(_Wire):
    domain: _XDomain
    entity: _XDomain


class _XNoteTweet(_Wire):
    text: str
    entities: _XEntities | None = None


class _XTweet(_Wire):
    id: XId
    text: str
    created_at: datetime
    author_id: XId
    lang: str | None = None
    conversation_id: XId | None = None
    in_reply_to_user_id: XId | None = None
    referenced_tweets: list[_XRef] = []
    entities: _XEntities = _XEntities()
    public_metrics: PublicMetrics = PublicMetrics()
    context_annotations: list[_XContext] = []
    note_tweet: _XNoteTweet | None = None


class _XIncludedTweet(_Wire):
    id: XId
    text: str = ""
    author_id: XId | None = None


class _XIncludes(_Wire):
    users: list[_XUser] = []
    tweets: list[_XIncludedTweet] = []


class _XRule(_Wire):
    id: XId | None = None
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
    invalid UTF-8, or any value the models refuse. Liberal where X is: numbers where strings
    are expected, an author missing from `includes.users` (kept unknown).
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
    # X leaves out the author of a withheld or suspended account: the post is kept with what is
    # known (the author's id), its author marked unknown (`known=False`, an empty username)
    user = users.get(t.author_id) or _XUser(id=t.author_id, username="")
    entities = t.entities
    text = t.text
    if t.note_tweet is not None:  # long posts: the full text and its entities
        text = t.note_tweet.text
        entities = t.note_tweet.entities or entities
    refs = []
    for r in t.referenced_tweets[:MAX_ENTITIES]:
        inc = tweets.get(r.id)
        ref_author = users.get(inc.author_id) if inc and inc.author_id else None
        refs.append(
            {
                "type": r.type,
                "id": r.id,
                "author_username": ref_author.username if ref_author else None,
                "text": inc.text[:MAX_TEXT_CHARS] if inc else None,
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
            "known": t.author_id in users,
        },
        "x_lang": t.lang,
        "conversation_id": t.conversation_id,
        "in_reply_to_user_id": t.in_reply_to_user_id,
        "in_reply_to_username": reply_user.username if reply_user else None,
        "references": refs,
        # bounded (`MAX_ENTITIES` of each, each cut), so that no valid post makes a record
        # too large for Kafka downstream
        "hashtags": [h.tag[:MAX_TAG_CHARS] for h in entities.hashtags[:MAX_ENTITIES]],
        "mentions": [m.username for m in entities.mentions[:MAX_ENTITIES]],
        "urls": [(u.expanded_url or u.url)[:MAX_URL_CHARS] for u in entities.urls[:MAX_ENTITIES]],
        "cashtags": [c.tag[:MAX_TAG_CHARS] for c in entities.cashtags[:MAX_ENTITIES]],
        "metrics": t.public_metrics,
        "context_annotations": [
            {
                "domain_id": c.domain.id[:MAX_TAG_CHARS],
                "domain_name": c.domain.name[:MAX_TAG_CHARS],
                "entity_id": c.entity.id[:MAX_TAG_CHARS],
                "entity_name": c.entity.name[:MAX_TAG_CHARS],
            }
            for c in t.context_annotations[:MAX_ENTITIES]
        ],
        "rule_tags": [r.tag[:MAX_TAG_CHARS] for r in wire.matching_rules[:MAX_ENTITIES] if r.tag],
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
