"""`.env.example` lists every setting of every settings class, and nothing else — except, in its
last section, the variables only docker compose reads (documented, and used by
docker-compose.yml)."""

from __future__ import annotations

import re

from factories import REPO

from veille.settings import COMPONENTS

# The line that opens the docker compose section; everything after it is compose-only.
COMPOSE_SECTION = "# === docker compose only"


def _sections() -> tuple[list[str], list[str]]:
    lines = (REPO / ".env.example").read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(COMPOSE_SECTION)]
    assert len(starts) == 1, f"one {COMPOSE_SECTION!r} line expected in .env.example"
    return lines[: starts[0]], lines[starts[0] :]


def _names(lines: list[str]) -> list[str]:
    return [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]


def test_env_example_lists_every_setting() -> None:
    settings_part, _ = _sections()
    listed = set(_names(settings_part))
    expected = set()
    for cls in COMPONENTS:
        prefix = cls.model_config["env_prefix"]
        expected |= {f"{prefix}{name}".upper() for name in cls.model_fields}
    assert listed == expected


def test_compose_only_variables_are_documented_and_used() -> None:
    settings_part, compose_part = _sections()
    compose_file = (REPO / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", compose_file))
    names = _names(compose_part)
    assert names, "the docker compose section lists no variable"
    assert not set(names) & set(_names(settings_part)), "listed in both sections"
    for i, line in enumerate(compose_part):
        if not line or line.startswith("#"):
            continue
        name = line.split("=", 1)[0]
        assert compose_part[i - 1].startswith("# ") and len(compose_part[i - 1]) > 4, (
            f"{name}: no comment line explaining it right above"
        )
        assert name in used, f"{name} is not used by docker-compose.yml"


def test_every_named_query_is_documented_with_an_example() -> None:
    from sinks import queries

    doc = (REPO / "docs" / "queries.md").read_text()
    for q in queries.available().values():
        assert q.examples and q.description, q.name
        assert f"## `{q.name}`" in doc and q.examples[0] in doc, q.name
