"""Small builders of valid posts for tests (X payloads, parsed posts, enriched posts), shared
examples (texts of obvious sentiment) and stand-ins (a transformers tokenizer and model)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from veille.models import EnrichedPost, Post, parse_stream_payload

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "ingest" / "samples" / "sample.ndjson"


def x_payload(
    post_id: int,
    text: str = "Hello @orbital_care",
    *,
    created_at: datetime | None = None,
    author_id: str = "1001",
    username: str = "someone",
    lang: str = "en",
    **data: Any,
) -> dict[str, Any]:
    """A minimal valid X API v2 stream payload."""
    created = created_at or datetime(2026, 11, 20, 9, 0, tzinfo=UTC) + timedelta(
        seconds=post_id % 86_400
    )
    return {
        "data": {
            "id": str(post_id),
            "text": text,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "author_id": author_id,
            "lang": lang,
            **({"conversation_id": str(post_id)} | data),
        },
        "includes": {
            "users": [
                {
                    "id": author_id,
                    "username": username,
                    "name": username.title(),
                    "public_metrics": {
                        "followers_count": 120,
                        "following_count": 80,
                        "tweet_count": 900,
                    },
                }
            ]
        },
        "matching_rules": [{"id": "1", "tag": "brand:Orbital Telecom"}],
    }


def make_post(post_id: int, text: str = "Hello @orbital_care", **kw: Any) -> Post:
    return parse_stream_payload(json.dumps(x_payload(post_id, text, **kw)), source="test")


def make_enriched(
    post_id: int,
    text: str = "Hello @orbital_care",
    *,
    entries: tuple[str, ...] = ("Orbital Telecom",),
    kinds: tuple[str, ...] = ("brand",),
    topics: tuple[str, ...] = (),
    sentiment: str = "neutral",
    lang: str = "en",
    intent: str = "other",
    author_entry: str = "",
    addressed: tuple[str, ...] = (),
    **kw: Any,
) -> EnrichedPost:
    post = make_post(post_id, text, **kw)
    return EnrichedPost.model_validate(
        {
            **post.model_dump(),
            "lang": lang,
            "sentiment": sentiment,
            "sentiment_score": 0.0,
            "sentiment_confidence": 0.6,
            "topics": topics,
            "intent": intent,
            "entries": entries,
            "entry_kinds": kinds,
            "author_entry": author_entry,
            "addressed": addressed,
        }
    )


INSTALL_TOOLS = "sudo apt-get install --no-install-recommends chromium docker-compose"
"""How to install the Debian packages some tests run (`make test` as root installs them)."""


def in_ci() -> bool:
    """Whether `CI` is set (to anything but empty, 0 or false), as CI services set it."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def require_tool(*names: str) -> str:
    """The path of the first of `names` on PATH.

    When none is there the calling test (or fixture) skips, its reason naming the tool and how
    to install it; with `CI` set it fails instead, since CI must run every test.
    """
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    reason = (
        f"{names[0]} is not installed: install it with `{INSTALL_TOOLS}` (`make test` as root does)"
    )
    if in_ci():
        pytest.fail(f"{reason}; CI is set, so this test may not skip")
    pytest.skip(reason)


def run_veille(
    *args: str, stdin: str | None = None, timeout: float = 240, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `veille` command line as a user would, without the caller's veille settings."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(env),
    )


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without veille's settings (`KAFKA_`, `CLICKHOUSE_`,
    `VEILLE_`), plus `extra`: what a user's fresh shell would give a `veille` command."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_", "CLICKHOUSE_", "VEILLE_"))
    }
    return {**clean, **(extra or {})}


# Texts whose sentiment no usable model gets wrong: (text, language, label).
OBVIOUS_SENTIMENT = [
    ("I love this, thank you so much!", "en", "positive"),
    ("This is the worst service ever, I hate it", "en", "negative"),
    ("C'est nul, je suis furieux", "fr", "negative"),
    ("Merci beaucoup, super service, j'adore !", "fr", "positive"),
    ("El servicio es horrible", "es", "negative"),
    ("Me encanta, muchas gracias!", "es", "positive"),
    ("Das ist eine Katastrophe, ich bin so wütend", "de", "negative"),
    ("Das ist wunderbar, vielen Dank!", "de", "positive"),
    ("Adoro questo, grazie mille!", "it", "positive"),
    ("Que merda, péssimo atendimento", "pt", "negative"),
]


# A stand-in for a transformers tokenizer and sequence-classification model, following the call
# conventions the `transformer` sentiment backend relies on: the tokenizer is called on a batch
# with padding and truncation, the model on its output, which has `.logits`; `config.id2label`
# names the outputs. The logits favour the label a keyword of the text names (else neutral).
STAND_IN_WORDS = {"awful": "negative", "fine": "neutral", "great": "positive"}


class StandInTokenizer:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str], **kwargs: Any) -> dict[str, Any]:
        assert kwargs["padding"] and kwargs["truncation"] and kwargs["max_length"] > 0
        self.batches.append(list(texts))
        return {"texts": list(texts)}


class StandInModel:
    """Logits favour the label a keyword of the text names (else neutral), in id2label order."""

    def __init__(self, id2label: dict[int, str]) -> None:
        self.config = SimpleNamespace(id2label=id2label)
        self.by_name = {name.lower()[:3]: i for i, name in id2label.items()}

    def __call__(self, texts: list[str]) -> SimpleNamespace:
        logits = np.zeros((len(texts), 3))
        logits[:, self.by_name["neu"]] = 1.0  # no keyword: neutral
        for row, text in enumerate(texts):
            for word, label in STAND_IN_WORDS.items():
                if word in text:
                    logits[row, self.by_name[label[:3]]] = 3.0
        return SimpleNamespace(logits=logits)
