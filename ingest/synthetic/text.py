"""How the synthetic source writes: phrases with the topics they match, entries, post texts.

`Lang` holds one language's templates and slots (background and scenario events), each with the
watch topics its fixed words already match; `Writer` fills them in for an entry, adding topic
frames, hashtags, emoji and links. Everything random comes from the generator's one `rng`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from ingest.synthetic.phrases import event_phrases, phrases
from ingest.synthetic.population import (
    CARE_HINTS,
    Population,
    alnum,
    ascii_word,
    rule_item,
    stable_id,
)
from ingest.synthetic.posts import Entry, Extra
from ingest.synthetic.scenarios import Mix, Style
from veille.models import Sentiment
from veille.text import fold
from veille.watch import ALL_LANGUAGES, WatchConfig, WatchMatcher, rule_tag

_T = TypeVar("_T")
SENTIMENT: dict[str, Sentiment] = {"complaint": "negative", "praise": "positive"}


class Tmpl(NamedTuple):
    fmt: str
    fields: tuple[str, ...]
    topics: frozenset[str]
    caps: frozenset[str]  # fields that begin a sentence


def _template(text: str, topics: frozenset[str]) -> Tmpl:
    caps = frozenset(
        m.group(1)
        for m in _FIELD_RE.finditer(text)
        if text[: m.start()].rstrip().endswith((".", "?", "!"))
    )
    return Tmpl(text, tuple(_FIELD_RE.findall(text)), topics, caps)


_FIELD_RE = re.compile(r"\{(\w+)\}")
_Frag = tuple[str, frozenset[str]]


class Lang:
    """One language's phrases, each with the watch topics its fixed words already match."""

    def __init__(self, lang: str, matcher: WatchMatcher) -> None:
        p = phrases()[lang]

        def topics(text: str) -> frozenset[str]:
            return frozenset(matcher.match_topics(fold(_FIELD_RE.sub(" | ", text)), lang))

        self._topics = topics
        self._topics_of: dict[str, frozenset[str]] = {}

        def templates(texts: Sequence[str]) -> list[Tmpl]:
            return [_template(t, topics(t)) for t in texts]

        self.code = lang
        self.templates = {
            key: templates(p[key])
            for key in (
                "question",
                "complaint",
                "praise",
                "request",
                "news",
                "news_partner",
                "news_supplier",
                "chatter",
                "care",
                "care_thanks",
                "agree",
            )
        }
        # templates that address an official account ({a}), for the care scenario's wave
        self.addressed = {
            key: [t for t in self.templates[key] if "a" in t.fields] or self.templates[key]
            for key in ("question", "complaint", "request")
        }
        ev = event_phrases()
        events = lang if lang in ev.crisis else "en"
        self.crisis = templates(ev.crisis[events])
        self.phish = templates(ev.phish[events])
        self.trend: list[tuple[Style, Tmpl]] = [
            (style, _template(t, topics(t))) for style, t in ev.trend[events]
        ]
        self.crisis_tag = ev.crisis_tags.get(lang, ev.crisis_tags["all"])
        self.slots: dict[str, list[_Frag]] = {
            key: [(t, topics(t)) for t in p[key]]
            for key in (
                "act",
                "prob",
                "dur",
                "place",
                "neg",
                "nega",
                "pos",
                "posa",
                "feat",
                "when",
                "month",
            )
        }
        self.hashtags: list[_Frag] = [(t, topics(t)) for t in p["hashtags"]]
        self.frames: dict[str, tuple[str, ...]] = {
            "negative": p["frame_negative"],
            "positive": p["frame_positive"],
            "neutral": p["frame_neutral"],
        }
        self.emoji = {
            "negative": p["emoji_negative"],
            "positive": p["emoji_positive"],
            "neutral": p["emoji_neutral"],
        }
        self.brand_paths: tuple[str, ...] = p["brand_paths"]
        self.news_words: tuple[str, ...] = p["news_words"]
        self.stand_in: tuple[str, ...] = p["stand_in"]

    def topics_of(self, text: str) -> frozenset[str]:
        """The watch topics a fixed text (an entry's hashtag) matches in this language."""
        found = self._topics_of.get(text)
        if found is None:
            found = self._topics_of[text] = self._topics(text)
        return found


# --- what the posts are about ---------------------------------------------------------------


def make_entries(
    cfg: WatchConfig, population: Population, phrases: Mapping[str, Lang]
) -> list[Entry]:
    """The watched entries, then the sector items (posts about them use their keywords)."""
    out: list[Entry] = []
    by_handle = population.by_handle
    for kind, e in cfg.entries():
        words = tuple(t for t in e.terms() if not t.startswith("#"))
        tags = [t for t in e.terms() if t.startswith("#")]
        camel = "#" + "".join(w[:1].upper() + w[1:] for w in re.findall(r"\w+", e.name))
        if fold(camel) not in {fold(t) for t in tags}:
            tags.append(camel)
        accounts = tuple(by_handle[a.lower()] for a in e.accounts)
        care = next(
            (u for u in accounts if any(h in u.username.lower() for h in CARE_HINTS)),
            accounts[-1] if accounts else None,
        )
        name_terms = (e.name,) * max(1, len(words) - 1) + words  # the name half the time
        out.append(
            Entry(
                name=e.name,
                kind=kind,
                terms={lang: name_terms for lang in phrases},
                hashtags=tuple(tags),
                accounts=accounts,
                care=care,
                slug=re.sub(r"[^a-z0-9]+", "-", fold(e.name)).strip("-") or "brand",
                ticker=(ascii_word(e.name).upper() or "XYZ")[:4],
                rule=rule_item(rule_tag(kind, e.name)),
                annotation={
                    "domain": {
                        "id": "47",
                        "name": "Brand",
                        "description": "Brands and Companies",
                    },
                    "entity": {"id": stable_id(f"entity:{e.name}"), "name": e.name},
                },
            )
        )
    for item in cfg.sector:
        every = tuple(t for kws in item.keywords.values() for t in kws)
        words = tuple(t for t in every if not t.startswith("#"))
        terms: dict[str, tuple[str, ...]] = {}
        for lang in phrases:
            own = item.keywords.get(lang, ()) + item.keywords.get(ALL_LANGUAGES, ())
            # a language without keywords of its own borrows the others' (its rule tag says it)
            terms[lang] = tuple(t for t in own if not t.startswith("#")) or words or every
        out.append(
            Entry(
                name=item.name,
                kind="sector",
                terms=terms,
                hashtags=tuple(t for t in every if t.startswith("#")),
                accounts=(),
                care=None,
                slug=re.sub(r"[^a-z0-9]+", "-", fold(item.name)).strip("-") or "sector",
                ticker="",
                rule=rule_item(rule_tag("sector", item.name)),
                annotation={},
            )
        )
    return out


def other_entries(entries: Sequence[Entry], entry: Entry) -> list[Entry]:
    """What a post about `entry` compares it with: competitors of a brand; brands and
    competitors of anything else."""
    want = ("competitor",) if entry.kind == "brand" else ("brand", "competitor")
    return [e for e in entries if e.kind in want and e is not entry]


def topic_keywords(
    cfg: WatchConfig, languages: Sequence[str]
) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Per language: (topic, its keywords in that language and in all)."""
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for lang in languages:
        pairs = []
        for name, topic in cfg.topics.items():
            kws = topic.keywords.get(lang, ()) + topic.keywords.get(ALL_LANGUAGES, ())
            if kws:
                pairs.append((name, kws))
        out[lang] = pairs
    return out


def topic_annotations(cfg: WatchConfig) -> dict[str, list[dict[str, Any]]]:
    """Per topic: the context annotations X would attach for its entities."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, topic in cfg.topics.items():
        anns = []
        for ent in topic.entities:
            eid = ent if ent.isdigit() else stable_id(f"entity:{ent}")
            anns.append(
                {
                    "domain": {
                        "id": "66",
                        "name": "Interests and Hobbies Category",
                        "description": "A grouping of interests and hobbies",
                    },
                    "entity": {"id": eid, "name": name if ent.isdigit() else ent},
                }
            )
        out[name] = anns
    return out


class Writer:
    """Writes post texts; mixed into the generator, whose state it reads."""

    rng: random.Random
    _random: Callable[[], float]  # rng.random
    mix: Mix | None
    population: Population
    phrases: dict[str, Lang]
    entries: list[Entry]
    others_of: dict[int, list[Entry]]  # id(entry) -> other_entries(entries, entry)
    main: Entry | None
    topic_keywords: dict[str, list[tuple[str, tuple[str, ...]]]]

    def _pick(self, seq: Sequence[_T]) -> _T:
        return seq[int(self._random() * len(seq))]

    def _fill(
        self,
        p: Lang,
        t: Tmpl,
        entry: Entry,
        extra: Extra,
        given: Mapping[str, str] | None = None,
    ) -> tuple[str, bool]:
        """The template with its fields filled; True when it addresses an official account."""
        r = self.rng.random
        values: dict[str, str] = {}
        addressed = False
        extra.topics |= t.topics
        slots = p.slots
        for f in t.fields:
            if given and f in given:
                values[f] = given[f]
            elif f in slots:  # the most common: a phrase of the language
                frag, topics = self._pick(slots[f])
                values[f] = frag[:1].upper() + frag[1:] if f in t.caps else frag
                extra.topics |= topics
            elif f == "b":
                values[f] = self._pick(entry.terms[p.code])
            elif f == "a":
                if entry.accounts:
                    acct = entry.care if entry.care and r() < 0.7 else self._pick(entry.accounts)
                    values[f] = "@" + acct.username
                    addressed = True
                else:
                    values[f] = self._pick(entry.terms[p.code])
            elif f in ("o", "m"):
                other = self._other(entry) if f == "o" else self.main
                if other is None or other is entry:
                    other = self._other(entry)
                if other is None:
                    values[f] = self._pick(p.stand_in)
                else:
                    values[f] = self._pick(other.terms[p.code])
                    if other not in extra.entries:
                        extra.entries.append(other)
            elif f == "num":
                values[f] = str(2 + int(r() * 58))
            elif f == "pct":
                values[f] = str(2 + int(r() * 17))
            elif f == "year":
                values[f] = str(2027 + int(r() * 4))
            elif f in ("u", "sig"):
                values[f] = ""
            else:
                raise KeyError(f"unknown template field {f!r} in {t.fmt!r}")
        return t.fmt.format_map(values), addressed

    def _other(self, entry: Entry) -> Entry | None:
        others = self.others_of.get(id(entry))
        if others is None:
            others = other_entries(self.entries, entry)
        return self._pick(others) if others else None

    def _text(
        self,
        lang: str,
        style: Style,
        entry: Entry,
        url: bool = True,
        tail_rate: float = 1.0,
        exclude: Tmpl | None = None,
        template: Tmpl | None = None,
        given: Mapping[str, str] | None = None,
        tag: str | None = None,
    ) -> tuple[str, Extra]:
        """A post's text in `lang`: a template (drawn for `style`, unless given), perhaps a topic
        frame, hashtags (`tag` first, always), emoji, a url."""
        mix = self.mix
        assert mix is not None
        r = self.rng.random
        p = self.phrases[lang]
        sentiment = SENTIMENT.get(style, "neutral")
        extra = Extra(sentiment, [entry], set(), {}, None)
        key: str = style
        if style == "news" and entry.kind in ("partner", "supplier") and r() < 0.6:
            key = f"news_{entry.kind}"
        if template is None:
            template = self._pick(p.templates[key])
            if template is exclude:
                template = self._pick(p.templates[key])
        extra.template = template
        text, addressed = self._fill(p, template, entry, extra, given)
        if addressed:
            extra.addressed = entry
        if style in ("complaint", "praise") and r() < 0.3:  # a second sentence
            more = self._pick(p.slots["neg" if style == "complaint" else "pos"])[0]
            if more not in text:
                text = f"{sentence(text)} {more}"
        if text[:1].islower() and r() < 0.6:
            text = text[0].upper() + text[1:]
        tail: list[str] = []
        keywords = self.topic_keywords.get(lang)
        if r() >= tail_rate:
            return (f"{text} {tag}" if tag else text), extra
        if keywords and r() < mix.topic_frame:
            topic, kws = self._pick(keywords)
            kw = self._pick(kws)
            extra.topics.add(topic)
            if kw.startswith(("#", "$", "@")):
                tail.append(kw)
            else:
                frame = self._pick(p.frames[sentiment])
                text = sentence(text)
                tail.append(frame.format(kw=kw, Kw=kw[:1].upper() + kw[1:]))
        if tag:
            tail.append(tag)
        if r() < mix.hashtag:
            for _ in range(1 + (r() < 0.3)):
                if entry.hashtags and r() < 0.4:
                    h = self._pick(entry.hashtags)
                    tail.append(h)
                    extra.topics |= p.topics_of(h)
                else:
                    tag, topics = self._pick(p.hashtags)
                    tail.append(tag)
                    extra.topics |= topics
        if style == "news" and entry.ticker and r() < mix.cashtag:
            tail.append(f"${entry.ticker}")
        if r() < mix.emoji:
            tail.append("".join(self._pick(p.emoji[sentiment]) for _ in range(1 + (r() < 0.3))))
        if url and r() < (mix.news_url if style == "news" else mix.url):
            short = self._tco()
            extra.urls[short] = {"expanded_url": self._url(lang, style, entry)}
            tail.append(short)
        if tail:
            full = f"{text} {' '.join(dict.fromkeys(tail))}"
            text = full if len(full) <= 280 else (f"{text} {tag}" if tag else text)
        return text, extra

    def _long_text(self, lang: str, style: Style, entry: Entry) -> tuple[str, Extra]:
        text, extra = self._text(lang, style, entry, url=False, tail_rate=0.0)
        while len(text) <= 420:
            last = len(text) + 2 > 300
            more, more_extra = self._text(
                lang, style, entry, url=last, tail_rate=float(last), exclude=extra.template
            )
            extra.template = more_extra.template
            extra.urls |= more_extra.urls
            text = f"{sentence(text)}\n\n{more}"
            extra.topics |= more_extra.topics
            extra.entries += [e for e in more_extra.entries if e not in extra.entries]
            extra.addressed = extra.addressed or more_extra.addressed
        return text, extra

    def _tco(self) -> str:
        return "https://t.co/" + alnum(self.rng, 10)

    def _url(self, lang: str, style: Style, entry: Entry) -> str:
        r = self.rng.random
        p = self.phrases[lang]
        if style == "news" and r() < 0.75:
            media = self._pick(self.population.media[lang])
            return (
                f"https://www.{media.username.lower()}.{p.news_words[0]}/"
                f"{self._pick(p.news_words[1:])}/{2026}/{entry.slug}-"
                f"{self._pick(p.news_words[1:])}-{100000 + int(r() * 900000)}"
            )
        return f"https://www.{entry.slug}.com/{self._pick(p.brand_paths)}"


def sentence(text: str) -> str:
    """`text` ending like a sentence, so that another may follow."""
    return text if text.endswith((".", "!", "?", "…")) else text + "."
