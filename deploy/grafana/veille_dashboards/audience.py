"""The audience dashboard: followers of the watched accounts and how they grow."""

from __future__ import annotations

from sinks import queries

from .builder import IN_ENTRY, Dashboard, bargauge, named, table, timeseries

AUDIENCE = Dashboard(
    "veille-audience",
    "veille — Audience",
    "Followers of the watched accounts (the brands' and the competitors') and how they grow.",
    [
        timeseries(
            "Followers per account",
            named("followers_over_time"),
            w=24,
            h=9,
            description="The last reading of each account in each bucket.",
        ),
        table(
            "Growth in the time range",
            named("audience_growth", f"SELECT *\nFROM ({{q}})\nWHERE {IN_ENTRY}"),
            description=queries.get("audience_growth").description,
        ),
        bargauge(
            "Followers gained per day",
            named(
                "audience_growth",
                f"SELECT username, growth_per_day\nFROM ({{q}})\nWHERE {IN_ENTRY}\n"
                "ORDER BY growth_per_day DESC, username",
            ),
            "growth_per_day",
        ),
    ],
    time_from="now-30d",
)
