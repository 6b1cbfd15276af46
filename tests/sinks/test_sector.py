"""Sector items downstream: their own entry kind, never counted as a competitor."""

from __future__ import annotations

from typing import Any

from factories import make_enriched

from sinks import queries
from sinks.clickhouse import ClickHouseSink
from veille.settings import ClickHouseSettings


def test_sector_posts_have_their_kind_and_stay_out_of_share_of_voice(
    ch: Any, clickhouse: ClickHouseSettings
) -> None:
    sink = ClickHouseSink(clickhouse, client=ch)
    sink.start()
    about = [
        (("Orbital Telecom",), ("brand",)),
        (("Nimbus Télécom",), ("competitor",)),
        (("Telecom market",), ("sector",)),
        (("Telecom market",), ("sector",)),
        (("Orbital Telecom", "Telecom market"), ("brand", "sector")),
    ]
    for i, (entries, kinds) in enumerate(about, 1):
        sink.add(make_enriched(i, f"post {i}", entries=entries, kinds=kinds, sentiment="negative"))
    sink.flush()

    columns, sov = queries.run(ch, "share_of_voice")
    rows = {r[0]: dict(zip(columns, r, strict=True)) for r in sov}
    assert set(rows) == {"Orbital Telecom", "Nimbus Télécom"}
    assert rows["Orbital Telecom"]["posts"] == 2 and rows["Nimbus Télécom"]["posts"] == 1
    _, sector = queries.run(ch, "sentiment_by_brand", {"kind": "sector"})
    assert [(r[0], r[1], r[2]) for r in sector] == [("Telecom market", "sector", 3)]
    _, competitors = queries.run(ch, "sentiment_by_brand", {"kind": "competitor"})
    assert [r[0] for r in competitors] == ["Nimbus Télécom"]
