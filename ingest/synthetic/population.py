"""The synthetic source's people: users with stable ids, names and follower counts.

A population is a few thousand users per seed (a heavy-tailed follower distribution, more
recent accounts than old ones), the watched entries' official accounts and the news media of
each language; the scenario events add their own (the impersonation scenario's look-alike).
"""

from __future__ import annotations

import functools
import random
import re
import string
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import orjson

from ingest.synthetic.phrases import phrases
from veille.text import fold
from veille.watch import WatchConfig

if TYPE_CHECKING:
    from ingest.synthetic.timeline import LookalikeAccount

TWEPOCH_MS = 1288834974657
"""X's snowflake epoch (2010-11-04): post and user ids count milliseconds from it."""
CARE_HINTS = ("care", "help", "support", "sav", "service", "hilfe", "ayuda", "kunden", "client")
"""Words that make an official handle a customer-care account."""
DEFAULT_AVATAR = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"


@dataclass(slots=True)
class User:
    """One account; `wire` is its `includes.users` object, serialised once."""

    id: str
    username: str
    lang: str
    first: str
    followers: int
    official: bool
    wire: bytes
    impostor: bool = False


_T = TypeVar("_T")


def lottery(weighted: Sequence[tuple[_T, float]], size: int = 1000) -> list[_T]:
    """A list in which each item appears in proportion to its weight (draw: uniform index)."""
    total = sum(w for _, w in weighted if w > 0)
    out: list[_T] = []
    for item, w in weighted:
        if w > 0:
            out += [item] * max(1, round(size * w / total))
    return out


def stable_id(key: str, base: int = 1_300_000_000_000_000_000) -> str:
    return str(base + zlib.crc32(key.encode()) * 104_729)


def rule_item(tag: str) -> bytes:
    """A matching_rules item: X rule ids are snowflakes; ours are stable per tag."""
    return orjson.dumps({"id": stable_id(tag, 1_580_000_000_000_000_000), "tag": tag})


def iso(dt: datetime) -> str:
    """X's time format, to the second (`2026-11-20T09:00:00.000Z`)."""
    return dt.astimezone(UTC).isoformat()[:19] + ".000Z"


@functools.lru_cache(maxsize=4096)
def ascii_word(text: str) -> str:
    return _NOT_ALNUM.sub("", fold(text))


_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
ALNUM = string.ascii_letters + string.digits


def alnum(rng: random.Random, k: int) -> str:
    """`k` letters and digits: `"".join(rng.choices(ALNUM, k=k))`, the same draws, faster."""
    r, n = rng.random, float(len(ALNUM))
    return "".join([ALNUM[int(r() * n)] for _ in range(k)])


class Population:
    """Users (stable ids, names, follower counts) and the per-language author lotteries."""

    def __init__(
        self,
        cfg: WatchConfig,
        languages: Sequence[str],
        lang_weights: Mapping[str, float],
        seed: int,
        size: int = 3000,
    ) -> None:
        rng = random.Random(f"veille-users-{seed}")
        self.users: list[User] = []
        self.by_handle: dict[str, User] = {}
        self._ids: set[str] = set()
        for _, entry in cfg.entries():
            for handle in entry.accounts:
                self._official(rng, handle, entry.name)
        self.media: dict[str, list[User]] = {}
        for lang in languages:
            self.media[lang] = [self._media(rng, lang, h, n) for h, n in phrases()[lang]["media"]]
        weights = [(lang, lang_weights.get(lang, 0.0) or 0.05) for lang in languages]
        langs = lottery(weights)
        authors: dict[str, list[tuple[User, float]]] = {lang: [] for lang in languages}
        for _ in range(size):
            u = self._person(rng, langs[int(rng.random() * len(langs))])
            authors[u.lang].append((u, rng.lognormvariate(0.0, 1.0)))
        self.authors = {lang: lottery(pool, 8 * len(pool)) for lang, pool in authors.items()}

    def _new_id(self, rng: random.Random, created: datetime) -> str:
        while True:
            if created.year < 2016:
                uid = str(rng.randrange(10_000_000, 4_000_000_000))
            else:
                ms = int(created.timestamp() * 1000) - TWEPOCH_MS
                uid = str((ms << 22) | rng.getrandbits(22))
            if uid not in self._ids:
                self._ids.add(uid)
                return uid

    def _add(
        self,
        rng: random.Random,
        username: str,
        name: str,
        lang: str,
        first: str,
        followers: int,
        verified_type: str,
        created: datetime,
        description: str,
        location: str,
        official: bool = False,
    ) -> User:
        uid = self._new_id(rng, created)
        following = int(min(followers * rng.uniform(0.1, 2.0), 5000) + rng.randrange(5, 400))
        wire = {
            "id": uid,
            "name": name,
            "username": username,
            "created_at": iso(created),
            "description": description,
            "location": location,
            "protected": False,
            "verified": verified_type != "none",
            "verified_type": verified_type,
            "profile_image_url": f"https://pbs.twimg.com/profile_images/{uid}/"
            f"{alnum(rng, 8)}_normal.jpg",
            "public_metrics": {
                "followers_count": followers,
                "following_count": following,
                "tweet_count": int(rng.lognormvariate(7.0, 1.5)) + 1,
                "listed_count": int(followers * rng.uniform(0.0, 0.02)),
                "like_count": int(rng.lognormvariate(7.5, 1.6)),
                "media_count": int(rng.lognormvariate(3.0, 1.5)),
            },
        }
        u = User(uid, username, lang, first, followers, official, orjson.dumps(wire))
        self.users.append(u)
        self.by_handle[username.lower()] = u
        return u

    def _official(self, rng: random.Random, handle: str, entry: str) -> None:
        if handle.lower() in self.by_handle:  # listed twice
            return
        care = any(h in handle.lower() for h in CARE_HINTS)
        created = datetime(2009, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(1800))
        followers = int(rng.lognormvariate(10.5 if care else 11.5, 0.8))
        self._add(
            rng,
            handle,
            f"{entry} Care" if care else entry,
            "en",
            entry,
            followers,
            "business",
            created,
            f"Official account of {entry}.",
            "",
            official=True,
        )

    def _media(self, rng: random.Random, lang: str, handle: str, name: str) -> User:
        if handle.lower() in self.by_handle:  # a watched account after all
            return self.by_handle[handle.lower()]
        created = datetime(2009, 6, 1, tzinfo=UTC) + timedelta(days=rng.randrange(3000))
        followers = int(rng.lognormvariate(11.0, 1.0))
        p = phrases()[lang]
        return self._add(
            rng,
            handle,
            name,
            lang,
            name,
            followers,
            "business" if rng.random() < 0.6 else "blue",
            created,
            p["media_bio"][0],
            rng.choice(p["place"]),
        )

    def _person(self, rng: random.Random, lang: str) -> User:
        p = phrases()[lang]
        first, last = rng.choice(p["first"]), rng.choice(p["last"])
        f, la = ascii_word(first), ascii_word(last)
        pattern = rng.random()
        if pattern < 0.3:
            base = f + la
        elif pattern < 0.55:
            base = f"{f}_{la}"
        elif pattern < 0.8:
            base = f"{f}{rng.randrange(100)}"
        else:
            base = f"{la[:8]}_{f[0]}"
        base = base[:12] if rng.random() < 0.5 else base.lower()[:12]
        username = base
        while username.lower() in self.by_handle:
            username = f"{base}{rng.randrange(1000)}"[:15]
        name = f"{first} {last}" if rng.random() < 0.7 else first
        if rng.random() < 0.1:
            name += " " + rng.choice(p["emoji_positive"])
        days = int(6500 * rng.random() ** 0.7)  # more recent accounts than old ones
        created = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(
            days=days, seconds=rng.randrange(86400)
        )
        followers = min(int(rng.lognormvariate(5.0, 1.9)), 3_000_000)
        vt = "blue" if rng.random() < 0.04 else "none"
        desc = rng.choice(p["bio"]) if rng.random() < 0.75 else ""
        return self._add(
            rng,
            username,
            name,
            lang,
            first,
            followers,
            vt,
            created,
            desc,
            rng.choice(p["place"]) if rng.random() < 0.6 else "",
        )

    def add_lookalike(self, account: LookalikeAccount) -> User:
        """The impersonation scenario's impostor, as a user (never drawn as an ordinary author)."""
        wire = {
            "id": account.id,
            "name": account.name,
            "username": account.username,
            "created_at": iso(account.created_at),
            "description": account.description,
            "location": "",
            "protected": False,
            "verified": False,
            "verified_type": "none",
            "profile_image_url": DEFAULT_AVATAR,
            "public_metrics": {
                "followers_count": account.followers_count,
                "following_count": account.following_count,
                "tweet_count": account.tweet_count,
                "listed_count": 0,
                "like_count": account.tweet_count // 3,
                "media_count": 0,
            },
        }
        u = User(
            account.id,
            account.username,
            "en",
            account.name,
            account.followers_count,
            False,
            orjson.dumps(wire),
            impostor=True,
        )
        self._ids.add(account.id)
        self.users.append(u)
        self.by_handle[account.username.lower()] = u
        return u
