"""The parameters recent search and post counts share: `query`, `start_time`, `end_time`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from fakex.query import Node, QueryError, parse_query
from fakex.wire import BadRequest, invalid_request, iso, parse_time

RECENT = timedelta(days=7)
"""How far back recent search and recent counts reach."""


def query_param(params: Mapping[str, str], max_length: int) -> Node:
    """The parsed `query`; BadRequest, as X answers, when it is empty, too long or invalid."""
    text = params.get("query", "")
    if not text:
        raise BadRequest(invalid_request("The `query` query parameter can not be empty"))
    if len(text) > max_length:
        message = f"Query is too long: {len(text)} characters, the limit is {max_length}"
    else:
        try:
            return parse_query(text)
        except QueryError as e:
            message = str(e)
    message = f"There were errors processing your request: {message}"
    raise BadRequest(invalid_request(message, query=[text]))


def time_window(params: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    """`[start_time, end_time)`, by default the last 7 days up to `now`.

    BadRequest, as X answers, when a time is not RFC 3339, when `start_time` is more than 7
    days back, or when the window is empty.
    """
    bounds: dict[str, datetime] = {}
    for name in ("start_time", "end_time"):
        if name in params:
            try:
                bounds[name] = parse_time(params[name])
            except ValueError:
                message = f"Invalid '{name}':'{params[name]}'. '{name}' must be RFC 3339"
                raise BadRequest(invalid_request(message, **{name: [params[name]]})) from None
    start = bounds.get("start_time", now - RECENT)
    end = bounds.get("end_time", now)
    if start < now - RECENT:
        message = (
            f"Invalid 'start_time':'{params['start_time']}'. 'start_time' must be on or after "
            f"{(now - RECENT).strftime('%Y-%m-%dT%H:%MZ')}"
        )
        raise BadRequest(invalid_request(message, start_time=[params["start_time"]]))
    if start >= end:
        message = f"'start_time' ({iso(start)}) must be before 'end_time' ({iso(end)})"
        given = {name: [params[name]] for name in ("start_time", "end_time") if name in params}
        raise BadRequest(invalid_request(message, **given))
    return start, end
