"""What the watch rules will cost, before anything is spent: X's post counts of the last 7 days.

`forecast()` asks `GET /2/tweets/counts/recent` (which reads and bills no post) how many posts
each watch item's rules matched over the 7 days recent search covers, one request per item
(the item's rules packed into one query when they fit the search's query length, else one per
part, summed), and turns it into posts per day and dollars per month at the configured price.
A sector's `sample:N` is a stream operator that counts do not take: its count is taken without
it and scaled by N %. Items that match the same post are each counted: the total is an upper
bound of what X bills (a post once a day however many rules match it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from ingest.x.backfill import SEARCH_LAG, RecentSearch, search_queries, searchable_since
from veille.models import RuleForecast
from veille.watch import Rule, WatchConfig, compile_rules, parse_rule_tag

DAYS_PER_MONTH = 30.44
_SAMPLE = re.compile(r"\s*\bsample:(\d{1,3})\b")


@dataclass
class Forecast:
    """Each item's forecast, and the totals."""

    items: list[RuleForecast]
    budget_usd: float | None

    @property
    def posts_per_day(self) -> float:
        return sum(f.posts_per_day for f in self.items)

    @property
    def cost_month_usd(self) -> float:
        return round(sum(f.cost_month_usd for f in self.items), 2)

    @property
    def over_budget(self) -> list[RuleForecast]:
        """The items whose forecast alone exceeds the budget."""
        return [f for f in self.items if f.over_budget]

    def exceeds_budget(self) -> bool:
        return self.budget_usd is not None and self.cost_month_usd > self.budget_usd


def item_tag(tag: str) -> str:
    """`brand:Acme#2` -> `brand:Acme`: the watch item a rule belongs to."""
    parsed = parse_rule_tag(tag)
    return f"{parsed[0]}:{parsed[1]}" if parsed else tag


def unsampled(value: str) -> tuple[str, int | None]:
    """A rule without its `sample:N` operator, and N (None when it has none)."""
    m = _SAMPLE.search(value)
    if m is None:
        return value, None
    return _SAMPLE.sub("", value).strip(), int(m.group(1))


def forecast(
    search: RecentSearch,
    watch: WatchConfig,
    *,
    price_per_post_usd: float,
    budget_usd: float | None,
    query_max_length: int,
) -> Forecast:
    """Count each watch item's posts of the last 7 days (see the module docstring). Raises
    `XApiError` when X refuses the counts (an access level without them) or keeps failing."""
    now = search.clock.now()
    start, end = searchable_since(now), now - SEARCH_LAG
    days = (end - start).total_seconds() / 86400
    stream_rules: dict[str, int] = defaultdict(int)
    for rule in compile_rules(watch):
        stream_rules[item_tag(rule.tag)] += 1
    parts: dict[str, list[Rule]] = defaultdict(list)
    samples: dict[str, int | None] = {}
    for rule in compile_rules(watch, max_length=query_max_length):
        value, sample = unsampled(rule.value)
        parts[item_tag(rule.tag)].append(Rule(value, rule.tag))
        samples[item_tag(rule.tag)] = sample
    items = []
    for tag, rules in parts.items():
        counted = 0
        for query in search_queries(rules, query_max_length):
            answer = search.count(query, start, end, granularity="day")
            if answer is None:  # stopping
                break
            counted += answer.total
        sample = samples[tag]
        if sample is not None:
            counted = counted * sample // 100
        per_day = round(counted / days, 1)
        cost = round(per_day * DAYS_PER_MONTH * price_per_post_usd, 2)
        items.append(
            RuleForecast(
                forecast_at=now,
                tag=tag,
                kind=tag.partition(":")[0],
                rules=max(stream_rules[tag], 1),
                counted_posts=counted,
                days=round(days, 3),
                sample_pct=sample,
                posts_per_day=per_day,
                cost_month_usd=cost,
                budget_usd=budget_usd,
                over_budget=budget_usd is not None and cost > budget_usd,
            )
        )
    return Forecast(items, budget_usd)


def refused(fc: Forecast, adding: list[Rule]) -> list[RuleForecast]:
    """The items over the budget on their own among those whose rules are being added (rules
    already on X were accepted before, with `veille rules sync --yes`)."""
    added = {item_tag(r.tag) for r in adding}
    return [f for f in fc.over_budget if f.tag in added]


def refusal(items: list[RuleForecast]) -> str:
    """Why rules are refused, naming each item and its forecast."""
    named = "; ".join(
        f"{f.tag}: ~{f.posts_per_day:,.0f} posts/day, ${f.cost_month_usd:,.2f}/month" for f in items
    )
    budget = items[0].budget_usd if items else None
    return (
        f"rules whose forecast alone exceeds the monthly budget (${budget:,.2f}): {named}. "
        "Narrow them in the watch file, or accept them with `veille rules sync --yes`"
    )
