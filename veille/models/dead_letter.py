"""The dead letter: what any stage writes to the dead-letter topic instead of dropping a record."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field, computed_field, model_validator

from veille.models.base import Stage, UtcDatetime, _Model

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
        """A dead letter from its JSON (its id recomputed). Raises ValueError for anything
        else: bad JSON, JSON nested beyond reason, not an object, fields the model refuses."""
        try:
            raw = json.loads(data)
        except RecursionError:
            raise ValueError("not a dead letter: JSON nested too deeply") from None
        if not isinstance(raw, dict):
            raise ValueError(f"not a dead letter: a JSON {type(raw).__name__}")
        raw.pop("id", None)
        return cls.model_validate_json(json.dumps(raw))
