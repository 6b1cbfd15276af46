"""The records that cross Kafka: posts, enriched posts, alerts, observations, dead letters.

A `Post` is one X post normalised from an X API v2 payload; `parse_stream_payload` is the only
way in (`veille.models.x_payload`): it raises `InvalidPayload` whose message names the offending
field. `parse_stream_record` gives the ingest stage the post's Kafka key and JSON straight from
the payload, and `post_json` a post's JSON, both by orjson. `EnrichedPost` is a `Post` plus what the processors add (`veille.models.posts`). An
`Alert` is what a person should know now, and an `Observation` is one (post, watch entry) as the
crisis detector reads it, from the observations topic where an `ObservationBatch` carries an
entry's observations of one batch (`veille.models.alerts`).
`AccountSnapshot`, `UsageSnapshot` and `RuleForecast` are readings over time
(`veille.models.snapshots`).
`DeadLetter` is what any stage writes to the dead-letter topic instead of dropping a record
(`veille.models.dead_letter`). The shared types (`Sentiment`, `EntryKind`, `UtcDatetime`, ...)
live in `veille.models.base`.

All models serialise to JSON with `model_dump_json()` and back with `model_validate_json()`;
that JSON is the value of every Kafka record veille writes. Import them from here:
`from veille.models import Post`.
"""

from veille.models.alerts import Alert, AlertSeverity, Observation, ObservationBatch
from veille.models.base import (
    MAX_TEXT_CHARS,
    UINT64_MAX,
    EntryKind,
    Intent,
    PostId,
    ReferenceType,
    Sentiment,
    Stage,
    UtcDatetime,
    VerifiedType,
    trusted,
)
from veille.models.dead_letter import MAX_DEAD_LETTER_PAYLOAD, DeadLetter
from veille.models.posts import (
    Author,
    ContextAnnotation,
    EnrichedPost,
    Post,
    PublicMetrics,
    Reference,
)
from veille.models.snapshots import AccountSnapshot, RuleForecast, UsageSnapshot
from veille.models.x_payload import (
    InvalidPayload,
    parse_stream_payload,
    parse_stream_record,
    post_json,
)

__all__ = [
    "MAX_DEAD_LETTER_PAYLOAD",
    "MAX_TEXT_CHARS",
    "UINT64_MAX",
    "AccountSnapshot",
    "Alert",
    "AlertSeverity",
    "Author",
    "ContextAnnotation",
    "DeadLetter",
    "EnrichedPost",
    "EntryKind",
    "Intent",
    "InvalidPayload",
    "Observation",
    "ObservationBatch",
    "Post",
    "PostId",
    "PublicMetrics",
    "Reference",
    "ReferenceType",
    "RuleForecast",
    "Sentiment",
    "Stage",
    "UsageSnapshot",
    "UtcDatetime",
    "VerifiedType",
    "parse_stream_payload",
    "parse_stream_record",
    "post_json",
    "trusted",
]
