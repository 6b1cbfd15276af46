"""X API v2 access shared by ingest (stream, search, users) and sinks (batch compliance).

tweepy builds the requests; this module points them at `X_API_BASE_URL` (tweepy hard-codes
X's host, so a transport adapter mounted on each tweepy session rewrites the host: tests,
proxies and a change of X's host need no code change), asks for the fields and expansions the
models need, and translates tweepy's errors into ours:

- `XAuthError`: the token is refused (401/403). It cannot heal: fail fast.
- `XRateLimited`: 429, with the epoch second at which the window resets.
- `XUnavailable`: 5xx, network errors, timeouts: retry with backoff.

The bearer token lives only in the tweepy clients' request headers: never in reprs, logs or the
messages of our exceptions. tweepy logs request headers at DEBUG: a filter on its loggers,
installed when this module is imported, masks every `Bearer` credential in their records.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
import tweepy
from requests.adapters import HTTPAdapter

from veille.settings import XSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")

TWEEPY_HOST = "https://api.twitter.com"

TWEET_FIELDS = [
    "author_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "entities",
    "id",
    "in_reply_to_user_id",
    "lang",
    "note_tweet",
    "public_metrics",
    "referenced_tweets",
    "text",
]
EXPANSIONS = [
    "author_id",
    "referenced_tweets.id",
    "referenced_tweets.id.author_id",
    "in_reply_to_user_id",
    "entities.mentions.username",
]
USER_FIELDS = [
    "created_at",
    "description",
    "name",
    "public_metrics",
    "username",
    "verified",
    "verified_type",
]
POST_PARAMS: dict[str, Any] = {
    "tweet_fields": TWEET_FIELDS,
    "expansions": EXPANSIONS,
    "user_fields": USER_FIELDS,
}


class RedactBearer(logging.Filter):
    """Masks `Bearer <credential>` in log records (tweepy writes request headers at DEBUG)."""

    _BEARER = re.compile(r"(Bearer\s+)[^\s'\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Bearer" in message:
            record.msg = self._BEARER.sub(r"\1***", message)
            record.args = None
        return True


for _name in ("tweepy", "tweepy.client", "tweepy.streaming"):
    _log = logging.getLogger(_name)
    if not any(isinstance(f, RedactBearer) for f in _log.filters):
        _log.addFilter(RedactBearer())


class XApiError(RuntimeError):
    """An X API call failed; subclasses say whether retrying can help."""


class XAuthError(XApiError):
    """X refused the bearer token (401/403): fix the token; retrying will not help."""


class XRateLimited(XApiError):
    """X answered 429; `reset_at` is the epoch second when the window resets (None: unknown)."""

    def __init__(self, message: str, reset_at: float | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class XUnavailable(XApiError):
    """X answered 5xx, or the network failed: retry with backoff."""


class RouteToBase(HTTPAdapter):
    """Sends requests addressed to tweepy's hard-coded host to `base_url` instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if request.url and request.url.startswith(TWEEPY_HOST):
            request.url = self.base_url + request.url[len(TWEEPY_HOST) :]
        return super().send(request, **kwargs)


def route(session: requests.Session, base_url: str) -> requests.Session:
    """Mount the host rewrite on a tweepy session (idempotent)."""
    if base_url.rstrip("/") != TWEEPY_HOST:
        session.mount(TWEEPY_HOST + "/", RouteToBase(base_url))
    return session


def _token(settings: XSettings) -> str:
    if settings.bearer_token is None or not settings.bearer_token.get_secret_value():
        raise XAuthError("X_BEARER_TOKEN is not set")
    return settings.bearer_token.get_secret_value()


def client(settings: XSettings) -> tweepy.Client:
    """A tweepy Client (JSON dicts out, no sleeping on rate limits) routed to the base URL."""
    c = tweepy.Client(bearer_token=_token(settings), return_type=dict, wait_on_rate_limit=False)
    route(c.session, settings.api_base_url)
    return c


S = TypeVar("S", bound=tweepy.StreamingClient)


def streaming_client(settings: XSettings, cls: type[S], **kwargs: Any) -> S:
    """A tweepy StreamingClient (or subclass) routed to the base URL."""
    c = cls(_token(settings), return_type=dict, wait_on_rate_limit=False, **kwargs)
    route(c.session, settings.api_base_url)
    return c


def _detail(resp: requests.Response | None) -> str:
    if resp is None:
        return ""
    try:
        body = resp.json()
        return str(body.get("detail") or body.get("title") or body)[:300]
    except ValueError:
        return resp.text[:300]


def translate(exc: BaseException, doing: str) -> XApiError:
    """Our typed error for what tweepy or requests raised while `doing` something."""
    if isinstance(exc, XApiError):
        return exc
    if isinstance(exc, tweepy.TooManyRequests):
        reset = getattr(exc, "reset_time", None)
        return XRateLimited(f"X rate limit while {doing}", reset)
    if isinstance(exc, tweepy.Unauthorized | tweepy.Forbidden):
        return XAuthError(f"X refused the token while {doing}: {_detail(exc.response)}")
    if isinstance(exc, tweepy.TwitterServerError):
        return XUnavailable(f"X server error while {doing}: {_detail(exc.response)}")
    if isinstance(exc, tweepy.HTTPException):
        return XApiError(f"X refused {doing}: {exc.response.status_code} {_detail(exc.response)}")
    if isinstance(exc, requests.RequestException):
        return XUnavailable(f"network error while {doing}: {type(exc).__name__}")
    return XApiError(f"{doing} failed: {type(exc).__name__}")


@contextmanager
def calling(doing: str) -> Iterator[None]:
    """Translate errors raised inside the block (see `translate`)."""
    try:
        yield
    except (tweepy.TweepyException, requests.RequestException) as e:
        raise translate(e, doing) from None


def call(fn: Callable[..., T], doing: str, *args: Any, **kwargs: Any) -> T:
    with calling(doing):
        return fn(*args, **kwargs)
    raise AssertionError("unreachable")
