"""The synthetic source's engine: one post after the other, in simulated event time.

Event time is a Poisson process whose intensity is the scenario's traffic: the background
volume (its daily cycle and noise) plus the events' extra volume, read at the start of every
simulated minute and at event bounds. Each arrival is drawn from the background (an original,
reply, retweet, quote or official reply, in the mix's proportions) or from an event; the care
desk's answers come at their own planned times. All randomness comes from one seeded generator,
so one seed, start time and scenario give the same posts, byte for byte.
"""

from __future__ import annotations

import math
import random
import string
import zlib
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

from ingest.synthetic.builder import brand_word
from ingest.synthetic.events import CareDesk, Events
from ingest.synthetic.population import TWEPOCH_MS, Population, iso, lottery
from ingest.synthetic.posts import Entry, Extra, Recent, SyntheticPost
from ingest.synthetic.scenarios import EventKind, Mix, PostKind, Scenario, Style
from ingest.synthetic.text import (
    Lang,
    make_entries,
    other_entries,
    topic_annotations,
    topic_keywords,
)
from ingest.synthetic.timeline import CareLedger, ScenarioInfo, background_rate, event_rate
from veille.models import EntryKind, Sentiment
from veille.watch import WatchConfig, WatchMatcher

_RECENT = 400
_SECONDS = tuple(f"{s:02d}.000Z" for s in range(60))
_EVENT_RECENT = 200


class Generator(Events):
    """Makes payloads one after the other, from `info.start_time` on."""

    def __init__(
        self,
        cfg: WatchConfig,
        scenario: Scenario,
        info: ScenarioInfo,
        languages: Sequence[str],
        ledger: CareLedger | None = None,
    ) -> None:
        seed = info.seed
        self.cfg = cfg
        self.scenario = scenario
        self.info = info
        self.rng = random.Random(seed)
        self._random = self.rng.random
        self.worker = (zlib.crc32(f"veille-{seed}".encode()) & 0x3FF) << 12
        self.n = 0
        self.start_s = info.start_time.timestamp()
        self.ms = int(self.start_s * 1000)
        self.second = -1
        self.minute = -1
        self.minute_stamp = ""  # 2026-01-05T14:03:
        self.stamp = ""
        mix = scenario.mix_at(0.0)
        self.population = Population(cfg, languages, mix.languages, seed)
        matcher = WatchMatcher(cfg)
        self.phrases = {lang: Lang(lang, matcher) for lang in languages}
        self.entries = make_entries(cfg, self.population, self.phrases)
        self.main = next((e for e in self.entries if e.kind == "brand"), None)
        self.target = self.entries[0]
        self.word = brand_word(cfg)
        self.official_entry = {u.id: e for e in self.entries for u in e.accounts}
        self.entries_of = {
            u.id: [e for e in self.entries if u in e.accounts]
            for e in self.entries
            for u in e.accounts
        }
        self.others_of = {id(e): other_entries(self.entries, e) for e in self.entries}
        self.topic_keywords = topic_keywords(cfg, languages)
        self.topic_annotations = topic_annotations(cfg)
        self.topic_order = {name: i for i, name in enumerate(cfg.topics)}
        self.entry_order = {id(e): i for i, e in enumerate(self.entries)}
        self.recent: list[Recent] = []
        self.recent_at = 0
        self.pending: list[Recent] = []
        self.pending_at = 0
        self.impostor = None
        for e in info.events:
            if e.account is not None:
                self.impostor = self.population.add_lookalike(e.account)
        self.complaints = deque(maxlen=_EVENT_RECENT)
        self.event_recent = {
            kind: deque(maxlen=_EVENT_RECENT)
            for kind in ("crisis", "impersonation", "care", "trending")
        }
        care = any(e.kind == "care" for e in info.events)
        self.desk = CareDesk(self.rng, ledger or CareLedger()) if care else None
        # the clock: rates (posts per second) of the background and each event in a segment
        self.t = self.start_s
        self.seg_end = self.start_s
        self.rates: list[float] = []
        self.total = 0.0
        self.bounds = sorted(
            {
                b.timestamp()
                for e in info.events
                for b in (e.start, e.end, e.full, e.fade)
                if b is not None
            }
        )
        self.next_t = math.nan
        self.next_source = 0
        self.mix: Mix | None = None
        self._set_mix(mix)

    def _set_mix(self, mix: Mix) -> None:
        self.mix = mix
        self.kind_lot: list[PostKind] = lottery(list(mix.kinds.items()))
        self.style_lot: list[Style] = lottery(list(mix.styles.items()))
        self.lang_lot: list[str] = lottery(
            [(lang, mix.languages.get(lang, 0.0)) for lang in self.phrases]
        ) or list(self.phrases)
        per_kind: dict[EntryKind, int] = {}
        for e in self.entries:
            per_kind[e.kind] = per_kind.get(e.kind, 0) + 1
        self.entry_lot: list[Entry] = lottery(
            [(e, mix.entry_kinds.get(e.kind, 0.0) / per_kind[e.kind]) for e in self.entries]
        ) or list(self.entries)

    # the clock

    def _segment(self, t: float) -> None:
        """Rates from `t` to the next simulated minute or event bound."""
        minute_end = (math.floor(t / 60.0) + 1) * 60.0
        bound = next((b for b in self.bounds if b > t), math.inf)
        self.seg_end = min(minute_end, bound)
        self.rates = [background_rate(self.info, t) / 60.0]
        self.rates += [event_rate(e, t) / 60.0 for e in self.info.events]
        self.total = sum(self.rates)

    def _draw(self) -> None:
        """The next arrival after `t` and what makes it (0: background, i: event i - 1)."""
        t = self.t
        r = self.rng.random
        while True:
            if t >= self.seg_end:
                self._segment(t)
            t -= math.log(1.0 - r()) / self.total
            if t < self.seg_end:
                break
            t = self.seg_end  # memoryless: start again with the next segment's rates
        self.next_t = t
        self.next_source = 0
        if self.total > self.rates[0]:
            u = r() * self.total - self.rates[0]
            if u >= 0.0:
                for i, rate in enumerate(self.rates[1:], 1):
                    if u < rate:
                        self.next_source = i
                        break
                    u -= rate

    def _tick(self, t: float) -> None:
        self.t = t
        ms = int(t * 1000.0)
        self.ms = ms
        second = ms // 1000
        if second != self.second:
            self.second = second
            minute, s = divmod(second, 60)
            if minute != self.minute:
                self.minute = minute
                self.minute_stamp = iso(datetime.fromtimestamp(minute * 60, UTC))[:17]
            self.stamp = self.minute_stamp + _SECONDS[s]
            mix = self.scenario.mix_at(second - self.start_s)
            if mix is not self.mix:
                self._set_mix(mix)

    # one post

    def next_time_s(self) -> float:
        """When the next post will be dated (epoch seconds)."""
        if math.isnan(self.next_t):
            self._draw()
        return min(self.next_t, self.desk.due_s()) if self.desk is not None else self.next_t

    def next_post(self) -> SyntheticPost:
        if math.isnan(self.next_t):
            self._draw()
        desk = self.desk
        if desk is not None and desk.due_s() <= self.next_t:
            self._tick(max(desk.due_s(), self.t))
            parent, entry = desk.pop()
            pid = self._pid()
            desk.answered(parent.id, pid)
            return self._answer(pid, parent, entry)
        self._tick(self.next_t)
        source = self.next_source
        self.next_t = math.nan
        pid = self._pid()
        if source:
            post = self._event_post(pid, self.info.events[source - 1])
            if post is not None:
                return post
        return self._background(pid)

    def _pid(self) -> str:
        n = self.n
        self.n += 1
        return str((max(self.ms - TWEPOCH_MS, 1) << 22) | self.worker | (n & 0xFFF))

    def _remember(self, post: Recent) -> None:
        if post.event is not None:
            self.event_recent[post.event].append(post)
        if len(self.recent) < _RECENT:
            self.recent.append(post)
        else:
            self.recent[self.recent_at] = post
            self.recent_at = (self.recent_at + 1) % _RECENT
        if post.addressed is None or post.addressed.care is None:
            return
        if (
            self.impostor is not None
            and post.addressed is self.target
            and post.style in ("complaint", "request")
        ):
            self.complaints.append(post)
        if self.desk is None and (
            post.style in ("question", "complaint", "request")
            or (post.style == "praise" and self.rng.random() < 0.3)
        ):
            if self.pending_at > 2000:  # forget what was answered
                del self.pending[: self.pending_at]
                self.pending_at = 0
            self.pending.append(post)
            if len(self.pending) - self.pending_at > 2000:  # never answered
                self.pending_at += 1

    def _addressed(self, post: Recent, official: Entry) -> None:
        if self.desk is not None:
            self.desk.consider(post, official, self.t)

    # background traffic

    def _background(self, pid: str) -> SyntheticPost:
        kind = self.kind_lot[int(self.rng.random() * len(self.kind_lot))]
        if kind == "retweet" and self.recent:
            return self._retweet(pid)
        if kind == "official_reply" and self.desk is None and self.pending_at < len(self.pending):
            return self._official_reply(pid)
        if kind == "reply" and self.recent:
            return self._reply(pid)
        if kind == "quote" and self.recent:
            return self._quote(pid)
        return self._original(pid)

    def _original(self, pid: str) -> SyntheticPost:
        mix = self.mix
        assert mix is not None
        r = self.rng.random
        lang = self._pick(self.lang_lot)
        entry = self._pick(self.entry_lot)
        if entry.accounts and r() < mix.reaction:
            return self._reaction(pid, entry)
        style = self._pick(self.style_lot)
        author = self._pick(self.population.authors[lang])
        if style == "news":
            if entry.accounts and r() < mix.official_news:
                author = entry.accounts[0]
            elif r() < 0.6:
                author = self._pick(self.population.media[lang])
        if r() < mix.long and style in ("complaint", "news", "praise"):
            text, extra = self._long_text(lang, style, entry)
        else:
            text, extra = self._text(lang, style, entry)
        note = None
        if len(text) > 280:
            note = text
            text = text[: text.rfind(" ", 0, 276)] + "…"
        return self._emit(pid, "original", style, lang, author, text, extra, pid, note=note)

    def _reaction(self, pid: str, entry: Entry) -> SyntheticPost:
        r = self.rng.random
        lang = self._pick(self.lang_lot)
        author = self._pick(self.population.authors[lang])
        sentiment: Sentiment = "negative" if r() < 0.6 else "positive"
        emoji = self.phrases[lang].emoji[sentiment]
        text = f"@{self._pick(entry.accounts).username} " + "".join(
            self._pick(emoji) for _ in range(1 + int(r() * 4))
        )
        extra = Extra(sentiment, [entry], set(), {}, None)
        return self._emit(pid, "original", "reaction", "und", author, text, extra, pid)

    def _retweet(
        self, pid: str, parent: Recent | None = None, event: EventKind | None = None
    ) -> SyntheticPost:
        if parent is None:  # popular posts get reposted more; official replies seldom
            candidates = [self._pick(self.recent) for _ in range(3)]
            candidates = [c for c in candidates if c.style != "care"] or candidates
            parent = max(candidates, key=lambda p: p.author.followers)
        lang = parent.lang if parent.lang in self.phrases else self._pick(self.lang_lot)
        author = self._pick(self.population.authors[lang])
        text = f"RT @{parent.author.username}: {parent.text}"
        if len(text) > 140:
            text = text[:139] + "…"
        extra = Extra(parent.sentiment, list(parent.entries), set(parent.topics), parent.urls, None)
        return self._emit(
            pid,
            "retweet",
            parent.style,
            parent.lang,
            author,
            text,
            extra,
            pid,
            ref=("retweeted", parent),
            event=event,
        )

    def _reply(self, pid: str) -> SyntheticPost:
        r = self.rng.random
        parent = self._pick(self.recent)
        lang = parent.lang if parent.lang in self.phrases else self._pick(self.lang_lot)
        author = self._pick(self.population.authors[lang])
        if author is parent.author:
            author = self._pick(self.population.authors[lang])
        agree = parent.style == "complaint" and r() < 0.5
        style: Style = "complaint" if agree else self._pick(self.style_lot)
        if style == "news":
            style = "chatter"
        entry = parent.entry if r() < 0.8 else self._pick(self.entry_lot)
        body, extra = self._text(lang, style, entry)
        if agree:
            opener, _ = self._fill(
                self.phrases[lang], self._pick(self.phrases[lang].templates["agree"]), entry, extra
            )
            body = f"{opener} {body}"
        text = f"@{parent.author.username} {body}"
        return self._emit(
            pid, "reply", style, lang, author, text, extra, parent.conv, ref=("replied_to", parent)
        )

    def _official_reply(self, pid: str) -> SyntheticPost:
        parent = self.pending[self.pending_at]
        self.pending_at += 1
        entry = parent.addressed
        assert entry is not None and entry.care is not None
        p = self.phrases[parent.lang]
        extra = Extra("neutral", [entry], set(), {}, None)
        sig = "^" + "".join(self._pick(string.ascii_uppercase) for _ in range(2))
        key = "care_thanks" if parent.style == "praise" else "care"
        body, _ = self._fill(
            p, self._pick(p.templates[key]), entry, extra, {"u": parent.author.first, "sig": sig}
        )
        text = f"@{parent.author.username} {body}"
        return self._emit(
            pid,
            "official_reply",
            "care",
            parent.lang,
            entry.care,
            text,
            extra,
            parent.conv,
            ref=("replied_to", parent),
        )

    def _quote(self, pid: str) -> SyntheticPost:
        r = self.rng.random
        parent = self._pick(self.recent)
        lang = parent.lang if parent.lang in self.phrases else self._pick(self.lang_lot)
        author = self._pick(self.population.authors[lang])
        style = self._pick(self.style_lot)
        entry = parent.entry if r() < 0.7 else self._pick(self.entry_lot)
        body, extra = self._text(lang, style, entry, url=False)
        short = self._tco()
        extra.urls = {
            short: {"expanded_url": f"https://x.com/{parent.author.username}/status/{parent.id}"}
        }
        extra.entries += [e for e in parent.entries if e not in extra.entries]
        extra.topics |= parent.topics
        return self._emit(
            pid, "quote", style, lang, author, f"{body} {short}", extra, pid, ref=("quoted", parent)
        )
