"""A post's row: its kind and the ids it refers to, from its references."""

from __future__ import annotations

from factories import make_enriched

from sinks.rows import POST_COLUMNS, post_row
from veille.models import Reference


def _row(*refs: tuple[str, str]) -> dict[str, object]:
    post = make_enriched(7, "Orbital")
    post = post.model_copy(update={"references": tuple(Reference(type=t, id=i) for t, i in refs)})
    return dict(zip(POST_COLUMNS, post_row(post), strict=True))


def test_kind_and_reference_ids_follow_the_first_reference_of_each_type() -> None:
    plain = _row()
    assert plain["kind"] == "post"
    assert (plain["replied_to_id"], plain["quoted_id"], plain["retweeted_id"]) == (0, 0, 0)
    reply_quoting = _row(("replied_to", "11"), ("quoted", "12"), ("quoted", "13"))
    assert reply_quoting["kind"] == "quote"  # a quote before a reply, a retweet before both
    assert (reply_quoting["replied_to_id"], reply_quoting["quoted_id"]) == (11, 12)
    retweet = _row(("quoted", "21"), ("retweeted", "22"))
    assert retweet["kind"] == "retweet" and retweet["retweeted_id"] == 22
    assert _row(("replied_to", "31"))["kind"] == "reply"
