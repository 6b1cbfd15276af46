"""`.env.example` lists every setting of every settings class, and nothing else."""

from __future__ import annotations

from factories import REPO

from veille.settings import ClickHouseSettings, KafkaSettings, VeilleSettings, XSettings


def test_env_example_lists_every_setting() -> None:
    listed = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    expected = set()
    for cls in (KafkaSettings, ClickHouseSettings, XSettings, VeilleSettings):
        prefix = cls.model_config["env_prefix"]
        expected |= {f"{prefix}{name}".upper() for name in cls.model_fields}
    assert listed == expected


def test_every_named_query_is_documented_with_an_example() -> None:
    from sinks import queries

    doc = (REPO / "docs" / "queries.md").read_text()
    for q in queries.available().values():
        assert q.examples and q.description, q.name
        assert f"## `{q.name}`" in doc and q.examples[0] in doc, q.name
