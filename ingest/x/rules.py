"""Keep the filtered stream's rules equal to those compiled from watch.yaml.

`plan()` compares X's current rules with the compiled ones by (value, tag): rules in both are
kept (their ids, hence the routing of `matching_rules`, do not change), stale ones deleted,
missing ones added. `apply()` deletes then adds, and raises `XApiError` listing any rule X
refused. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import tweepy

from veille.watch import Rule
from veille.xapi import XApiError, call

logger = logging.getLogger(__name__)

BATCH = 100


@dataclass(frozen=True)
class RemoteRule:
    id: str
    value: str
    tag: str | None


@dataclass
class RulesPlan:
    add: list[Rule] = field(default_factory=list)
    delete: list[RemoteRule] = field(default_factory=list)
    keep: list[RemoteRule] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.add) + len(self.delete)


def current(client: tweepy.StreamingClient) -> list[RemoteRule]:
    body: dict[str, Any] = call(client.get_rules, "reading the stream rules")
    return [RemoteRule(r["id"], r["value"], r.get("tag")) for r in body.get("data", [])]


def plan(remote: list[RemoteRule], compiled: list[Rule]) -> RulesPlan:
    wanted = {(r.value, r.tag): r for r in compiled}
    out = RulesPlan()
    seen: set[tuple[str, str | None]] = set()
    for r in remote:
        key = (r.value, r.tag)
        if key in wanted and key not in seen:
            out.keep.append(r)
            seen.add(key)
        else:
            out.delete.append(r)
    out.add = [r for key, r in wanted.items() if key not in seen]
    return out


def apply(client: tweepy.StreamingClient, p: RulesPlan) -> None:
    """Delete the stale rules, then add the missing ones. Raises `XApiError` on refusals."""
    ids = [r.id for r in p.delete]
    for i in range(0, len(ids), BATCH):
        call(client.delete_rules, "deleting stream rules", ids[i : i + BATCH])
    refused: list[str] = []
    for i in range(0, len(p.add), BATCH):
        chunk = [tweepy.StreamRule(value=r.value, tag=r.tag) for r in p.add[i : i + BATCH]]
        body: dict[str, Any] = call(client.add_rules, "adding stream rules", chunk)
        for err in body.get("errors", []):
            refused.append(f"{err.get('value', '?')!r}: {err.get('title') or err.get('detail')}")
    if refused:
        raise XApiError("X refused rules: " + "; ".join(refused))
    logger.info("rules synced added=%d deleted=%d kept=%d", len(p.add), len(p.delete), len(p.keep))


def sync(client: tweepy.StreamingClient, compiled: list[Rule], dry_run: bool = False) -> RulesPlan:
    p = plan(current(client), compiled)
    if not dry_run and p.changes:
        apply(client, p)
    return p
