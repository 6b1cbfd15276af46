"""The naive Faust reference: the same enrichment, one event at a time, the usual way.

One agent, `async for value in stream:` — parse the post, `Enricher.enrich([post])`, serialize,
`await topic.send(...)` — as most Faust agents are written. The App and the worker are veille's
own (`processors.worker.build` and `run`: same broker settings, acks, compression, linger), with
this agent declared instead of veille's (`agents=`), under its own application id (consumer
group) and output topic, so it reads the raw topic alongside anyone else. It does enrichment
only: no alert agents, no dead-letter topic.

The clock starts when the first event reaches the agent (after the group join and Faust's
start, which this does not measure) and stops when the producer has flushed the `count`-th
enriched post. The result is written, atomically, to `--result` as one JSON object
(`posts`, `seconds`, `posts_per_s`, `cpu_s` of this process in the window, `peak_rss_mb`);
the agent then skips what else it reads until the worker is stopped (SIGTERM): whoever
started it stops it.

Run as its own process: `python -m pipeline.bench.naive_faust --source T --out T2
--group G --count N --result FILE` with `KAFKA_BOOTSTRAP_SERVERS` set.
"""

from __future__ import annotations

import json
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.bench.procfs import own_figures, reference_parser

if TYPE_CHECKING:
    import faust

    from processors.enrich.enricher import Enricher


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def naive_agent(
    app: faust.App, enricher: Enricher, *, source: str, out: str, count: int, result: Path
) -> None:
    """Declare the naive agent on `app`: enrich the first `count` posts of `source` one event
    at a time into `out`, then write the figures to `result` (see the module docstring)."""
    from veille.models import Post

    raw = app.topic(source, value_serializer="raw", key_serializer="raw")
    out_topic = app.topic(out, value_serializer="raw", key_serializer="raw")
    state: dict[str, Any] = {"n": 0, "t0": None, "cpu0": 0.0}

    @app.agent(raw, name="bench.naive_enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            if state["n"] >= count:
                continue  # done: skip (and acknowledge) the rest until stopped
            if state["t0"] is None:
                state["t0"], state["cpu0"] = time.perf_counter(), time.process_time()
            post = Post.model_validate_json(value)
            enriched = enricher.enrich([post])[0]
            await out_topic.send(key=post.key, value=enriched.model_dump_json().encode())
            state["n"] += 1
            if state["n"] == count:
                await app.producer.flush()
                seconds = time.perf_counter() - state["t0"]
                cpu = time.process_time() - state["cpu0"]
                _write(
                    result,
                    own_figures("posts", "posts_per_s", count, seconds, cpu),
                )


def main(argv: list[str] | None = None) -> int:
    parser = reference_parser(__doc__ or "")
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--sentiment", default=None)
    a = parser.parse_args(argv)

    from pipeline.cli.common import settings, setup_logging, watch_config
    from processors.enrich.enricher import Enricher
    from processors.worker import build, run

    setup_logging()
    s = settings()
    state_dir = a.result.parent / a.group  # Faust's datadir goes under it
    state_dir.mkdir(parents=True, exist_ok=True)
    s.veille = s.veille.model_copy(update={"data_dir": state_dir})
    s.process = s.process.model_copy(update={"group": a.group})
    enricher = Enricher(watch_config(s), a.sentiment or s.sentiment.backend).load()
    topology = build(
        s,
        enricher,
        agents=partial(naive_agent, source=a.source, out=a.out, count=a.count, result=a.result),
    )
    run(topology, loglevel="warn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
