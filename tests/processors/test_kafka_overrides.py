"""Where the processors depart from Faust's Kafka clients: each departure does what it says."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from types import SimpleNamespace

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree

from processors import kafka_overrides


def test_a_skipped_offset_range_is_warned_about_counted_and_still_acknowledged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kafka_overrides.report_gaps()
    kafka_overrides.report_gaps()  # idempotent: one warning per gap, not two
    tp = TP("veille.observations", 1)
    consumer = SimpleNamespace(_committed_offset={tp: 99}, _gap=defaultdict(IntervalTree))
    before = kafka_overrides.gaps[tp.topic]
    with caplog.at_level(logging.WARNING, logger="processors.kafka_overrides"):
        # Faust read offset 100, then a fetch handed over 154: 101-153 never came
        asyncio.run(Consumer._add_gap(consumer, tp, 101, 154))  # type: ignore[arg-type]
    assert kafka_overrides.gaps[tp.topic] - before == 53
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "offsets 101-153 of veille.observations[1] were never fetched: the broker skipped them"
    ]
    # Faust's own behaviour is kept: the range is marked so that commits can pass it
    assert consumer._gap[tp].overlaps(101, 155)
