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
