"""Parsing X API v2 payloads into posts; errors name the field; dead letters and observations
round-trip."""

from __future__ import annotations

import json

import pytest
from factories import x_payload

from veille.models import (
    MAX_DEAD_LETTER_PAYLOAD,
    DeadLetter,
    EnrichedPost,
    InvalidPayload,
    Observation,
    Post,
    parse_stream_payload,
)


def test_full_payload_keeps_x_fields() -> None:
    payload = x_payload(
        1860000000000000001,
        "RT @orbital: Orbital lance la #5G à Lyon https://t.co/abc $ORB",
        lang="fr",
        conversation_id="1860000000000000000",
        referenced_tweets=[{"type": "retweeted", "id": "1860000000000000000"}],
        entities={
            "hashtags": [{"start": 30, "end": 33, "tag": "5G"}],
            "mentions": [{"start": 3, "end": 11, "username": "orbital", "id": "42"}],
            "urls": [
                {
                    "start": 43,
                    "end": 66,
                    "url": "https://t.co/abc",
                    "expanded_url": "https://orbital.example/5g",
                }
            ],
            "cashtags": [{"start": 67, "end": 71, "tag": "ORB"}],
        },
        public_metrics={
            "retweet_count": 5,
            "reply_count": 0,
            "like_count": 1,
            "quote_count": 0,
            "impression_count": 40,
        },
        context_annotations=[
            {
                "domain": {"id": "47", "name": "Brand", "description": "x"},
                "entity": {"id": "10", "name": "Orbital"},
            }
        ],
    )
    payload["includes"]["users"].append(
        {
            "id": "42",
            "username": "orbital",
            "name": "Orbital",
            "verified": True,
            "verified_type": "business",
        }
    )
    payload["includes"]["tweets"] = [
        {"id": "1860000000000000000", "text": "Orbital lance la #5G", "author_id": "42"}
    ]
    post = parse_stream_payload(json.dumps(payload).encode(), source="replay")
    assert post.id == "1860000000000000001" and post.x_lang == "fr"
    assert post.is_retweet and not post.is_reply
    assert post.reference("retweeted").author_username == "orbital"  # type: ignore[union-attr]
    assert post.reference("retweeted").text == "Orbital lance la #5G"  # type: ignore[union-attr]
    assert post.hashtags == ("5G",) and post.mentions == ("orbital",) and post.cashtags == ("ORB",)
    assert post.urls == ("https://orbital.example/5g",)
    assert post.metrics.impression_count == 40
    assert post.context_annotations[0].entity_name == "Orbital"
    assert post.rule_tags == ("brand:Orbital Telecom",)
    assert post.author.followers_count == 120 and post.created_at.tzinfo is not None
    assert Post.model_validate_json(post.model_dump_json()) == post


def test_long_post_uses_note_tweet_text() -> None:
    long = "Orbital " * 60
    payload = x_payload(
        7,
        "Orbital Orbital… https://t.co/x",
        note_tweet={"text": long, "entities": {"hashtags": [{"tag": "long"}]}},
    )
    post = parse_stream_payload(json.dumps(payload))
    assert post.text == long and post.hashtags == ("long",)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["data"].pop("created_at"), "data.created_at"),
        (lambda p: p["data"].update(created_at="yesterday"), "data.created_at"),
        (lambda p: p["data"].update(created_at="0001-01-01T00:00:00.000Z"), "created_at"),
        (lambda p: p["data"].update(created_at="9999-12-31T00:00:00.000Z"), "created_at"),
        (lambda p: p["data"].update(id="abc"), "data.id"),
        (lambda p: p["data"].update(text=None), "data.text"),
        (lambda p: p["data"].update(text="x" * 30_000), "data.text"),
        (lambda p: p["data"].update(public_metrics={"like_count": -1}), "public_metrics"),
        (lambda p: p.pop("data"), "data"),
        (
            lambda p: p["data"].update(referenced_tweets=[{"type": "liked", "id": "1"}]),
            "referenced_tweets",
        ),
        # counts ClickHouse cannot store (UInt64) are bad input, not a failed insert later
        (lambda p: p["data"].update(public_metrics={"like_count": 2**64}), "like_count"),
        (
            lambda p: p["includes"]["users"][0]["public_metrics"].update(followers_count=10**30),
            "followers_count",
        ),
    ],
)
def test_invalid_payload_names_the_field(mutate, field) -> None:  # type: ignore[no-untyped-def]
    payload = x_payload(5)
    mutate(payload)
    with pytest.raises(InvalidPayload) as err:
        parse_stream_payload(json.dumps(payload))
    assert field in str(err.value)


def test_what_real_x_answers_is_taken_liberally() -> None:
    """Seen in recorded X answers: rule ids as numbers, and a withheld post whose author X left
    out of `includes.users`. Both used to be dead-lettered."""
    payload = x_payload(5)
    payload["matching_rules"] = [{"id": 1_800_000_000_000_000_001, "tag": "brand:Orbital"}]
    assert parse_stream_payload(json.dumps(payload)).rule_tags == ("brand:Orbital",)
    payload["includes"]["users"] = []
    post = parse_stream_payload(json.dumps(payload))
    assert post.author.id == payload["data"]["author_id"]
    assert not post.author.known and post.author.username == ""
    assert post.text == payload["data"]["text"]


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b"\xff\xfe", b'{"data": 3}'])
def test_garbage_is_invalid_payload(raw: bytes) -> None:
    with pytest.raises(InvalidPayload, match="invalid X post payload"):
        parse_stream_payload(raw)


def test_dead_letter_round_trips_bytes_and_has_stable_id() -> None:
    dl = DeadLetter(
        stage="process",
        source="kafka",
        reason="bad",
        payload=b"\x00\xffabc",
        topic="tweets.raw",
        partition=1,
        offset=42,
    )
    again = DeadLetter.from_json(dl.model_dump_json())
    assert again.payload == b"\x00\xffabc" and again.offset == 42
    assert again.id == dl.id
    assert (
        DeadLetter(
            stage="process",
            source="kafka",
            reason="other reason",
            payload=b"x",
            topic="tweets.raw",
            partition=1,
            offset=43,
        ).id
        != dl.id
    )


def test_dead_letter_of_a_huge_record_keeps_its_first_bytes_and_says_so() -> None:
    huge = b"x" * (MAX_DEAD_LETTER_PAYLOAD + 10)
    dl = DeadLetter(stage="ingest", source="replay:f:1", reason="invalid", payload=huge)
    assert dl.payload == huge[:MAX_DEAD_LETTER_PAYLOAD]
    assert (
        dl.reason
        == f"invalid (payload cut to its first {MAX_DEAD_LETTER_PAYLOAD} of {len(huge)} bytes)"
    )
    assert len(dl.model_dump_json()) < 1_000_000  # fits a Kafka record (default limit)
    assert DeadLetter.from_json(dl.model_dump_json()) == dl


def test_enriched_post_refuses_unknown_labels() -> None:
    post = parse_stream_payload(json.dumps(x_payload(9)))
    base = {**post.model_dump(), "lang": "en", "sentiment_score": 0.1, "sentiment_confidence": 0.5}
    with pytest.raises(ValueError, match="sentiment"):
        EnrichedPost.model_validate({**base, "sentiment": "angry"})
    with pytest.raises(ValueError, match="sentiment_score"):
        EnrichedPost.model_validate({**base, "sentiment": "neutral", "sentiment_score": 3})


OBSERVATION_FIELDS = [
    "entry",
    "minute",
    "negative",
    "terms",
    "post_id",
    "author",
    "text",
    "engagement",
    "partition",
]
"""The JSON fields of an observations-topic record (a wire format: keep them)."""


def test_observation_round_trips_through_its_json() -> None:
    ob = Observation(
        entry="Nimbus Télécom",
        minute=29_500_000,
        negative=True,
        terms=("panne", "#réseau"),
        post_id="1234",
        author="someone",
        text="ça ne marche toujours pas",
        engagement=7,
        partition=3,
    )
    value = ob.model_dump_json().encode()
    assert list(json.loads(value)) == OBSERVATION_FIELDS
    assert "Télécom".encode() in value  # UTF-8, not \u escapes
    assert Observation.model_validate_json(value) == ob
    assert ob.key == "Nimbus Télécom".encode()


def test_observation_reads_the_json_of_earlier_workers_and_refuses_garbage() -> None:
    earlier = {
        "entry": "Orbital Telecom",
        "minute": 29_500_001,
        "negative": False,
        "terms": ["forfait"],
        "post_id": "99",
        "author": "a",
        "text": "forfait",
        "engagement": 0,
        "partition": 0,
    }
    ob = Observation.model_validate_json(json.dumps(earlier, ensure_ascii=False))
    assert ob.terms == ("forfait",) and ob.model_dump(mode="json") == earlier
    for bad in (
        b"{not json",
        b'{"minute": 1, "negative": true}',
        b'{"entry": "x", "minute": 1, "negative": true, "extra": 1}',
    ):
        with pytest.raises(ValueError):  # what the crisis agent catches, logs and skips
            Observation.model_validate_json(bad)


@pytest.mark.parametrize(
    "raw", ['{"a":' * 100_000 + "1" + "}" * 100_000, "[1, 2]", '"text"', "{oops"]
)
def test_a_dead_letter_from_anything_else_is_a_value_error(raw: str) -> None:
    """One such record on the dead-letter topic used to crash-loop the sink (RecursionError,
    AttributeError): now it is a ValueError, which the sink dead-letters as malformed."""
    with pytest.raises(ValueError):
        DeadLetter.from_json(raw)


def test_entity_lists_are_bounded_not_refused() -> None:
    from veille.models.base import MAX_ENTITIES, MAX_URL_CHARS

    payload = x_payload(5)
    payload["data"]["entities"] = {
        "hashtags": [{"tag": f"t{i}"} for i in range(500)],
        "urls": [{"url": "https://t.co/x", "expanded_url": "https://e.x/" + "a" * 10_000}] * 300,
    }
    post = parse_stream_payload(json.dumps(payload))
    assert len(post.hashtags) == MAX_ENTITIES and post.hashtags[0] == "t0"
    assert len(post.urls) == MAX_ENTITIES and all(len(u) == MAX_URL_CHARS for u in post.urls)
