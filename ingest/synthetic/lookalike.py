"""The impersonation scenario's impostor: a look-alike of an official account.

`lookalike` makes up a young, unverified account whose handle and name imitate an official
one (a character swapped for a look-alike, o/0, l/I, m/rn..., and/or a support-like word
added), never one of the configuration's own accounts; seeded by the run's seed.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

from ingest.synthetic.population import CARE_HINTS, TWEPOCH_MS
from ingest.synthetic.timeline import LookalikeAccount
from veille.text import fold
from veille.watch import WatchConfig, WatchEntry

_SUBSTITUTIONS = (("o", "0"), ("l", "I"), ("l", "1"), ("i", "l"), ("m", "rn"), ("O", "0"))
_ADDED = ("support", "help", "official", "helpdesk", "care", "team", "hq", "service")


def _confuse(text: str, rng: random.Random) -> str:
    """`text` with one character swapped for a look-alike (o/0, l/I, l/1, i/l, m/rn)."""
    spots = [(i, new, len(old)) for old, new in _SUBSTITUTIONS for i in _find_all(text, old)]
    if not spots:
        return text
    i, new, width = rng.choice(spots)
    return text[:i] + new + text[i + width :]


def _display(word: str) -> str:
    """A handle word as a name shows it: "hq" -> "HQ", "supp0rt" -> "Supp0rt"."""
    return word.upper() if len(word) < 3 else word[:1].upper() + word[1:]


def _find_all(text: str, sub: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(sub), text)]


def lookalike(
    cfg: WatchConfig, entry: WatchEntry, handle: str, seed: int, at: datetime
) -> LookalikeAccount:
    """An account imitating `handle`, an official account of `entry`, created a few days
    before `at`; its handle is unused by the configuration's accounts (a numbered suffix when
    nothing else is free)."""
    rng = random.Random(f"veille-lookalike-{seed}")
    taken = {fold(a) for _, e in cfg.entries() for a in e.accounts}
    stem = entry.accounts[0].split("_")[0] if entry.accounts else handle
    care = any(h in handle.lower() for h in CARE_HINTS)
    official_name = f"{entry.name} Care" if care else entry.name
    words = [w for w in _ADDED if len(stem) + 1 + len(w) <= 15] or list(_ADDED)
    for _ in range(50):
        strategy = rng.random()
        word = rng.choice(words)
        if strategy < 0.35:  # one swapped character: acrne_care, "Acrne Care"
            username = _confuse(handle, rng)
            name = _confuse(official_name, rng)
        elif strategy < 0.7:  # an added word with a swapped character: acme_supp0rt
            shown = _confuse(word, rng)
            username = f"{stem[: 14 - len(word)]}_{shown}"
            name = f"{entry.name} {_display(shown)}"
        else:  # a swapped character and an added word: 0rbital_help
            username = f"{_confuse(stem, rng)[: 14 - len(word)]}_{word}"
            name = _confuse(f"{entry.name} {_display(word)}", rng)
        username = username[:15]
        if fold(username) not in taken and re.fullmatch(r"\w{1,15}", username):
            break
    else:  # nothing to swap and every word taken: a suffix always works
        username = f"{handle[:11]}_{rng.randrange(100, 1000)}"
        name = official_name
    created = at - timedelta(days=rng.uniform(2.0, 9.0))
    ms = int(created.timestamp() * 1000) - TWEPOCH_MS
    return LookalikeAccount(
        id=str((ms << 22) | rng.getrandbits(22)),
        username=username,
        name=name[:50],
        imitates=handle,
        created_at=created.replace(microsecond=0),
        followers_count=rng.randrange(3, 90),
        following_count=rng.randrange(40, 700),
        tweet_count=rng.randrange(6, 80),
        description=f"{entry.name} customer support 24/7. DM us for refunds and account help.",
    )
