"""The X API v2 wire format, and `parse_stream_payload`: the only way from a payload to a `Post`.

The payload is the filtered stream's `{"data", "includes", "matching_rules"}` shape, which recent
search and the synthetic and replay sources also produce. Errors raise `InvalidPayload`, whose
message names the offending field with the payload's own names (`data.created_at: ...`).

Two ways to one result. The reference is pydantic's: the wire models below validate the payload,
then `Post.model_validate` the fields made of it (`_validated_post`). Most payloads take the fast
way (`_fast_fields`): orjson reads them and plain Python checks, in one pass, every value the
reference checks, then builds the `Post` without validating it again. It takes only what it is
sure of (exact JSON types, X's own time format) and leaves anything else, every bad payload
included, to the reference: results and error messages are the reference's (tests/veille/
test_x_payload.py holds them to it). `parse_stream_record` gives the ingest stage a post's Kafka
key and JSON without making the `Post` object; `post_json` is a Post's JSON, the bytes of
`model_dump_json()` in half the time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, get_args

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from veille.models.base import (
    MAX_ENTITIES,
    MAX_TAG_CHARS,
    MAX_TEXT_CHARS,
    MAX_URL_CHARS,
    UINT64_MAX,
    ReferenceType,
    VerifiedType,
    trusted,
)
from veille.models.posts import (
    EARLIEST_POST,
    LATEST_POST,
    Author,
    ContextAnnotation,
    Post,
    PublicMetrics,
    Reference,
)


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
    doc = _decoded(raw)
    if doc is not None:
        post = _fast_post(doc, source, received_at)
        if post is not None:
            return post
    return _validated_post(raw, source, received_at)


def parse_stream_record(raw: bytes | str, *, source: str = "x") -> tuple[bytes, bytes]:
    """The Kafka record of the post in an X payload: its key (`Post.key`) and its JSON, the
    bytes `post_json(parse_stream_payload(raw, source=source))` gives, without making the `Post`
    (the ingest stage's way). Raises `InvalidPayload` as `parse_stream_payload` does."""
    doc = _decoded(raw)
    if doc is not None:
        try:
            fields = _fast_fields(doc, source, None)
        except _NOT_SURE:
            pass
        else:
            return fields["id"].encode(), orjson.dumps(fields, option=orjson.OPT_UTC_Z)
    post = _validated_post(raw, source, None)
    return post.key, post_json(post)


def _decoded(raw: bytes | str | Mapping[str, Any]) -> dict[str, Any] | None:
    """The payload as a dict when it is one, for the fast way; None leaves it to the reference
    (which also refuses JSON nested deeper than its parser allows, and orjson does not)."""
    if type(raw) is bytes:
        openers = raw.count(b"[") + raw.count(b"{")
    elif type(raw) is str:
        openers = raw.count("[") + raw.count("{")
    else:
        return raw if type(raw) is dict else None
    if openers > _MAX_OPENERS:
        return None
    try:
        doc = orjson.loads(raw)
    except ValueError:
        return None  # the reference names what is wrong
    return doc if type(doc) is dict else None


_MAX_OPENERS = 200
"""Payloads with more `[` and `{` than this go to the reference: they might be nested deeper than
its JSON parser allows (it refuses 202 levels; orjson reads 1024)."""


def post_json(post: Post) -> bytes:
    """The JSON of `post`: the bytes of `post.model_dump_json().encode()`, made by orjson in half
    the time (a Post holds only strings, integers, booleans, None, UTC datetimes, tuples and
    nested models). Raises `TypeError` for a string that is not valid UTF-8 (a lone surrogate)."""
    return orjson.dumps(post.__dict__, default=_fields_of, option=orjson.OPT_UTC_Z)


def _fields_of(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.__dict__
    raise TypeError(f"{type(value).__name__} is not JSON")


# -- the reference: pydantic, twice --------------------------------------------------------


def _validated_post(
    raw: bytes | str | Mapping[str, Any], source: str, received_at: datetime | None
) -> Post:
    """`parse_stream_payload` by the wire models then `Post.model_validate`: what the fast way
    must agree with, and what names the field at fault in a bad payload."""
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


# -- the fast way: orjson and plain checks, once ---------------------------------------------


class _Unsure(Exception):
    """The fast way is not sure of a value: the reference decides."""


_NOT_SURE = (_Unsure, LookupError, TypeError, ValueError, AttributeError)
"""What the fast way raises for what it is not sure of: its own doubt, or the error of a missing
key or a wrong type met on the way (such a payload goes to the reference)."""


def _constraint(model: type[BaseModel], field: str, name: str) -> Any:
    """A constraint (`max_length`, `pattern`) of a model's field, read from the model itself so
    that the fast way checks what the model checks."""
    for m in model.model_fields[field].metadata:
        value = getattr(m, name, None)
        if value is not None:
            return value
    raise LookupError(f"{model.__name__}.{field} has no {name}")


_is_post_id = re.compile(_constraint(Post, "id", "pattern")).fullmatch
_is_handle = re.compile(_constraint(Author, "username", "pattern")).fullmatch
_NAME_MAX: int = _constraint(Author, "name", "max_length")
_DESCRIPTION_MAX: int = _constraint(Author, "description", "max_length")
_TEXT_MAX: int = _constraint(Post, "text", "max_length")
_is_x_time = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3})?Z"
).fullmatch
"""X's own time format (`2026-11-20T09:00:00.000Z`); the reference reads any other."""
_VERIFIED_TYPES = frozenset(get_args(VerifiedType))
_REFERENCE_TYPES = frozenset(get_args(ReferenceType))
_POST_COUNTS = tuple(PublicMetrics.model_fields)
_POST_COUNT_SET = frozenset(_POST_COUNTS)
_NONE: dict[str, Any] = {}  # an absent object: every field at its default (never written)
_EMPTY: list[Any] = []  # an absent list (never written)
_ZERO_METRICS = PublicMetrics()
_ZERO_METRICS_JSON = dict.fromkeys(_POST_COUNTS, 0)
_from_iso = datetime.fromisoformat


def _fast_post(doc: dict[str, Any], source: str, received_at: datetime | None) -> Post | None:
    """The `Post` of a decoded payload, or None when the reference must decide (anything not
    certainly valid, every bad payload included)."""
    try:
        fields = _fast_fields(doc, source, received_at)
    except _NOT_SURE:
        return None
    return _post_of(fields)


def _post_of(fields: dict[str, Any]) -> Post:
    """The `Post` of `_fast_fields`' plain values (which it takes over)."""
    metrics = fields["metrics"]
    fields["author"] = trusted(Author, fields["author"])
    fields["references"] = tuple(trusted(Reference, r) for r in fields["references"])
    for key in ("hashtags", "mentions", "urls", "cashtags", "rule_tags"):
        fields[key] = tuple(fields[key])
    fields["metrics"] = (
        _ZERO_METRICS if metrics is _ZERO_METRICS_JSON else trusted(PublicMetrics, dict(metrics))
    )
    fields["context_annotations"] = tuple(
        trusted(ContextAnnotation, c) for c in fields["context_annotations"]
    )
    return trusted(Post, fields)


def _xid(value: Any) -> str:
    """An `XId`: a string, or the integer it stands for."""
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise _Unsure


def _post_id(value: Any) -> str:
    s = value if type(value) is str else _xid(value)
    if _is_post_id(s) is None:
        raise _Unsure
    return s


def _time(value: Any) -> datetime:
    if type(value) is not str or _is_x_time(value) is None:
        raise _Unsure
    return _from_iso(value)  # aware, UTC; ValueError for a date that is not one


def _strings(items: Any, field: str, cut: int | None) -> list[str]:
    """The `field` string of each object of a list, cut to `cut` characters, the first
    `MAX_ENTITIES`."""
    if type(items) is not list:
        raise _Unsure
    out = []
    for item in items:
        value = item[field]  # TypeError when not an object
        if type(item) is not dict or type(value) is not str:
            raise _Unsure
        out.append(value[:cut])
    return out[:MAX_ENTITIES] if len(out) > MAX_ENTITIES else out


def _entities(ent: Any) -> tuple[list[str], list[str], list[str], list[str]]:
    """Hashtags, mentions, urls and cashtags of an `entities` object, bounded and cut."""
    if type(ent) is not dict:
        raise _Unsure
    if not ent:
        return [], [], [], []
    get = ent.get
    items = get("urls", _EMPTY)
    if type(items) is not list:
        raise _Unsure
    urls = []
    for u in items:
        url, expanded = u["url"], u.get("expanded_url")  # not an object: an error
        if (
            type(u) is not dict
            or type(url) is not str
            or (expanded is not None and type(expanded) is not str)
        ):
            raise _Unsure
        urls.append((expanded or url)[:MAX_URL_CHARS])
    return (
        _strings(get("hashtags", _EMPTY), "tag", MAX_TAG_CHARS),
        _strings(get("mentions", _EMPTY), "username", None),
        urls[:MAX_ENTITIES],
        _strings(get("cashtags", _EMPTY), "tag", MAX_TAG_CHARS),
    )


def _users(items: Any) -> dict[str, tuple[dict[str, Any], datetime | None]]:
    """`includes.users`, each checked as `_XUser` checks it: id -> (the item, its creation)."""
    if type(items) is not list:
        raise _Unsure
    users = {}
    for u in items:
        if type(u) is not dict:
            raise _Unsure
        uid = u["id"]
        created = u.get("created_at")
        if created is not None:
            created = _time(created)
        counts = u.get("public_metrics", _NONE)
        get = counts.get  # AttributeError when not an object
        if (
            type(u["username"]) is not str
            or type(u.get("name", "")) is not str
            or type(u.get("verified", False)) is not bool
            or u.get("verified_type", "none") not in _VERIFIED_TYPES
            or type(u.get("description", "")) is not str
            or type(counts) is not dict
            or type(get("followers_count", 0)) is not int
            or type(get("following_count", 0)) is not int
            or type(get("tweet_count", 0)) is not int
            or type(get("listed_count", 0)) is not int
        ):
            raise _Unsure
        users[uid if type(uid) is str else _xid(uid)] = (u, created)
    return users


def _author(author_id: str, found: tuple[dict[str, Any], datetime | None] | None) -> dict[str, Any]:
    """The author's fields from its checked `includes.users` item, held to `Author`'s
    constraints; an unknown author when X left it out."""
    if found is None:
        return {
            "id": author_id,
            "username": "",
            "name": "",
            "followers_count": 0,
            "following_count": 0,
            "tweet_count": 0,
            "listed_count": 0,
            "verified": False,
            "verified_type": "none",
            "created_at": None,
            "description": "",
            "known": False,
        }
    u, created = found
    username, name = u["username"], u.get("name", "")
    description = u.get("description", "")
    counts = u.get("public_metrics", _NONE)
    followers = counts.get("followers_count", 0)
    following = counts.get("following_count", 0)
    tweets = counts.get("tweet_count", 0)
    listed = counts.get("listed_count", 0)
    if (
        _is_handle(username) is None
        or len(name) > _NAME_MAX
        or len(description) > _DESCRIPTION_MAX
        or not 0 <= followers <= UINT64_MAX
        or not 0 <= following <= UINT64_MAX
        or not 0 <= tweets <= UINT64_MAX
        or not 0 <= listed <= UINT64_MAX
    ):
        raise _Unsure
    return {
        "id": author_id,
        "username": username,
        "name": name,
        "followers_count": followers,
        "following_count": following,
        "tweet_count": tweets,
        "listed_count": listed,
        "verified": u.get("verified", False),
        "verified_type": u.get("verified_type", "none"),
        "created_at": created,
        "description": description,
        "known": True,
    }


def _metrics(m: Any) -> dict[str, int]:
    """`data.public_metrics`, held to `PublicMetrics` (which refuses unknown fields)."""
    if m is _NONE:
        return _ZERO_METRICS_JSON
    if type(m) is not dict or not m.keys() <= _POST_COUNT_SET:
        raise _Unsure
    for value in m.values():
        if type(value) is not int or value < 0 or value > UINT64_MAX:
            raise _Unsure
    if len(m) == len(_POST_COUNTS) and tuple(m) == _POST_COUNTS:
        return m  # X's own order, the model's
    return {key: m.get(key, 0) for key in _POST_COUNTS}


def _fast_fields(doc: dict[str, Any], source: str, received_at: datetime | None) -> dict[str, Any]:
    """The fields of `_validated_post`'s Post as plain JSON values (objects as dicts, in the
    models' field order), checking what its models check. Raises `_Unsure` (or the error of a
    missing key or a wrong type) for anything it is not sure of."""
    data = doc["data"]
    if type(data) is not dict:
        raise _Unsure
    post_id = _post_id(data["id"])
    text = data["text"]
    created_at = _time(data["created_at"])
    author_id = _post_id(data["author_id"])
    lang = data.get("lang")
    conversation_id = data.get("conversation_id")
    reply_to = data.get("in_reply_to_user_id")
    if (
        type(text) is not str
        or not EARLIEST_POST <= created_at < LATEST_POST
        or (lang is not None and type(lang) is not str)
    ):
        raise _Unsure
    if conversation_id is not None and conversation_id != post_id:  # a thread's first post
        conversation_id = _post_id(conversation_id)
    if reply_to is not None:
        reply_to = _post_id(reply_to)
    ref_items = data.get("referenced_tweets", _EMPTY)
    if type(ref_items) is not list:
        raise _Unsure
    for r in ref_items:
        if type(r) is not dict or r["type"] not in _REFERENCE_TYPES:
            raise _Unsure
        _xid(r["id"])
    hashtags, mentions, urls, cashtags = _entities(data.get("entities", _NONE))
    metrics = _metrics(data.get("public_metrics", _NONE))
    annotations = []
    ann_items = data.get("context_annotations", _EMPTY)
    if type(ann_items) is not list:
        raise _Unsure
    for c in ann_items:
        domain, entity = c["domain"], c["entity"]
        domain_name, entity_name = domain["name"], entity["name"]
        if (
            type(c) is not dict
            or type(domain) is not dict
            or type(entity) is not dict
            or type(domain_name) is not str
            or type(entity_name) is not str
        ):
            raise _Unsure
        annotations.append(
            {
                "domain_id": _xid(domain["id"])[:MAX_TAG_CHARS],
                "domain_name": domain_name[:MAX_TAG_CHARS],
                "entity_id": _xid(entity["id"])[:MAX_TAG_CHARS],
                "entity_name": entity_name[:MAX_TAG_CHARS],
            }
        )
    note = data.get("note_tweet")
    if note is not None:  # long posts: the full text and its entities
        text = note["text"]
        if type(note) is not dict or type(text) is not str:
            raise _Unsure
        if note.get("entities") is not None:
            hashtags, mentions, urls, cashtags = _entities(note["entities"])
    if len(text) > _TEXT_MAX:
        raise _Unsure

    includes = doc.get("includes", _NONE)
    if type(includes) is not dict:
        raise _Unsure
    users = _users(includes.get("users", _EMPTY))
    tweet_items = includes.get("tweets", _EMPTY)
    if type(tweet_items) is not list:
        raise _Unsure
    tweets: dict[str, tuple[str, str | None]] = {}
    for tw in tweet_items:
        tw_text, tw_author = tw.get("text", ""), tw.get("author_id")  # not an object: error
        if type(tw) is not dict or type(tw_text) is not str:
            raise _Unsure
        tweets[_xid(tw["id"])] = (tw_text, None if tw_author is None else _xid(tw_author))
    rule_items = doc.get("matching_rules", _EMPTY)
    if type(rule_items) is not list:
        raise _Unsure
    rule_tags = []
    for n, rule in enumerate(rule_items):
        rule_id, tag = rule.get("id"), rule.get("tag")  # not an object: error
        if type(rule) is not dict or (tag is not None and type(tag) is not str):
            raise _Unsure
        if rule_id is not None and type(rule_id) is not str:
            _xid(rule_id)
        if tag and n < MAX_ENTITIES:
            rule_tags.append(tag[:MAX_TAG_CHARS])

    references = []
    for r in ref_items[:MAX_ENTITIES]:
        ref_id = _post_id(r["id"])
        inc = tweets.get(ref_id)
        ref_user = users.get(inc[1]) if inc is not None and inc[1] else None
        references.append(
            {
                "type": r["type"],
                "id": ref_id,
                "author_username": ref_user[0]["username"] if ref_user else None,
                "text": inc[0][:MAX_TEXT_CHARS] if inc is not None else None,
            }
        )
    reply_user = users.get(reply_to) if reply_to else None
    if received_at is None:
        received_at = datetime.now(UTC)
    elif received_at.tzinfo is None:
        raise _Unsure
    else:
        received_at = received_at.astimezone(UTC)
    return {
        "id": post_id,
        "text": text,
        "created_at": created_at,
        "author": _author(author_id, users.get(author_id)),
        "x_lang": lang,
        "conversation_id": conversation_id,
        "in_reply_to_user_id": reply_to,
        "in_reply_to_username": reply_user[0]["username"] if reply_user else None,
        "references": references,
        "hashtags": hashtags,
        "mentions": mentions,
        "urls": urls,
        "cashtags": cashtags,
        "metrics": metrics,
        "context_annotations": annotations[:MAX_ENTITIES],
        "rule_tags": rule_tags,
        "source": source,
        "received_at": received_at,
    }
