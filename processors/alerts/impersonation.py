"""Impersonation: authors whose handle or name looks like a watched brand's but is not official.

A name is reduced to a *skeleton*: folded (case, accents), look-alike characters mapped to the
letter they imitate (0->o, 1/i/|->l, 3->e, 4->a, 5/$->s, 7->t, 8->b, rn->m, vv->w), separators
removed. Its *core* is the skeleton without the words impersonators add ("support", "help",
"official", "care", "service", "team", country codes...). An author is suspicious when the core of
its handle or display name equals, or nearly equals, the core of a brand's name, alias or
official handle, and it is not one of the watch file's official accounts. The score adds
evidence: look-alike characters actually used, support words claimed, a young account, few
followers; X verification for business or government lowers it. At `threshold` or above, one
alert per account (key `impersonation:<handle>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher

from veille.models import Alert, Author
from veille.text import fold
from veille.watch import WatchConfig

_LOOKALIKE = str.maketrans(
    {
        "0": "o",
        "1": "l",
        "i": "l",
        "|": "l",
        "!": "l",
        "3": "e",
        "4": "a",
        "@": "a",
        "5": "s",
        "$": "s",
        "7": "t",
        "8": "b",
    }
)
ADDED_WORDS = (
    "customerservice",
    "customercare",
    "helpdesk",
    "support",
    "official",
    "officiel",
    "oficial",
    "offiziell",
    "service",
    "services",
    "assistance",
    "ayuda",
    "hilfe",
    "aide",
    "help",
    "care",
    "team",
    "info",
    "news",
    "contact",
    "real",
    "the",
    "app",
    "hq",
    "sav",
    "desk",
    "fr",
    "us",
    "uk",
    "es",
    "de",
    "it",
    "en",
    "global",
    "int",
)


def skeleton(text: str) -> str:
    """What a name looks like: folded, look-alikes mapped, letters and digits only."""
    s = fold(text.strip().lstrip("@")).replace("rn", "m").replace("vv", "w")
    s = re.sub(r"[^0-9a-z|!@$]", "", s)
    return s.translate(_LOOKALIKE)


_SKELETON_WORDS = "|".join(sorted({skeleton(w) for w in ADDED_WORDS}, key=len, reverse=True))
_ADDED = re.compile(rf"^(?:{_SKELETON_WORDS})+|(?:{_SKELETON_WORDS})+$")


def core(text: str) -> str:
    """The skeleton without the words impersonators add around a brand."""
    s = skeleton(text)
    for _ in range(3):
        stripped = _ADDED.sub("", s)
        if stripped == s or len(stripped) < 3:
            break
        s = stripped
    return s


_SIMILAR = 0.85
"""The similarity (difflib's ratio) from which a handle or name looks like a brand's."""


def _similarity(a: str, b: str, floor: float) -> float:
    """difflib's ratio of `a` and `b`, or 0.0 when cheap upper bounds show it is below `floor`
    (most authors: the lengths alone, then the characters in common, rule a brand out)."""
    if 2 * min(len(a), len(b)) < floor * (len(a) + len(b)):
        return 0.0
    m = SequenceMatcher(None, a, b)
    if m.quick_ratio() < floor:
        return 0.0
    return m.ratio()


@dataclass(frozen=True)
class Suspicion:
    score: float
    brand: str
    reasons: tuple[str, ...]


class ImpersonationDetector:
    """Scores post authors against the watch file's brands; remembers whom it alerted."""

    def __init__(self, watch: WatchConfig, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.official = set(watch.official_accounts(("brand", "competitor", "partner", "supplier")))
        self._targets: dict[str, str] = {}
        for kind, entry in watch.entries():
            if kind != "brand":
                continue
            for name in (entry.name, *entry.aliases, *entry.accounts):
                c = core(name)
                if len(c) >= 4:
                    self._targets[c] = entry.name
        self._alerted: set[str] = set()
        self._seen: dict[str, Suspicion | None] = {}

    def score(self, author: Author, now: datetime) -> Suspicion | None:
        """Why `author` may impersonate a brand, or None."""
        handle = author.username
        if fold(handle) in self.official:
            return None
        best: tuple[float, str, str] | None = None
        for field_name, value in (("handle", handle), ("name", author.name)):
            c = core(value)
            if len(c) < 3:
                continue
            for target, brand in self._targets.items():
                ratio = 1.0 if c == target else _similarity(c, target, _SIMILAR)
                if ratio >= _SIMILAR and (best is None or ratio > best[0]):
                    best = (ratio, brand, field_name)
        if best is None:
            return None
        ratio, brand, where = best
        score = 0.4 * ratio
        reasons = [f"{where} looks like {brand}"]
        raw = re.sub(r"[^0-9a-z|!@$]", "", fold(f"{handle} {author.name}"))
        if any(ch in raw for ch in "01|!345$78@") or "rn" in fold(handle + author.name):
            score += 0.25
            reasons.append("look-alike characters")
        words = fold(f"{handle} {author.name}")
        if any(
            w in words
            for w in (
                "support",
                "help",
                "official",
                "officiel",
                "care",
                "service",
                "assistance",
                "ayuda",
                "hilfe",
                "aide",
                "sav",
            )
        ):
            score += 0.15
            reasons.append("claims to be a support or official account")
        if author.created_at is not None:
            age_days = (now - author.created_at).days
            if age_days < 30:
                score += 0.15
                reasons.append(f"account {age_days} days old")
            elif age_days < 180:
                score += 0.05
        if author.followers_count < 500:
            score += 0.1
            reasons.append(f"{author.followers_count} followers")
        if author.verified_type in ("business", "government"):
            score -= 0.4
        return Suspicion(round(score, 2), brand, tuple(reasons))

    def check(self, author: Author, now: datetime) -> Alert | None:
        """An alert the first time a suspicious author is seen; None otherwise."""
        key = fold(author.username)
        if key in self._alerted:
            return None
        if key not in self._seen or len(self._seen) > 100_000:
            if len(self._seen) > 100_000:
                self._seen.clear()
            self._seen[key] = self.score(author, now)
        s = self._seen[key]
        if s is None or s.score < self.threshold:
            return None
        self._alerted.add(key)
        return Alert(
            key=f"impersonation:{key}",
            kind="impersonation",
            severity="critical",
            title=f"Possible impersonation of {s.brand}: @{author.username}",
            detail="; ".join(s.reasons) + f" (score {s.score})",
            entry=s.brand,
            created_at=now,
            data={
                "username": author.username,
                "name": author.name,
                "author_id": author.id,
                "followers": author.followers_count,
                "score": s.score,
                "created_at": author.created_at.isoformat() if author.created_at else None,
                "verified_type": author.verified_type,
                "reasons": list(s.reasons),
            },
        )
