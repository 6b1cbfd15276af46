"""What the synthetic source makes: posts with their ground truth, and its working records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from ingest.synthetic.population import User
from ingest.synthetic.scenarios import EventKind, PostKind, Style
from veille.models import EntryKind, Intent, Sentiment

if TYPE_CHECKING:
    from ingest.synthetic.text import Tmpl

_STYLE_INTENT: dict[str, Intent] = {
    "question": "question",
    "complaint": "complaint",
    "praise": "praise",
    "request": "request",
}


class SyntheticPost(NamedTuple):
    """One generated payload and what it was made to be (to measure enrichment against).

    `created_at` is the post's simulated time (the payload's, to the millisecond); `event` the
    scenario event that made it (None: background traffic).
    """

    payload: bytes
    kind: PostKind
    style: Style
    sentiment: Sentiment
    lang: str
    entries: tuple[str, ...]
    topics: tuple[str, ...]
    created_at: datetime
    event: EventKind | None = None

    @property
    def intent(self) -> Intent:
        """The style as veille's `Intent` (news, chatter, care, reactions: "other")."""
        return _STYLE_INTENT.get(self.style, "other")


@dataclass(slots=True)
class Entry:
    """A watched entry (or sector item) as the generator writes about it."""

    name: str
    kind: EntryKind
    terms: dict[str, tuple[str, ...]]  # per language
    hashtags: tuple[str, ...]
    accounts: tuple[User, ...]
    care: User | None
    slug: str
    ticker: str
    rule: bytes  # the matching_rules item, serialised
    annotation: dict[str, Any]


@dataclass(slots=True)
class Extra:
    """What a post's text is about, gathered while it is written."""

    sentiment: Sentiment
    entries: list[Entry]
    topics: set[str]
    urls: dict[str, dict[str, str]]
    addressed: Entry | None
    template: Tmpl | None = None


class Recent(NamedTuple):
    """A generated post that later posts may reply to, quote or repost."""

    id: str
    tweet: bytes  # the includes.tweets object, serialised
    author: User
    text: str
    lang: str
    conv: str
    style: Style
    sentiment: Sentiment
    entry: Entry
    entries: tuple[Entry, ...]
    topics: frozenset[str]
    urls: dict[str, dict[str, str]]
    addressed: Entry | None  # the entry whose official account it asks or complains to
    event: EventKind | None = None
