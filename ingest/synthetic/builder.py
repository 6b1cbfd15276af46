"""Dating a scenario for a watch configuration: `build_info` and the choices it makes.

`build_info` turns a `Scenario`'s plan into the `ScenarioInfo` of one run: which entry the
events concern (`target_entry`, the first brand), the account that answers customers
(`care_account`), the short name hashtags are made of (`brand_word`), the impostor's look-alike
account (`ingest.synthetic.lookalike`) and the trending scenario's new product. Everything
random is seeded by the run's seed: one seed, configuration and start time give one timeline.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ingest.synthetic.lookalike import lookalike
from ingest.synthetic.phrases import event_phrases
from ingest.synthetic.population import CARE_HINTS, ascii_word
from ingest.synthetic.scenarios import DAILY_PROFILE, EventPlan, Mix, Scenario
from ingest.synthetic.timeline import (
    CARE_ANSWER_OTHER,
    CARE_ANSWER_RATE,
    CARE_DELAY_MEDIAN_S,
    CARE_DELAY_RANGE_S,
    CARE_OFFICE_HOURS,
    ScenarioEvent,
    ScenarioInfo,
)
from veille.text import fold
from veille.watch import WatchConfig, WatchEntry


def target_entry(cfg: WatchConfig) -> WatchEntry | None:
    """The entry events are about: the first brand, else the first entry of any kind."""
    if cfg.brands:
        return cfg.brands[0]
    entries = cfg.entries()
    return entries[0][1] if entries else None


def care_account(accounts: Sequence[str]) -> str | None:
    """The account that answers customers: the first with a care-like name, else the last."""
    if not accounts:
        return None
    return next((a for a in accounts if any(h in a.lower() for h in CARE_HINTS)), accounts[-1])


def brand_word(cfg: WatchConfig) -> str:
    """The short name hashtags are made of: the target entry's first word ("Acme Energy" ->
    "Acme"), else the first sector item's."""
    entry = target_entry(cfg)
    name = entry.name if entry else cfg.entry_names()[0][1]
    for word in re.findall(r"\w+", name):
        ascii_ = ascii_word(word)
        if ascii_:
            return ascii_[:1].upper() + ascii_[1:]
    return "Brand"


def build_info(
    cfg: WatchConfig,
    scenario: Scenario,
    languages: Sequence[str],
    seed: int,
    start: datetime,
    volume: float,
    noise: float,
) -> ScenarioInfo:
    """The dated timeline of `scenario` for this configuration. Raises ValueError when the
    configuration lacks what an event needs (a brand with official accounts, for impersonation
    and care; an entry, for a crisis)."""
    events = tuple(
        _event(cfg, scenario.mix, plan, languages, seed, start, volume) for plan in scenario.events
    )
    return ScenarioInfo(
        scenario.name, scenario.description, start, seed, volume, noise, DAILY_PROFILE, events
    )


def _event(
    cfg: WatchConfig,
    mix: Mix,
    plan: EventPlan,
    languages: Sequence[str],
    seed: int,
    start: datetime,
    volume: float,
) -> ScenarioEvent:
    entry = target_entry(cfg)
    at = start + timedelta(seconds=plan.start_s)
    end = None if plan.duration_s is None else at + timedelta(seconds=plan.duration_s)
    full = at + timedelta(seconds=plan.ramp_s)
    fade = end - timedelta(seconds=plan.fade_s) if end is not None and plan.fade_s else None
    word = brand_word(cfg)
    name = entry.name if entry else ""
    per_minute = plan.volume * volume
    terms: tuple[str, ...] = ()
    account = None
    details: dict[str, Any] = {}
    if plan.kind in ("crisis", "impersonation", "care") and entry is None:
        raise ValueError(f"a {plan.kind} scenario needs a brand in the watch configuration")
    if plan.kind == "crisis":
        share = _entry_share(cfg, mix)
        per_minute = plan.volume * share * volume
        details = {"factor": plan.volume, "brand_per_minute": share * volume}
        crisis_tags = event_phrases().crisis_tags
        tags = [crisis_tags["all"]] + [crisis_tags[lang] for lang in languages]
        terms = tuple(dict.fromkeys(t.format(w=word) for t in tags))
        description = f"an outage of {name}: outraged posts, {plan.volume:g}x its usual volume"
    elif plan.kind == "impersonation":
        assert entry is not None
        handle = care_account(entry.accounts)
        if handle is None:
            raise ValueError("an impersonation scenario needs a brand with an official account")
        account = lookalike(cfg, entry, handle, seed, at)
        description = (
            f"@{account.username} imitates @{handle}: replies to customers who complained to "
            f"{name}, asking for personal details by DM"
        )
    elif plan.kind == "care":
        if not any(e.accounts for _, e in cfg.entries()):
            raise ValueError("a care scenario needs an entry with an official account")
        details = {
            "answer_rate": dict(CARE_ANSWER_RATE),
            "answer_rate_other": CARE_ANSWER_OTHER,
            "delay_median_s": CARE_DELAY_MEDIAN_S,
            "delay_range_s": list(CARE_DELAY_RANGE_S),
            "office_hours_utc": list(CARE_OFFICE_HOURS),
        }
        description = "a wave of questions and complaints to the official accounts"
    else:
        tag, term = _product(cfg, word, seed)
        terms = (tag, term)
        description = f"an emerging hashtag, {tag}: {term}, new, talked about more and more"
    return ScenarioEvent(
        plan.kind, description, name, at, end, full, fade, per_minute, terms, account, details
    )


def _entry_share(cfg: WatchConfig, mix: Mix) -> float:
    """The share of background posts chosen to be about the target entry."""
    entries = cfg.entry_names()
    kind = entries[0][0] if not cfg.brands else "brand"
    weights = {k: mix.entry_kinds.get(k, 0.0) for k, _ in entries}
    total = sum(weights.values()) or 1.0
    same = sum(1 for k, _ in entries if k == kind)
    return weights[kind] / total / same if weights[kind] else 1.0 / len(entries)


def _product(cfg: WatchConfig, word: str, seed: int) -> tuple[str, str]:
    """A new product hashtag and name, absent from everything the background writes."""
    known = {fold(t.lstrip("#")) for _, e in cfg.entries() for t in e.terms()}
    for keywords in [t.keywords for t in cfg.topics.values()] + [s.keywords for s in cfg.sector]:
        known |= {fold(k.lstrip("#")) for kws in keywords.values() for k in kws}
    rng = random.Random(f"veille-trend-{seed}")
    products = list(event_phrases().products)
    rng.shuffle(products)
    for p in products:
        if fold(word + p) not in known and fold(p) not in known:
            return f"#{word}{p}", f"{word} {p}"
    return f"#{word}Next{seed % 1000}", f"{word} Next"
