"""A fake X API v2 server for tests: real wire format on 127.0.0.1, no internet.

`FakeX` serves, over plain HTTP/1.1 on a random free port, the endpoints veille's X client uses,
with X's own paths, JSON shapes, headers and error bodies:

* filtered-stream rules: `GET/POST /2/tweets/search/stream/rules` (add, delete, `dry_run`);
* the filtered stream: `GET /2/tweets/search/stream`, chunked, one JSON post per `\\r\\n` line,
  `\\r\\n` keep-alives while idle, at most one connection, `DELETE /2/connections/all`;
* recent search: `GET /2/tweets/search/recent`, newest first, `next_token` pages, rate limited;
* users: `GET /2/users/by?usernames=`;
* batch compliance: `POST /2/compliance/jobs`, `GET /2/compliance/jobs/:id`, and the job's
  upload/download URLs (absolute, served by this same server outside `/2`, no bearer needed:
  on real X they are pre-signed cloud-storage URLs on another host).

Every `/2` endpoint wants `Authorization: Bearer <token>`; anything else gets X's 401 problem.

The server holds one timeline of full post payloads (`{"data", "includes"}`, ids ascending).
What the stream does with it is driven by a *script* of steps (`Send`, `Drop`, `Disconnect`,
`HttpError`, `RateLimit`, `Stall`, `OperationalDisconnect`, `StaleConnection`) consumed in order
across connections; once the script is exhausted the stream sends the rest of the timeline, then
only keep-alives. Counters and logs (`delivered_ids`, `connect_count`, `rule_calls`, ...) let tests
assert what a client did; `wait_idle()` waits until the script and the timeline are used up.

Fields are projected as X does (unless `project_fields=False`): a post carries `id`, `text`,
`edit_history_tweet_ids` plus the requested `tweet.fields`; `includes.users` only with a user
expansion (`author_id`, ...), `includes.tweets` only with `referenced_tweets.id`; users carry
`id`, `name`, `username` plus the requested `user.fields`.

Limits: rules never filter (every post matches, `matching_rules` lists all current rules, or the
payload's own when there are none); no rule syntax check beyond length (1024) and duplicates; no
`backfill_minutes`, no 7-day or "10 s before now" checks on search times, no search operators;
only search is rate limited; HTTP only, no TLS; one process, state lost on `stop()`.

The package, by concern: `server` (`FakeX`: lifecycle, test setup, counters, routing), `state`
(what it holds), `script` (the stream's steps), `stream`, `rules`, `search`, `users`,
`compliance` (the endpoints), `wire` (X's formats), `transport` (HTTP plumbing). Import from
`fakex`.
"""

from fakex.script import (
    Disconnect,
    Drop,
    HttpError,
    OperationalDisconnect,
    RateLimit,
    Send,
    StaleConnection,
    Stall,
    Step,
)
from fakex.server import FakeX
from fakex.state import ComplianceReason, RuleCall
from fakex.users import x_user
from fakex.wire import (
    MAX_RULE_LENGTH,
    OPERATIONAL_DISCONNECT,
    PROBLEMS,
    STREAM_RATE_LIMIT,
    TOO_MANY_CONNECTIONS,
    iso,
    problem,
)

__all__ = [
    "MAX_RULE_LENGTH",
    "OPERATIONAL_DISCONNECT",
    "PROBLEMS",
    "STREAM_RATE_LIMIT",
    "TOO_MANY_CONNECTIONS",
    "ComplianceReason",
    "Disconnect",
    "Drop",
    "FakeX",
    "HttpError",
    "OperationalDisconnect",
    "RateLimit",
    "RuleCall",
    "Send",
    "StaleConnection",
    "Stall",
    "Step",
    "iso",
    "problem",
    "x_user",
]
