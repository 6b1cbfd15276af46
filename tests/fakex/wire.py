"""X's wire format as the fake serves it: problem bodies, timestamps, fields, page tokens."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

PROBLEMS = "https://api.twitter.com/2/problems/"
OPERATIONAL_DISCONNECT = {
    "errors": [
        {
            "title": "operational-disconnect",
            "disconnect_type": "OperationalDisconnect",
            "detail": "This stream has been disconnected for operational reasons.",
            "type": PROBLEMS + "operational-disconnect",
        }
    ]
}
TOO_MANY_CONNECTIONS = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": PROBLEMS + "streaming-connection",
}
MAX_RULE_LENGTH = 1024
STREAM_RATE_LIMIT = 50
"""X's limit on stream connections per 15 minutes, shown in a scripted 429's headers."""

DEFAULT_TWEET_FIELDS = frozenset({"id", "text", "edit_history_tweet_ids"})
DEFAULT_USER_FIELDS = frozenset({"id", "name", "username"})
USER_EXPANSIONS = frozenset(
    {"author_id", "in_reply_to_user_id", "entities.mentions.username"}
    | {"referenced_tweets.id.author_id"}
)


def problem(status: int, detail: str | None = None, **extra: Any) -> dict[str, Any]:
    """X's RFC 7807 problem body for `status` (title and detail default to the reason phrase)."""
    phrase = HTTPStatus(status).phrase
    body = {"title": phrase, "type": "about:blank", "status": status, "detail": detail or phrase}
    return body | extra


class BadRequest(Exception):
    """A request X answers with 400; `body` is the problem to answer with."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.body = body


def invalid_request(message: str, **parameters: list[str]) -> dict[str, Any]:
    return {
        "errors": [{"parameters": parameters, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": PROBLEMS + "invalid-request",
    }


def iso(moment: datetime) -> str:
    """X's timestamp format: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.astimezone(UTC)


def csv_param(params: Mapping[str, str], name: str) -> set[str]:
    return {p for p in params.get(name, "").split(",") if p}


def pick(obj: Mapping[str, Any], keep: Iterable[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k in keep}


def page_token(last_id: int) -> str:
    return base64.b32encode(f"fakex:{last_id}".encode()).decode().rstrip("=").lower()


def page_token_id(token: str) -> int:
    """The id a `next_token` continues below; ValueError when it is not one of ours."""
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
    except (binascii.Error, UnicodeDecodeError) as e:
        raise ValueError(token) from e
    prefix, _, number = raw.partition(":")
    if prefix != "fakex" or not number.isdigit():
        raise ValueError(token)
    return int(number)
