"""Audience: the public counts of the watched entries' official accounts, read periodically.

`read_accounts()` looks the accounts up (`GET /2/users/by`, 100 a request) and returns one
`AccountSnapshot` per account found; unknown or suspended handles are logged, not fatal.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import tweepy

from veille.models import AccountSnapshot, EntryKind
from veille.watch import WatchConfig
from veille.xapi import USER_FIELDS, call

logger = logging.getLogger(__name__)


def watched_accounts(watch: WatchConfig) -> dict[str, tuple[str, EntryKind]]:
    """Lower-cased handle -> (entry, kind) for every official account in the watch file."""
    return {a.lower(): (e.name, kind) for kind, e in watch.entries() for a in e.accounts}


def read_accounts(
    client: tweepy.Client, watch: WatchConfig, now: datetime
) -> list[AccountSnapshot]:
    owners = watched_accounts(watch)
    handles = sorted(owners)
    out = []
    for i in range(0, len(handles), 100):
        body: dict[str, Any] = call(
            client.get_users,
            "looking up watched accounts",
            usernames=handles[i : i + 100],
            user_fields=USER_FIELDS,
        )
        for err in body.get("errors", []):
            logger.warning("account %s not readable: %s", err.get("value"), err.get("detail"))
        for u in body.get("data", []):
            entry, kind = owners.get(u["username"].lower(), ("", "brand"))
            m = u.get("public_metrics", {})
            out.append(
                AccountSnapshot(
                    id=u["id"],
                    username=u["username"],
                    name=u.get("name", ""),
                    entry=entry,
                    entry_kind=kind,
                    followers_count=m.get("followers_count", 0),
                    following_count=m.get("following_count", 0),
                    tweet_count=m.get("tweet_count", 0),
                    listed_count=m.get("listed_count", 0),
                    observed_at=now,
                )
            )
    return out
