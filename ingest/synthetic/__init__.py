"""Synthetic source: realistic, reproducible X API v2 posts about what watch.yaml watches.

`SyntheticSource` makes up a stream of filtered-stream payloads (`{"data", "includes",
"matching_rules"}`, X's own wire format) about the entries, sector items and topics of the
`WatchConfig` it is given: questions and requests to official accounts, complaints, praise,
news, chatter, replies (customers' and official accounts'), retweets, quotes, long posts
(`note_tweet`), in French, English, Spanish and German, written by a stable population of a few
thousand users with a heavy-tailed follower distribution. Nothing about a particular company is
hard-coded: names, aliases, accounts, sector and topic keywords come from the configuration;
the phrasing is generic telecom/consumer-brand language.

Posts are dated in simulated event time, which runs at the scenario's traffic (posts per
simulated minute, with a daily cycle), independent of the wall-clock pace (`rate`): a simulated
day takes minutes. Scenarios (`SCENARIOS`): calm, crisis (a negative burst about the first
brand), impersonation (a look-alike of its care account phishing customers who complained),
care (a wave of questions to official accounts, a known part answered), trending (a new
hashtag ramping up). `SyntheticSource.scenario_info()` dates each event; `care_ledger` lists
answered and unanswered posts. Reproducible: one seed, start time, scenario and volume give the
same bytes, post for post. Post ids are snowflakes made of the event time, the seed and a
counter (unique within a run).

Modules: `scenarios` (the plans), `timeline` (plans dated for a configuration: the events,
their rates, the care ledger), `builder` (dating a plan for a configuration), `lookalike` (the
impostor's account), `source` (the `Source`), `generator` (the clock and background traffic),
`events` (the events' posts and the care desk), `text` and `payload` (writing and serialising a
post), `population` (the users), `phrases` (each language's and the events' phrases, read from
the data files under `data/`).
"""

from ingest.synthetic.posts import SyntheticPost
from ingest.synthetic.scenarios import (
    CALM,
    DAILY_PROFILE,
    DEFAULT_VOLUME,
    SCENARIOS,
    EventKind,
    EventPlan,
    Mix,
    PostKind,
    Scenario,
    Style,
)
from ingest.synthetic.source import DEFAULT_NOISE, LANGUAGES, SyntheticSource
from ingest.synthetic.timeline import (
    CareLedger,
    LookalikeAccount,
    ScenarioEvent,
    ScenarioInfo,
    default_start,
)

__all__ = [
    "CALM",
    "DAILY_PROFILE",
    "DEFAULT_NOISE",
    "DEFAULT_VOLUME",
    "LANGUAGES",
    "SCENARIOS",
    "CareLedger",
    "EventKind",
    "EventPlan",
    "LookalikeAccount",
    "Mix",
    "PostKind",
    "Scenario",
    "ScenarioEvent",
    "ScenarioInfo",
    "Style",
    "SyntheticPost",
    "SyntheticSource",
    "default_start",
]
