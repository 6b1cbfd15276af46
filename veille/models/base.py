"""What every record shares: the closed vocabularies, the id and timestamp types, the base model.

Every record is a frozen pydantic model that refuses unknown fields (`_Model`); timestamps are
time-zone aware and normalised to UTC (`UtcDatetime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

PostId = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,18}$")]
"""X ids are decimal strings of a 63-bit snowflake."""

Sentiment = Literal["negative", "neutral", "positive"]
Intent = Literal["question", "complaint", "praise", "request", "other"]
EntryKind = Literal["brand", "competitor", "partner", "supplier", "sector"]
"""What a post is about: a named watch entry of one of the first four kinds, or a sector item
(watch.yaml's `sector:` section, deliberate broad listening)."""
ReferenceType = Literal["replied_to", "quoted", "retweeted"]
VerifiedType = Literal["blue", "business", "government", "none"]
Stage = Literal["ingest", "process", "sink"]

MAX_TEXT_CHARS = 25_000
MAX_ENTITIES = 100
"""Most hashtags, mentions, URLs, cashtags, context annotations, rule tags kept per post."""
MAX_TAG_CHARS = 280
MAX_URL_CHARS = 2048
"""X's longest post ("note tweet"); anything longer is not an X post."""

UINT64_MAX = 2**64 - 1
"""The largest count ClickHouse stores (UInt64 columns): a larger one is refused here, as bad
input, rather than failing the sink's insert of the whole batch."""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp has no time zone (X timestamps are UTC, ending in Z)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


M = TypeVar("M", bound=BaseModel)


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """An instance of `cls` from `values` that are already valid and name every field: what
    `model_construct` does for such values (no validation, no defaults to fill, no aliases),
    at a tenth of its cost, for the processor's hot path. `values` becomes the instance's
    `__dict__`. Anything else (a missing field, an invalid value) is a bug of the caller."""
    m = cls.__new__(cls)
    object.__setattr__(m, "__dict__", values)
    object.__setattr__(m, "__pydantic_fields_set__", set(values))
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", None)
    return m
