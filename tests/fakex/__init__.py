"""A fake X API v2 server for tests: real wire format on 127.0.0.1, no internet.

`FakeX` serves, over plain HTTP/1.1 on a random free port, the endpoints veille's X client uses,
with X's own paths, JSON shapes, headers and error bodies:

* filtered-stream rules: `GET/POST /2/tweets/search/stream/rules` (add, delete, `dry_run`);
* the filtered stream: `GET /2/tweets/search/stream`, chunked, one JSON post per `\\r\\n` line,
  `\\r\\n` keep-alives while idle, at most one connection, `DELETE /2/connections/all`;
* recent search: `GET /2/tweets/search/recent`, newest first, `next_token` pages, rate limited
  (`search_limit` per `search_window_s`);
* post counts: `GET /2/tweets/counts/recent`, per `minute`/`hour`/`day` bucket, rate limited
  (`counts_limit` per 15 minutes); `set_counts` swaps the timeline for a steady daily volume;
* usage: `GET /2/usage/tweets` (`days`, `usage.fields`), the posts sent, each id once per UTC
  day as X bills; `set_usage` sets a day's figure; 50 requests per 15 minutes;
* users: `GET /2/users/by?usernames=`;
* batch compliance: `POST /2/compliance/jobs`, `GET /2/compliance/jobs/:id`, and the job's
  upload/download URLs (absolute, served by this same server outside `/2`, no bearer needed:
  on real X they are pre-signed cloud-storage URLs on another host).

Every `/2` endpoint wants `Authorization: Bearer <token>`; anything else gets X's 401 problem.
Rate-limited endpoints send `x-rate-limit-limit`, `-remaining` and `-reset` (an epoch second).
`fail_next(path_prefix, status, times)` makes any endpoint answer an error for a while.

Search and counts take X's query syntax (`fakex.query`): a query that does not parse, or longer
than `query_max_length` (512, X's Basic level), gets X's 400. The query selects the posts only
with `search_matches_query=True`; by default every post of the time window matches, which the
callers built before query matching rely on.

The server holds one timeline of full post payloads (`{"data", "includes"}`, ids ascending).
What the stream does with it is driven by a *script* of steps (`Send`, `Drop`, `Disconnect`,
`HttpError`, `RateLimit`, `Stall`, `OperationalDisconnect`, `StaleConnection`) consumed in order
across connections; once the script is exhausted the stream sends the rest of the timeline, then
only keep-alives. Counters and logs (`delivered_ids`, `connect_count`, `rule_calls`,
`search_queries`, `search_results`, `counts_queries`, `usage_by_day`, ...) let tests assert what
a client did; `wait_idle()` waits until the script and the timeline are used up.

Fields are projected as X does (unless `project_fields=False`): a post carries `id`, `text`,
`edit_history_tweet_ids` plus the requested `tweet.fields`; `includes.users` only with a user
expansion (`author_id`, ...), `includes.tweets` only with `referenced_tweets.id`; users carry
`id`, `name`, `username` plus the requested `user.fields`.

Limits: rules never filter (every post matches, `matching_rules` lists all current rules, or the
payload's own when there are none); no rule syntax check beyond length (1024) and duplicates; no
`backfill_minutes`; no "10 s before now" check on search and counts times (the end defaults to
now, not 30 s before); counts answer one page; only the operators `fakex.query` lists; HTTP
only, no TLS; one process, state lost on `stop()`.

The package, by concern: `server` (`FakeX`: lifecycle, test setup, counters, routing), `state`
(what it holds and its settings), `script` (the stream's steps), `stream`, `rules`, `search`,
`counts`, `users`, `usage`, `compliance` (the endpoints), `query` (X's query language), `params`
(the parameters search and counts share), `limits` (rate-limit windows), `wire` (X's formats),
`transport` (HTTP plumbing). Import from `fakex`.
"""

from fakex.query import QueryError, parse_query
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
    "QueryError",
    "RateLimit",
    "RuleCall",
    "Send",
    "StaleConnection",
    "Stall",
    "Step",
    "iso",
    "parse_query",
    "problem",
    "x_user",
]
