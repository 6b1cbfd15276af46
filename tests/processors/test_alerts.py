"""Crisis and impersonation detectors on simulated traffic and hand-made accounts."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from factories import make_enriched

from processors.alerts.agent import AlertFeed, read_observations
from processors.alerts.crisis import CrisisDetector, Observation
from processors.alerts.impersonation import ImpersonationDetector, core, skeleton
from veille.models import Author
from veille.settings import KafkaSettings, Settings
from veille.watch import load_watch

START = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() // 60)


def _per_minute(minute: int, peak: float) -> float:
    """A daily cycle: quiet at night, busy in the afternoon."""
    hour = (minute % 1440) / 60
    return peak * (0.15 + 0.85 * max(0.0, math.sin(math.pi * (hour - 6) / 16)) ** 2)


def _poisson(rng: random.Random, lam: float) -> int:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def _run(
    minutes: int, burst: tuple[int, int, float] | None = None, seed: int = 1
) -> list[tuple[int, object]]:
    """Feed `minutes` of traffic for two entries, in batches of 20 s; alerts with their minute."""
    rng = random.Random(seed)
    det = CrisisDetector()
    raised = []
    for m in range(START, START + minutes):
        for entry, peak in (("Orbital Telecom", 18.0), ("Nimbus Télécom", 6.0)):
            n = _poisson(rng, _per_minute(m, peak))
            neg_share = 0.22
            if burst and entry == "Orbital Telecom" and burst[0] <= m - START < burst[1]:
                n += _poisson(rng, burst[2] * peak)
                neg_share = 0.8
            for third in range(3):
                for _ in range(n // 3 + (third < n % 3)):
                    negative = rng.random() < neg_share
                    text = "panne reseau scandale orbital" if negative and burst else "forfait"
                    det.observe(
                        Observation(
                            entry=entry,
                            minute=m,
                            negative=negative,
                            terms=tuple(text.split()),
                            post_id=str(m),
                            author="a",
                            text=text,
                            engagement=rng.randint(0, 50),
                        )
                    )
                raised += [(m, a) for a in det.evaluate()]
    return raised


def test_calm_day_raises_nothing() -> None:
    for seed in (1, 2, 3):
        assert _run(24 * 60, seed=seed) == []


def test_negative_burst_raises_one_alert_fast_with_reasons() -> None:
    burst_start = 14 * 60 + 7
    raised = _run(20 * 60, burst=(burst_start, burst_start + 40, 7.0))
    keys = {a.key for _, a in raised}
    assert len(keys) == 1, keys
    first_minute, first = raised[0]
    assert first.entry == "Orbital Telecom" and first.kind in ("crisis", "spike")
    assert first_minute - START - burst_start <= 2  # within 2 simulated minutes
    last = raised[-1][1]
    assert last.kind == "crisis" and last.severity == "critical"
    assert last.data["share_negative"] > 0.5 and "scandale" in last.data["top_terms"]
    assert last.data["samples"] and "negative" in last.detail
    assert len(raised) <= 6  # updated, not a flood


def test_skeletons_see_through_look_alikes() -> None:
    assert skeleton("0rbitaI_Care") == skeleton("orbital care")
    assert core("Orbital Supp0rt") == core("orbital") == core("@orbital_care")
    assert core("ORBlTAL-officiel-FR") == core("Orbital")


def _author(
    username: str, name: str, days: int = 10, followers: int = 40, verified: str = "none"
) -> Author:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    return Author(
        id="77",
        username=username,
        name=name,
        followers_count=followers,
        verified_type=verified,
        created_at=now - timedelta(days=days),
    )


def test_impersonators_are_flagged_once_and_officials_never() -> None:
    det = ImpersonationDetector(load_watch())
    now = datetime(2026, 11, 20, tzinfo=UTC)
    fake = _author("orbital_supp0rt", "Orbital Supp0rt")
    alert = det.check(fake, now)
    assert alert is not None and alert.kind == "impersonation"
    assert alert.key == "impersonation:orbital_supp0rt" and alert.entry == "Orbital Telecom"
    assert "look-alike characters" in alert.detail
    assert det.check(fake, now) is None  # one alert per account
    assert det.check(_author("0rbitaI_care", "Orbital Care"), now) is not None
    assert det.check(_author("orbital_help_desk", "Orbital Help"), now) is not None
    for official in ("orbital", "orbital_care", "orbital_fr", "nimbus_tel", "zephyrnet"):
        assert det.check(_author(official, "Orbital Care", days=3000, followers=90000), now) is None
    for fan in (
        _author("ilovemyphone", "Marie"),
        _author("orbital_fan_club_lyon", "Fans"),
        _author("tech_news_daily", "Tech News"),
        _author(
            "orbitalsupport", "Orbital Support", days=3000, followers=50000, verified="business"
        ),
    ):
        assert det.check(fan, now) is None, fan.username


def test_the_feed_keys_observations_by_entry_and_their_values_parse_back() -> None:
    k = KafkaSettings(bootstrap_servers=None)
    feed = AlertFeed(Settings(kafka=k), load_watch())
    post = make_enriched(
        42,
        "Panne réseau chez @orbital_care et Nimbus #scandale",
        entries=("Orbital Telecom", "Nimbus Télécom"),
        kinds=("brand", "competitor"),
        sentiment="negative",
    )
    other = make_enriched(43, "Orbital encore en panne", entries=("Orbital Telecom",))
    records = feed.records([(2, post), (1, other)])
    # one record per entry of the batch, in the order the entries first appear
    assert [(r[0], r[1]) for r in records] == [
        (k.observations_topic, b"Orbital Telecom"),
        (k.observations_topic, "Nimbus Télécom".encode()),
    ]
    batches = [read_observations(r[2]) for r in records]
    assert [[o.post_id for o in b] for b in batches] == [["42", "43"], ["42"]]
    obs = [batches[0][0], batches[1][0]]
    assert [o.entry for o in obs] == ["Orbital Telecom", "Nimbus Télécom"]
    minute = int(post.created_at.timestamp() // 60)
    assert all(o.minute == minute and o.negative and o.partition == 2 for o in obs)
    assert all(o.post_id == "42" and "#scandale" in o.terms for o in obs)
    assert batches[0][1].partition == 1
    assert feed.counters == {"observations": 3, "alerts": 0}


def test_a_worker_reads_the_single_observations_of_earlier_workers() -> None:
    ob = Observation(entry="Orbital Telecom", minute=29_500_000, negative=False, post_id="7")
    assert read_observations(ob.model_dump_json().encode()) == (ob,)
    with pytest.raises(ValueError):
        read_observations(b'{"entry": 5}')


def test_an_episode_that_turns_into_a_crisis_says_so_at_once() -> None:
    """A volume spike whose posts turn negative the next minute is a crisis: the alert is updated
    to `crisis` then, not `update_min` minutes later (by which time this episode is over)."""
    det = CrisisDetector()
    raised = []
    t = START + 120

    def feed(minute: int, n: int, negative: int) -> None:
        for i in range(n):
            det.observe(
                Observation(
                    entry="Orbital Telecom",
                    minute=minute,
                    negative=i < negative,
                    terms=("panne",) if i < negative else ("forfait",),
                    post_id=f"{minute}-{i}",
                    author="a",
                    text="panne" if i < negative else "forfait",
                )
            )

    for m in range(START, START + 140):
        if m == t:
            feed(m, 60, 12)  # a volume spike, as negative as usual
        elif m == t + 1:
            feed(m, 60, 54)  # and then an outraged one
        else:
            feed(m, 10, 2)
        raised += det.evaluate()
    feed(START + 140, 10, 2)
    raised += det.evaluate()
    assert len({a.key for a in raised}) == 1
    assert raised[0].kind == "spike"
    assert raised[-1].kind == "crisis" and raised[-1].severity == "critical"
    assert raised[-1].data["at"] == raised[0].data["at"].replace(":00Z", ":01Z")


def test_the_similarity_bounds_never_hide_a_look_alike() -> None:
    """The cheap bounds before difflib's ratio rule out only pairs below the floor: where the
    full ratio reaches it, `_similarity` gives that ratio."""
    from difflib import SequenceMatcher

    from processors.alerts.impersonation import _similarity

    rng = random.Random(5)
    targets = ["orbitaltelecom", "orbitalcare", "nimbus", "heliosbank"]
    near = 0
    for _ in range(20_000):
        t = rng.choice(targets)
        s = list(t)
        for _ in range(rng.randint(0, 4)):  # a few edits: some stay look-alikes
            i = rng.randrange(len(s) + 1)
            op = rng.choice("ids")
            if op == "i":
                s.insert(i, rng.choice("abcdelort01"))
            elif s and i < len(s):
                if op == "d":
                    del s[i]
                else:
                    s[i] = rng.choice("abcdelort01")
        cand = "".join(s)
        full = SequenceMatcher(None, cand, t).ratio()
        got = _similarity(cand, t, 0.85)
        if full >= 0.85:
            near += 1
            assert got == full, (cand, t)
        else:
            assert got < 0.85, (cand, t)
    assert near > 1000  # the test saw many look-alikes, not only strangers


def test_observation_records_that_say_observations_in_their_text_still_read() -> None:
    ob = Observation(entry="Orbital Telecom", minute=1, negative=True, text='"observations"')
    assert read_observations(ob.model_dump_json().encode()) == (ob,)
    with pytest.raises(ValueError, match="observations"):
        read_observations(b'{"entry": "Orbital Telecom", "observations": [{"entry": 5}]}')
