"""How the synthetic source serialises a post: X API v2 filtered-stream payload bytes.

`Payloads` (mixed into the generator) turns a text and what it is about into
`{"data", "includes", "matching_rules"}`: entities with their offsets, metrics that follow the
author's audience, the referenced post and every user the payload names, the matching rules of
its entries and sector items (topics have no rules), context annotations. Each post it emits is
remembered for later replies, quotes and reposts, and offered to the care desk when there is
one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from ingest.synthetic.population import User
from ingest.synthetic.posts import Entry, Extra, Recent, SyntheticPost
from ingest.synthetic.scenarios import EventKind, PostKind, Style
from ingest.synthetic.text import Writer
from veille.text import CASHTAG_RE, HASHTAG_RE, MENTION_RE, URL_RE


def _unanchored(pattern: re.Pattern[str], lead: str) -> re.Pattern[str]:
    return re.compile(pattern.pattern.removeprefix(rf"(?<![\w{lead}])"))


# veille.text's patterns of X entities without their look-behind (no word character nor the
# sign itself just before `#`, `@` or `$`), which makes the regex engine try every position of
# the text: `_free` checks it on each match instead. The same matches, three times faster (a
# match refused there holds no other sign, so it hides no match of the full pattern).
_HASHTAG = _unanchored(HASHTAG_RE, "#")
_MENTION = _unanchored(MENTION_RE, "@")
_CASHTAG = _unanchored(CASHTAG_RE, "$")


def _free(text: str, start: int, lead: str) -> bool:
    r"""Whether the character before `start` is neither a word character (what `\w` matches:
    alphanumeric or `_`) nor `lead`."""
    if not start:
        return True
    before = text[start - 1]
    return not (before == lead or before == "_" or before.isalnum())


_NO_METRICS = {
    "retweet_count": 0,
    "reply_count": 0,
    "like_count": 0,
    "quote_count": 0,
    "bookmark_count": 0,
    "impression_count": 0,
}
"""A repost's metrics: X counts engagement on the original."""


class Payloads(Writer):
    """Serialises posts; mixed into the generator, whose state it reads."""

    stamp: str
    ms: int
    entry_order: dict[int, int]
    topic_order: dict[str, int]
    topic_annotations: dict[str, list[dict[str, Any]]]
    official_entry: dict[str, Entry]  # official user id -> its entry
    entries_of: dict[str, list[Entry]]  # official user id -> the entries it is an account of

    def _remember(self, post: Recent) -> None:
        raise NotImplementedError

    def _addressed(self, post: Recent, official: Entry) -> None:
        """A post to an official account was emitted (the care desk's hook)."""

    def _entities(self, text: str, urls: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "#" in text:
            tags = [
                {"start": m.start(), "end": m.end(), "tag": m.group(1)}
                for m in _HASHTAG.finditer(text)
                if _free(text, m.start(), "#")
            ]
            if tags:
                out["hashtags"] = tags
        if "@" in text:
            mentions = []
            for m in _MENTION.finditer(text):
                u = self.population.by_handle.get(m.group(1).lower())
                if u is not None and _free(text, m.start(), "@"):
                    mentions.append(
                        {"start": m.start(), "end": m.end(), "username": u.username, "id": u.id}
                    )
            if mentions:
                out["mentions"] = mentions
        if "$" in text:
            cash = [
                {"start": m.start(), "end": m.end(), "tag": m.group(1)}
                for m in _CASHTAG.finditer(text)
                if _free(text, m.start(), "$")
            ]
            if cash:
                out["cashtags"] = cash
        if "https://" in text:
            links = []
            for m in URL_RE.finditer(text):
                info = urls.get(m.group(0))
                if info is not None:
                    expanded = info["expanded_url"]
                    display = expanded.split("://", 1)[-1].removeprefix("www.")
                    if len(display) > 26:
                        display = display[:26] + "…"
                    links.append(
                        {
                            "start": m.start(),
                            "end": m.end(),
                            "url": m.group(0),
                            "expanded_url": expanded,
                            "display_url": display,
                        }
                    )
            if links:
                out["urls"] = links
        return out

    def _metrics(self, author: User) -> dict[str, int]:
        r = self.rng.random
        scale = 0.002 * author.followers + 0.5
        likes = int(scale * -math.log(1.0 - r()))
        return {
            "retweet_count": int(likes * 0.3 * r()),
            "reply_count": int(likes * 0.15 * r()),
            "like_count": likes,
            "quote_count": int(likes * 0.05 * r()),
            "bookmark_count": int(likes * 0.1 * r()),
            "impression_count": int(author.followers * (0.02 + 0.2 * r())) + likes * 30,
        }

    def _emit(
        self,
        pid: str,
        kind: PostKind,
        style: Style,
        lang: str,
        author: User,
        text: str,
        extra: Extra,
        conv: str,
        *,
        note: str | None = None,
        ref: tuple[str, Recent] | None = None,
        event: EventKind | None = None,
        remember: bool = True,
    ) -> SyntheticPost:
        """The payload of one post, dated now (`stamp`); remembered unless a retweet."""
        mix = self.mix
        assert mix is not None
        data: dict[str, Any] = {
            "id": pid,
            "text": text,
            "created_at": self.stamp,
            "author_id": author.id,
            "conversation_id": conv,
            "lang": lang,
            "edit_history_tweet_ids": [pid],
            "possibly_sensitive": False,
            "reply_settings": "everyone",
            "public_metrics": self._metrics(author) if kind != "retweet" else _NO_METRICS,
        }
        users = {author.id: author.wire}
        tweets: list[bytes] = []
        if author.official:  # an account posting is matched by its from: rule
            for e in self.entries_of[author.id]:
                if e not in extra.entries:
                    extra.entries.append(e)
        if ref is not None:
            rtype, parent = ref
            data["referenced_tweets"] = [{"type": rtype, "id": parent.id}]
            tweets.append(parent.tweet)
            users[parent.author.id] = parent.author.wire
            if rtype == "replied_to":
                data["in_reply_to_user_id"] = parent.author.id
        entities = self._entities(text, extra.urls)
        if entities:
            data["entities"] = entities
            for m in entities.get("mentions", ()):
                u = self.population.by_handle[m["username"].lower()]
                users[u.id] = u.wire
        if note is not None:  # readers take the long text's entities, its mentions included
            entities = self._entities(note, extra.urls)
            data["note_tweet"] = {"text": note, "entities": entities}
            for m in entities.get("mentions", ()):
                u = self.population.by_handle[m["username"].lower()]
                users[u.id] = u.wire
        entries = extra.entries
        if len(entries) > 1:
            entries = sorted(entries, key=lambda e: self.entry_order[id(e)])
        topics = sorted(extra.topics, key=self.topic_order.__getitem__) if extra.topics else []
        if kind != "retweet" and self.rng.random() < mix.annotated:
            anns = [e.annotation for e in entries if e.annotation]
            for t in topics:
                anns += self.topic_annotations[t]
            if anns:
                data["context_annotations"] = anns
        rules = [e.rule for e in entries]  # topics have no X rule
        payload = b"".join(
            (
                b'{"data":',
                orjson.dumps(data),
                b',"includes":{"users":[',
                b",".join(users.values()),
                b'],"tweets":[' + b",".join(tweets) + b"]}" if tweets else b"]}",
                b',"matching_rules":[',
                b",".join(rules),
                b"]}",
            )
        )
        if kind != "retweet":
            tweet: dict[str, Any] = {
                "id": pid,
                "text": text,
                "author_id": author.id,
                "created_at": self.stamp,
                "lang": lang,
                "conversation_id": conv,
                "edit_history_tweet_ids": [pid],
            }
            if note is not None:
                tweet["note_tweet"] = {"text": note}
            main = extra.entries[0] if extra.entries else self.entries[0]
            recent = Recent(
                pid,
                orjson.dumps(tweet),
                author,
                text,
                lang,
                conv,
                style,
                extra.sentiment,
                main,
                tuple(entries),
                frozenset(topics),
                extra.urls,
                extra.addressed,
                event,
            )
            if remember:
                self._remember(recent)
            if not author.official and not author.impostor:
                for m in entities.get("mentions", ()):
                    official = self.official_entry.get(m["id"])
                    if official is not None:
                        self._addressed(recent, official)
                        break
        return SyntheticPost(
            payload,
            kind,
            style,
            extra.sentiment,
            lang,
            tuple([e.name for e in entries]),
            tuple(topics),
            datetime.fromtimestamp(self.ms / 1000, UTC),
            event,
        )
