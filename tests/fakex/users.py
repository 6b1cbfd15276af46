"""Users: `GET /2/users/by?usernames=`, and `x_user`, a full X user object for `FakeX.set_users`."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

from fakex.state import FakeXState
from fakex.transport import Reply, Request
from fakex.wire import DEFAULT_USER_FIELDS, PROBLEMS, csv_param, invalid_request, iso, pick


def x_user(
    user_id: str,
    username: str,
    *,
    followers: int = 0,
    following: int = 0,
    tweets: int = 0,
    listed: int = 0,
    likes: int = 0,
    name: str | None = None,
    verified: bool = False,
    verified_type: str = "none",
    description: str = "",
    created_at: datetime = datetime(2015, 3, 1, tzinfo=UTC),
) -> dict[str, Any]:
    """A full X API v2 user object, for `FakeX.set_users`."""
    return {
        "id": user_id,
        "username": username,
        "name": name if name is not None else username.title(),
        "created_at": iso(created_at),
        "verified": verified,
        "verified_type": verified_type,
        "description": description,
        "public_metrics": {
            "followers_count": followers,
            "following_count": following,
            "tweet_count": tweets,
            "listed_count": listed,
            "like_count": likes,
        },
    }


class UsersEndpoints(FakeXState):
    """The user-lookup endpoint."""

    def _users_by(self, req: Request, _: re.Match[str]) -> Reply:
        names = [n for n in req.query.get("usernames", "").split(",") if n]
        if not names:
            return Reply(400, invalid_request("The `usernames` query parameter can not be empty"))
        keep = DEFAULT_USER_FIELDS | csv_param(req.query, "user.fields")
        with self._cond:
            self._user_lookups.append(names)
            found = [self._users[n.lower()] for n in names if n.lower() in self._users]
            data = copy.deepcopy([pick(u, keep) if self._project else u for u in found])
            missing = [n for n in names if n.lower() not in self._users]
        body: dict[str, Any] = {"data": data} if data else {}
        if missing:
            body["errors"] = [
                {
                    "value": n,
                    "detail": f"Could not find user with usernames: [{n}].",
                    "title": "Not Found Error",
                    "resource_type": "user",
                    "parameter": "usernames",
                    "resource_id": n,
                    "type": PROBLEMS + "resource-not-found",
                }
                for n in missing
            ]
        return Reply(200, body)
