"""Hypothesis strategies of bad records for each entry point of the pipeline, built from good
ones: truncated JSON, invalid UTF-8, missing required fields, wrong types, out-of-range numbers,
invalid values, unknown fields, huge texts, JSON that is not a post, binary garbage.

Each mutation is bad by construction, whatever the stage's parser (a value pydantic would
coerce, such as "7" for an integer, is never used as a wrong type). `Route` describes one entry
point: the X payloads `veille ingest` reads, the posts `veille process` reads from the raw
topic, the enriched posts `veille sink` reads.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from string import ascii_letters
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]

NOT_STR: list[Any] = [None, 7, 1.5, True, [], {}, ["x"], {"x": 1}]
NOT_ID: list[Any] = [v for v in NOT_STR if type(v) is not int]  # X ids as integers are taken
NOT_INT: list[Any] = [None, "many", "", 1.5, [], {}, [1], {"n": 1}]
NOT_DATE: list[Any] = [
    None,
    True,
    [],
    {},
    "yesterday",
    "2026-13-45T99:00:00Z",
    "2026-11-20T09:00:00",
]
NOT_OBJECT: list[Any] = [None, 1, "x", True, [], [{}]]
NOT_LIST: list[Any] = [None, 1, "x", {"a": 1}]
BAD_IDS = ["0", "-1", "abc", "12345678901234567890", "1e5", " 12", ""]
TOO_BIG = [2**64, 2**64 + 1, 10**20, 10**40, -1, -(2**63)]
INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80"]
MAX_TEXT = 25_000  # X's longest post: one more character is not a post


@dataclass(frozen=True)
class Route:
    """An entry point: its good documents and what makes one bad."""

    bases: tuple[dict[str, Any], ...]
    required: tuple[Path, ...]
    wrong: dict[Path, list[Any]]
    text: tuple[Path, ...]  # where the post's text is (all set when making it huge)
    closed: tuple[Path, ...] = ()  # objects that refuse unknown fields
    drop_for_text: tuple[Path, ...] = ()  # removed when the text is made huge
    raw_ok: bool = True  # whether values outside JSON (empty, binary, newlines) can be sent


def _get(doc: Any, path: Path) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node: Any = doc
    for part in path[:-1]:
        if isinstance(node, dict) and not isinstance(node.get(part), dict | list):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return doc


def _delete(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    parent = _get(doc, path[:-1])
    del parent[path[-1]]
    return doc


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


Strategy = st.SearchStrategy


@st.composite
def _truncated(draw: st.DrawFn, base: Strategy[dict[str, Any]]) -> bytes:
    raw = _dump(draw(base))
    return raw[: draw(st.integers(1, len(raw) - 1))]


@st.composite
def _invalid_utf8(draw: st.DrawFn, base: Strategy[dict[str, Any]]) -> bytes:
    raw = _dump(draw(base))
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + draw(st.sampled_from(INVALID_UTF8)) + raw[at:]


@st.composite
def _missing(draw: st.DrawFn, base: Strategy[dict[str, Any]], paths: Strategy[Path]) -> bytes:
    return _dump(_delete(draw(base), draw(paths)))


@st.composite
def _wrong(
    draw: st.DrawFn, base: Strategy[dict[str, Any]], values: Strategy[tuple[Path, Any]]
) -> bytes:
    path, value = draw(values)
    return _dump(_set(draw(base), path, value))


@st.composite
def _unknown_field(draw: st.DrawFn, base: Strategy[dict[str, Any]], where: Strategy[Path]) -> bytes:
    doc, at = draw(base), draw(where)
    name = draw(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
    if name in _get(doc, at):
        name += "_unknown"
    return _dump(_set(doc, (*at, name), draw(st.sampled_from([1, "x", None, {}]))))


@st.composite
def _huge_text(
    draw: st.DrawFn,
    base: Strategy[dict[str, Any]],
    route: Route,
    units: Strategy[str],
    sizes: Strategy[int],
) -> bytes:
    doc = draw(base)
    unit, size = draw(units), draw(sizes)
    text = (unit * (size // len(unit) + 1))[:size]
    for path in route.drop_for_text:
        if path[-1] in _get(doc, path[:-1]):
            doc = _delete(doc, path)
    for path in route.text:
        doc = _set(doc, path, text)
    return _dump(doc)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@st.composite
def _one_in(draw: st.DrawFn, n: int, rare: Strategy[bytes], common: Strategy[bytes]) -> bytes:
    return draw(rare) if draw(st.integers(1, n)) == 1 else draw(common)


def bad(route: Route) -> Strategy[bytes]:
    """One bad record for `route`, as the bytes a stage receives. A huge text (up to four times
    the longest X post) is asked for one time in fifty; Hypothesis favours that branch, so about
    3% of the records have one, which is as many as the broker's memory should hold."""
    base = st.sampled_from(route.bases)
    wrong = [(path, v) for path, values in sorted(route.wrong.items(), key=str) for v in values]
    kinds = [
        _truncated(base),
        _invalid_utf8(base),
        _missing(base, st.sampled_from(route.required)),
        _wrong(base, st.sampled_from(wrong)),
        _json.map(_dump),  # JSON, but not a post
    ]
    if route.closed:
        kinds.append(_unknown_field(base, st.sampled_from(route.closed)))
    if route.raw_ok:
        kinds += [st.just(b""), st.binary(min_size=1, max_size=400)]
    else:  # a line of a file: no line breaks, not blank
        kinds.append(st.binary(min_size=1, max_size=400).map(_one_line).filter(bytes.strip))
    huge = _huge_text(
        base,
        route,
        st.text(min_size=1, max_size=8).filter(str.strip),
        st.integers(MAX_TEXT + 1, 4 * MAX_TEXT),
    )
    return _one_in(50, huge, st.one_of(kinds))


def near_limit(route: Route) -> Strategy[bytes]:
    """A post whose text makes it 0.6 to 0.9 MB, close to Kafka's default limit on a record
    (1 MB): too big to be wrapped whole in a dead letter."""
    base = st.sampled_from(route.bases)
    return _huge_text(
        base, route, st.text(ascii_letters, min_size=1), st.integers(600_000, 900_000)
    )


def _one_line(raw: bytes) -> bytes:
    return raw.replace(b"\n", b"?").replace(b"\r", b"?")


# -- the three entry points -------------------------------------------------------------


def x_route(payloads: list[bytes]) -> Route:
    """X API v2 payloads, as `veille ingest` reads them (a replayed file: one per line)."""
    bases = tuple(_author_first(json.loads(p)) for p in payloads)
    user = ("includes", "users", 0)  # the author
    return Route(
        bases=bases,
        required=(
            ("data",),
            ("data", "id"),
            ("data", "text"),
            ("data", "created_at"),
            ("data", "author_id"),
            # without `includes` or its users the post is kept, its author unknown
            (*user, "id"),
            (*user, "username"),
        ),
        wrong={
            ("data",): NOT_OBJECT,
            ("data", "id"): NOT_ID + BAD_IDS,
            ("data", "text"): NOT_STR,
            ("data", "created_at"): NOT_DATE,
            ("data", "author_id"): NOT_ID,
            ("data", "referenced_tweets"): [*NOT_LIST, [{"type": "liked", "id": "12"}]],
            ("data", "public_metrics"): NOT_OBJECT,
            ("data", "public_metrics", "like_count"): NOT_INT + TOO_BIG,
            ("data", "public_metrics", "impression_count"): NOT_INT + TOO_BIG,
            ("includes",): NOT_OBJECT,
            ("includes", "users"): NOT_LIST,
            (*user, "username"): [*NOT_STR, "not a handle", "x" * 51],
            (*user, "verified_type"): [*NOT_STR, "gold"],
            (*user, "public_metrics", "followers_count"): NOT_INT + TOO_BIG,
            (*user, "public_metrics", "tweet_count"): NOT_INT + TOO_BIG,
        },
        text=(("data", "text"),),
        drop_for_text=(("data", "note_tweet"),),
        raw_ok=False,
    )


def _author_first(payload: dict[str, Any]) -> dict[str, Any]:
    users = payload["includes"]["users"]
    users.sort(key=lambda u: u["id"] != payload["data"]["author_id"])
    return payload


POST_REQUIRED: tuple[Path, ...] = (
    ("id",),
    ("text",),
    ("created_at",),
    ("author",),
    ("author", "id"),
    ("author", "username"),
)


def post_route(posts: list[dict[str, Any]]) -> Route:
    """Posts (`Post` JSON), as `veille process` reads them from the raw topic."""
    return Route(
        bases=tuple(posts),
        required=POST_REQUIRED,
        wrong=_post_wrong(),
        text=(("text",),),
        closed=((), ("author",), ("metrics",)),
    )


def enriched_route(posts: list[dict[str, Any]]) -> Route:
    """Enriched posts (`EnrichedPost` JSON), as `veille sink` reads them."""
    return Route(
        bases=tuple(posts),
        required=(
            *POST_REQUIRED,
            ("lang",),
            ("sentiment",),
            ("sentiment_score",),
            ("sentiment_confidence",),
        ),
        wrong={
            **_post_wrong(),
            ("lang",): NOT_STR,
            ("sentiment",): [*NOT_STR, "angry", "NEGATIVE"],
            ("sentiment_score",): [None, "high", [], 1.5, -2, 10**30],
            ("sentiment_confidence",): [None, "sure", {}, 1.01, -0.5],
            ("intent",): [*NOT_STR, "rant"],
            ("entry_kinds",): [*NOT_LIST, ["friend"], [1]],
            ("topics",): [*NOT_LIST, [None], [[]]],
        },
        text=(("text",),),
        closed=((), ("author",), ("metrics",)),
    )


def _post_wrong() -> dict[Path, list[Any]]:
    return {
        ("id",): NOT_STR + BAD_IDS,
        ("text",): NOT_STR,
        ("created_at",): NOT_DATE,
        ("author",): NOT_OBJECT,
        ("author", "id"): NOT_STR + BAD_IDS,
        ("author", "username"): [*NOT_STR, "not a handle", "x" * 51],
        ("author", "followers_count"): NOT_INT + TOO_BIG,
        ("metrics",): NOT_OBJECT,
        ("metrics", "like_count"): NOT_INT + TOO_BIG,
        ("metrics", "retweet_count"): NOT_INT + TOO_BIG,
        ("references",): [*NOT_LIST, [{"type": "liked", "id": "12"}]],
        ("hashtags",): [*NOT_LIST, [1], [None]],
        ("received_at",): NOT_DATE,
    }
