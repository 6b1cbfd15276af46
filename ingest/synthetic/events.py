"""The synthetic source's scenario events: the posts they add and the care desk's answers.

`Events` (mixed into the generator) writes one post of an event when the clock draws one:
a crisis burst's outraged posts (originals, "same here" replies, reposts), an impostor's
replies to customers who complained, a care wave's questions to official accounts, an emerging
product's posts. `CareDesk` decides, for every post to an official account in the care
scenario, whether and when it is answered, and keeps the `CareLedger`.
"""

from __future__ import annotations

import heapq
import math
import random
import string
from collections import deque
from datetime import UTC, datetime

from ingest.synthetic.payload import Payloads
from ingest.synthetic.phrases import event_phrases
from ingest.synthetic.population import TWEPOCH_MS, User
from ingest.synthetic.posts import Entry, Extra, Recent, SyntheticPost
from ingest.synthetic.scenarios import EventKind, Style
from ingest.synthetic.timeline import (
    CARE_ANSWER_OTHER,
    CARE_ANSWER_RATE,
    CARE_DELAY_MEDIAN_S,
    CARE_DELAY_RANGE_S,
    CARE_DELAY_SIGMA,
    CARE_OFFICE_HOURS,
    CareLedger,
    ScenarioEvent,
)

_CARE_STYLES: tuple[tuple[Style, float], ...] = (
    ("question", 0.45),
    ("complaint", 0.35),
    ("request", 0.2),
)


class CareDesk:
    """Who gets an answer, when: every post to an official account, in the care scenario.

    `consider` draws the post's fate (answered with a probability that depends on its style,
    after a log-normal delay moved into office hours; or never) and records it in `ledger`;
    `due_s` and `pop` give the generator the answers in time order.
    """

    def __init__(self, rng: random.Random, ledger: CareLedger) -> None:
        self.rng = rng
        self.ledger = ledger
        self._queue: list[tuple[float, int, Recent, Entry]] = []
        self._seq = 0

    def consider(self, post: Recent, entry: Entry, now_s: float) -> None:
        r = self.rng.random
        if entry.care is None or r() >= CARE_ANSWER_RATE.get(post.style, CARE_ANSWER_OTHER):
            self.ledger.unanswered.append(post.id)
            return
        low, high = CARE_DELAY_RANGE_S
        delay = self.rng.lognormvariate(math.log(CARE_DELAY_MEDIAN_S), CARE_DELAY_SIGMA)
        due = _office_hours(now_s + min(max(delay, low), high), r())
        self.ledger.awaiting[post.id] = datetime.fromtimestamp(int(due), UTC)
        heapq.heappush(self._queue, (float(int(due)), self._seq, post, entry))
        self._seq += 1

    def due_s(self) -> float:
        """When the next answer is due (epoch seconds; infinity when none is planned)."""
        return self._queue[0][0] if self._queue else math.inf

    def pop(self) -> tuple[Recent, Entry]:
        _, _, post, entry = heapq.heappop(self._queue)
        return post, entry

    def answered(self, post_id: str, reply_id: str) -> None:
        self.ledger.awaiting.pop(post_id, None)
        self.ledger.answered[post_id] = reply_id


def _office_hours(t: float, u: float) -> float:
    """`t`, or when the desk opens next plus up to 90 minutes (u in [0, 1)) if it is closed."""
    opens, closes = CARE_OFFICE_HOURS
    day = math.floor(t / 86400.0) * 86400.0
    hour = (t - day) / 3600.0
    if opens <= hour < closes:
        return t
    next_open = day + opens * 3600.0 + (86400.0 if hour >= closes else 0.0)
    return next_open + u * 5400.0


class Events(Payloads):
    """Writes scenario events' posts; mixed into the generator, whose state it reads."""

    target: Entry
    word: str
    impostor: User | None
    complaints: deque[Recent]  # recent complaints to the target's accounts, for the impostor
    event_recent: dict[EventKind, deque[Recent]]
    desk: CareDesk | None
    lang_lot: list[str]
    entry_lot: list[Entry]

    def _event_post(self, pid: str, event: ScenarioEvent) -> SyntheticPost | None:
        """One post of `event`, or None when it has nothing to say now (no one to reply to)."""
        if event.kind == "crisis":
            return self._crisis(pid)
        if event.kind == "impersonation":
            return self._impostor(pid)
        if event.kind == "care":
            return self._care_question(pid)
        return self._trend(pid, event)

    def _retweet(
        self, pid: str, parent: Recent | None = None, event: EventKind | None = None
    ) -> SyntheticPost:
        raise NotImplementedError

    # crisis

    def _crisis(self, pid: str) -> SyntheticPost:
        r = self.rng.random
        earlier = self.event_recent["crisis"]
        roll = r()
        if earlier and roll < 0.25:
            return self._retweet(pid, self._pick(earlier), "crisis")
        parent = self._pick(earlier) if earlier and roll < 0.4 else None  # "same here"
        if parent is not None and parent.lang in self.phrases:
            lang = parent.lang
        else:
            lang = self._pick(self.lang_lot)
        p = self.phrases[lang]
        author = self._pick(self.population.authors[lang])
        tag = None
        if r() < 0.85:
            tag = (p.crisis_tag if r() < 0.6 else event_phrases().crisis_tags["all"]).format(
                w=self.word
            )
        body, extra = self._text(
            lang, "complaint", self.target, template=self._pick(p.crisis), tag=tag
        )
        if parent is None:
            return self._emit(
                pid, "original", "complaint", lang, author, body, extra, pid, event="crisis"
            )
        opener, _ = self._fill(p, self._pick(p.templates["agree"]), self.target, extra)
        return self._emit(
            pid,
            "reply",
            "complaint",
            lang,
            author,
            f"@{parent.author.username} {opener} {body}",
            extra,
            parent.conv,
            ref=("replied_to", parent),
            event="crisis",
        )

    # impersonation

    def _impostor(self, pid: str) -> SyntheticPost | None:
        impostor = self.impostor
        assert impostor is not None
        now_s = self.ms / 1000.0
        while self.complaints:
            parent = self.complaints.pop()  # the latest complaint first
            if parent.lang in self.phrases and self._age_s(parent, now_s) < 3600:
                break
        else:
            return None
        p = self.phrases[parent.lang]
        extra = Extra("neutral", [self.target], set(), {}, None)
        body, _ = self._fill(p, self._pick(p.phish), self.target, extra, {"u": parent.author.first})
        return self._emit(
            pid,
            "reply",
            "care",
            parent.lang,
            impostor,
            f"@{parent.author.username} {body}",
            extra,
            parent.conv,
            ref=("replied_to", parent),
            event="impersonation",
            remember=False,
        )

    def _age_s(self, post: Recent, now_s: float) -> float:
        return now_s - ((int(post.id) >> 22) + TWEPOCH_MS) / 1000.0

    # care

    def _care_question(self, pid: str) -> SyntheticPost:
        r = self.rng.random
        lang = self._pick(self.lang_lot)
        p = self.phrases[lang]
        entry = self.target
        if r() >= 0.6:
            for _ in range(3):
                entry = self._pick(self.entry_lot)
                if entry.accounts:
                    break
            else:
                entry = self.target
        roll = r()
        style: Style = "request"
        for name, weight in _CARE_STYLES:
            if roll < weight:
                style = name
                break
            roll -= weight
        author = self._pick(self.population.authors[lang])
        text, extra = self._text(lang, style, entry, template=self._pick(p.addressed[style]))
        return self._emit(pid, "original", style, lang, author, text, extra, pid, event="care")

    def _answer(self, pid: str, parent: Recent, entry: Entry) -> SyntheticPost:
        """The care desk's reply to `parent` (style care, or thanks for praise)."""
        assert entry.care is not None
        lang = parent.lang if parent.lang in self.phrases else next(iter(self.phrases))
        p = self.phrases[lang]
        extra = Extra("neutral", [entry], set(), {}, None)
        sig = "^" + "".join(self._pick(string.ascii_uppercase) for _ in range(2))
        key = "care_thanks" if parent.style == "praise" else "care"
        body, _ = self._fill(
            p, self._pick(p.templates[key]), entry, extra, {"u": parent.author.first, "sig": sig}
        )
        return self._emit(
            pid,
            "official_reply",
            "care",
            lang,
            entry.care,
            f"@{parent.author.username} {body}",
            extra,
            parent.conv,
            ref=("replied_to", parent),
            event="care" if parent.event == "care" else None,
        )

    # trending

    def _trend(self, pid: str, event: ScenarioEvent) -> SyntheticPost:
        earlier = self.event_recent["trending"]
        if earlier and self.rng.random() < 0.25:
            return self._retweet(pid, self._pick(earlier), "trending")
        lang = self._pick(self.lang_lot)
        p = self.phrases[lang]
        style, template = self._pick(p.trend)
        tag, term = event.terms
        text, extra = self._text(
            lang, style, self.target, template=template, given={"p": term, "tag": tag}
        )
        author = self._pick(self.population.authors[lang])
        if style == "news" and self.rng.random() < 0.5:
            author = self._pick(self.population.media[lang])
        return self._emit(pid, "original", style, lang, author, text, extra, pid, event="trending")
