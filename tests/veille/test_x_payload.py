"""The fast way of `parse_stream_payload` (orjson and plain checks) against the reference (the
pydantic wire models, then `Post.model_validate`): the same Post for every good payload, the same
error for every bad one, the same record bytes; and the fast way really taken for good ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from factories import x_payload
from faults.payloads import bad, x_route
from hypothesis import HealthCheck, Phase, given, seed, settings

from ingest import synthetic
from ingest.synthetic import SCENARIOS, SyntheticSource
from veille import watch as watch_module
from veille.models import InvalidPayload, Post, parse_stream_payload
from veille.models.x_payload import (
    _fast_fields,
    _validated_post,
    parse_stream_record,
    post_json,
)
from veille.watch import load_watch

SAMPLE = Path(synthetic.__file__).parents[1] / "samples" / "sample.ndjson"
RECEIVED = datetime(2026, 12, 1, 8, 30, 15, 250000, tzinfo=UTC)
FUZZ = 3000


def _synthetic() -> list[bytes]:
    watch = load_watch(Path(watch_module.__file__).parent.parent / "data" / "watch.yaml")
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    out: list[bytes] = []
    for n, name in enumerate(SCENARIOS):  # every kind of post, events included
        src = SyntheticSource(watch, rate=None, seed=n, start_time=start, scenario=name)
        out += src.generate(800)
    return out


@pytest.fixture(scope="module")
def good() -> list[bytes]:
    sample = [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]
    return sample + _synthetic()


def _verdict(parse: Any, raw: Any) -> Post | str:
    try:
        return parse(raw)  # type: ignore[no-any-return]
    except InvalidPayload as e:
        return f"refused: {e}"


def _same_as_reference(raw: bytes | str | dict[str, Any]) -> Post | str:
    """Checks both ways agree on `raw`; returns the verdict."""
    fast = _verdict(lambda r: parse_stream_payload(r, source="t", received_at=RECEIVED), raw)
    ref = _verdict(lambda r: _validated_post(r, "t", RECEIVED), raw)
    assert fast == ref
    if isinstance(ref, Post):
        assert isinstance(fast, Post) and fast.__dict__ == ref.__dict__
        assert post_json(fast) == post_json(ref) == ref.model_dump_json().encode()
    if not isinstance(raw, dict):
        record = _verdict(lambda r: parse_stream_record(r, source="t"), raw)
        if isinstance(ref, str):
            assert record == ref
        else:
            key, value = record  # type: ignore[misc]
            expected = ref.model_dump_json().encode()
            cut = expected.rindex(b',"received_at":')  # the last field; `now` in a record
            assert key == ref.key and value[:cut] == expected[:cut]
            assert value[cut:].startswith(b',"received_at":"') and value.endswith(b'Z"}')
    return ref


def test_good_payloads_take_the_fast_way_to_the_reference_post(good: list[bytes]) -> None:
    assert len(good) > 4000
    for raw in good:
        _fast_fields(orjson.loads(raw), "t", RECEIVED)  # never left to the reference
        assert isinstance(_same_as_reference(raw), Post)
        assert isinstance(_same_as_reference(raw.decode()), Post)
    for raw in good[:200]:
        assert isinstance(_same_as_reference(json.loads(raw)), Post)


def test_the_records_are_the_posts_json(good: list[bytes]) -> None:
    for raw in good[:500]:
        key, value = parse_stream_record(raw, source="synthetic")
        post = Post.model_validate_json(value)
        assert key == post.key
        assert post == parse_stream_payload(raw, source="synthetic", received_at=post.received_at)


def _fuzzed(bases: list[bytes], n: int) -> list[bytes]:
    out: list[bytes] = []

    @seed(20261120)
    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(bad(x_route(bases)))
    def collect(value: bytes) -> None:
        out.append(value)

    collect()
    return out


def test_fuzzed_payloads_get_the_reference_verdict(good: list[bytes]) -> None:
    """Hypothesis' bad payloads (those of tests/faults): refused with the reference's reason, or
    (a mutation that leaves a valid post, such as a wrong type in an ignored place) read alike."""
    verdicts = [_same_as_reference(raw) for raw in _fuzzed(good[40:100], FUZZ)]
    refused = [v for v in verdicts if isinstance(v, str)]
    assert len(refused) > 0.9 * FUZZ
    assert all(v.startswith("refused: invalid X post payload: ") for v in refused)


def _doc(**data: Any) -> dict[str, Any]:
    doc = x_payload(1860000000000000001, **data)
    doc["includes"]["users"].append({"id": "42", "username": "orbital", "name": "Orbital"})
    return doc


@pytest.mark.parametrize(
    "change",
    [
        # valid, but not in the shapes the fast way is sure of: the reference reads them
        lambda d: d["data"].update(created_at="2026-11-20T09:00:00+01:00"),
        lambda d: d["data"].update(created_at=1_790_000_000),
        lambda d: d["data"].update(public_metrics={"like_count": 3.0}),
        lambda d: d["includes"]["users"][1].update(verified=1),
        lambda d: d["includes"]["users"][1].update(created_at="2020-01-01"),
        lambda d: d["includes"]["users"][1].update(public_metrics={"followers_count": 10**30}),
        # valid, the fast way: long lists bounded and cut, numbers for ids, what X may omit
        lambda d: d.update(matching_rules=[{"id": 15, "tag": "t" * 400}] * 150),
        lambda d: d["data"].update(entities={"hashtags": [{"tag": "h" * 300}] * 120}),
        lambda d: d["data"].update(id=1860000000000000001, conversation_id=7),
        lambda d: d["data"].update(in_reply_to_user_id="42"),
        lambda d: d["includes"].update(tweets=[{"id": "9", "author_id": 42}]),
        lambda d: d.update(includes={}),
        lambda d: d.update(extra=[[[[{"deep": None}]]]]),
        # what only the post's author must be: refused for the author, not for another user
        lambda d: d["includes"]["users"][0].update(username="not a handle"),
        lambda d: d["includes"]["users"][0].update(name="n" * 201),
        lambda d: d["includes"]["users"][0]["public_metrics"].update(listed_count=-1),
        lambda d: d["includes"]["users"][1].update(username="not a handle", name="n" * 201),
        # refused
        lambda d: d["data"].update(note_tweet={"text": "x" * 25_001}),
        lambda d: d["data"].update(referenced_tweets=[{"type": "quoted", "id": "0"}]),
        lambda d: d["data"].update(public_metrics={"like_count": 1, "views": 2}),
    ],
)
def test_edges_get_the_reference_verdict(change: Any) -> None:
    doc = _doc(referenced_tweets=[{"type": "replied_to", "id": "9"}])
    change(doc)
    raw = json.dumps(doc).encode()
    _same_as_reference(raw)
    _same_as_reference(doc)


def test_json_nested_deeper_than_the_reference_reads_is_refused_alike() -> None:
    deep = json.dumps(x_payload(5))[:-1] + ', "x": ' + "[" * 300 + "]" * 300 + "}"
    verdict = _same_as_reference(deep.encode())
    assert isinstance(verdict, str) and "recursion limit" in verdict


def test_received_at_is_the_reference_s() -> None:
    raw = json.dumps(x_payload(5)).encode()
    with pytest.raises(InvalidPayload, match="received_at"):
        parse_stream_payload(raw, received_at=datetime(2026, 1, 1))
    paris = datetime.fromisoformat("2026-01-01T10:00:00+01:00")
    assert parse_stream_payload(raw, received_at=paris).received_at == paris
    assert parse_stream_payload(raw, received_at=paris).received_at.tzinfo is UTC
