"""`veille bench ...`: throughput figures to compare within one run (never timed in tests)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.common import WATCH_HELP, errors, out_console, settings, watch_config

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (figures, not tests).")

# the options several benchmarks share
SeedOpt = Annotated[int, typer.Option(help="synthetic source's random seed")]
SentimentOpt = Annotated[
    str | None, typer.Option(help="sentiment backend: fast|accurate|transformer")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(help="keep the run's chDB and logs here (empty); default: a temporary one"),
]
WatchOpt = Annotated[Path | None, typer.Option(help=WATCH_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help="last line: one JSON object")]


@bench_app.command("enrich")
def bench_enrich(
    posts: Annotated[int, typer.Option(help="synthetic posts to enrich")] = 5000,
    batch: Annotated[int, typer.Option(help="posts per batch, as taken from the stream")] = 500,
    accurate_posts: Annotated[
        int, typer.Option(help="posts for the accurate sentiment backend (slow; 0 skips it)")
    ] = 200,
    watch: WatchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Posts per second on one core of each enrichment stage and sentiment backend.

    Example: veille bench enrich --posts 5000 --json
    """
    from pipeline.bench import enrich as bench

    cfg = watch_config(settings(watch=watch))
    with errors(FileNotFoundError):
        result = bench.run(cfg, posts=posts, batch=batch, accurate_posts=accurate_posts)
    table = Table(
        "stage",
        "posts/s (one core)",
        title=f"veille bench enrich: {result['posts']} posts, batches of {result['batch']}",
        title_justify="left",
    )
    for stage, rate in result["posts_per_s"].items():
        table.add_row(stage, f"{rate:,}")
    out_console().print(table)
    if json_out:
        print(json.dumps(result))


_INGEST_ROWS = (
    ("synthetic_generate", "synthetic source: generate a payload"),
    ("parse_synthetic", "parse + serialise: synthetic payloads"),
    ("parse_sample", "parse + serialise: the bundled X sample"),
    ("replay", "replay an NDJSON file + parse + serialise"),
    ("produce", "produce to Kafka (local broker), flushed"),
)


@bench_app.command("ingest")
def bench_ingest(
    posts: Annotated[int, typer.Option(help="payloads per stage")] = 20_000,
    repeat: Annotated[int, typer.Option(help="timed passes per stage (the best counts)")] = 3,
    seed: SeedOpt = 0,
    watch: WatchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """CPU per post on one core of each ingest stage: generating, parsing and serialising,
    replaying, producing to Kafka.

    Always starts its own local broker (KAFKA_BOOTSTRAP_SERVERS is ignored); the KAFKA_ producer
    settings apply. See docs/benchmarks.md.

    Example: veille bench ingest --posts 20000 --json
    """
    from pipeline.bench import ingest as bench
    from pipeline.cli.common import err_console
    from pipeline.embedded import BrokerError
    from veille.kafka import DeliveryError

    s = settings(watch=watch)
    with _sigterm_interrupts(), errors(ValueError, FileNotFoundError, BrokerError, DeliveryError):
        result = bench.run(
            s,
            watch_config(s),
            posts=posts,
            repeat=repeat,
            seed=seed,
            progress=lambda m: err_console.print(f"[dim]bench ingest:[/] {m}", highlight=False),
        )
    table = Table(
        "stage",
        "CPU µs/post",
        "posts/s (one core)",
        title=(
            f"veille bench ingest: {result['posts']} posts, best of {result['repeat']}, "
            f"{result['cores']} cores, {result['date']}"
        ),
        title_justify="left",
    )
    for key, label in _INGEST_ROWS:
        table.add_row(
            label, f"{result['us_per_post'][key]:,}", f"{result['posts_per_s_one_core'][key]:,}"
        )
    ways = result["parse_ways_us_per_post"]
    table.caption = (
        f"synthetic set-up {result['synthetic_setup_ms']} ms; produced "
        f"{result['produce_posts_per_s']:,} posts/s (wall); parse µs/post record / Post / "
        f"pydantic: synthetic {'/'.join(str(v) for v in ways['synthetic'].values())}, "
        f"sample {'/'.join(str(v) for v in ways['sample'].values())}"
    )
    table.caption_justify = "left"
    out_console().print(table)
    if json_out:
        print(json.dumps(result))


_E2E_ROWS = (
    ("posts_per_s", "pipeline posts/s (stored / (max stored_at - min received_at))"),
    ("passthrough_msgs_per_s", "pass-through msgs/s (consume + produce unchanged)"),
    ("naive_faust_posts_per_s", "naive Faust posts/s (one event at a time)"),
    ("ratio_to_passthrough", "pipeline / pass-through"),
    ("ratio_to_naive_faust", "pipeline / naive Faust"),
    ("p50_latency_s", "p50 latency s (received_at -> stored_at)"),
    ("p99_latency_s", "p99 latency s"),
    ("max_latency_s", "max latency s"),
    ("latency_source_rate", "latency run: posts/s produced by the source"),
    ("cpu_ms_per_post", "CPU ms/post, pipeline (every stage + broker)"),
    ("process_cpu_ms_per_post", "CPU ms/post, Faust process workers"),
    ("naive_faust_cpu_ms_per_post", "CPU ms/post, naive Faust worker"),
)


@bench_app.command("e2e")
def bench_e2e(
    posts: Annotated[
        int, typer.Option(help="posts through the unpaced pipeline (and the pass-through)")
    ] = 100_000,
    source: Annotated[
        str,
        typer.Option(
            help="the throughput run's source: replay (synthetic X payloads written to a file "
            "first) or synthetic (the generator in the ingest stage)"
        ),
    ] = "replay",
    rate_latency: Annotated[
        float, typer.Option(help="posts/s of the source in the latency run")
    ] = 1000.0,
    latency_seconds: Annotated[float, typer.Option(help="length of the latency run (s)")] = 20.0,
    naive_posts: Annotated[
        int, typer.Option(help="posts through the naive per-event Faust agent (slow)")
    ] = 3_000,
    seed: SeedOpt = 0,
    sentiment: SentimentOpt = None,
    data_dir: DataDirOpt = None,
    watch: WatchOpt = None,
    profile: Annotated[
        Path | None,
        typer.Option(
            help="folder for py-spy profiles of every stage of the throughput run "
            "(<stage>.txt: top functions; slows the run a little)"
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The whole pipeline on the embedded stack: sustained posts/s, latency, peak memory,
    against a raw pass-through and a naive per-event Faust agent on the same broker.

    Always starts its own local broker and chDB (KAFKA_BOOTSTRAP_SERVERS, CLICKHOUSE_URL are
    ignored); the VEILLE_ batch settings apply. About 2 minutes on 2 cores by default.
    See docs/benchmarks.md for what each figure means.

    Example: veille bench e2e --posts 100000 --rate-latency 1000 --latency-seconds 20 --json
    """
    from pipeline.bench import e2e
    from pipeline.cli.common import err_console

    s = settings(watch=watch)
    options = e2e.E2EOptions(
        posts=posts,
        source=source,
        rate_latency=rate_latency,
        latency_seconds=latency_seconds,
        naive_posts=naive_posts,
        seed=seed,
        sentiment=sentiment,
        watch=watch,
        data_dir=data_dir,
        profile=profile,
    )

    with _sigterm_interrupts(), errors(ValueError, e2e.BenchError):
        result = e2e.run(
            s, options, progress=lambda m: err_console.print(f"[dim]bench e2e:[/] {m}")
        )
    out = out_console()
    table = Table(
        "figure",
        "value",
        title=(
            f"veille bench e2e: {result['stored']} of {result['posts']} posts stored, "
            f"{result['cores']} cores, {result['date']}"
        ),
        title_justify="left",
    )
    for key, label in _E2E_ROWS:
        table.add_row(label, f"{result[key]:,}")
    for stage, mb in result["peak_rss_mb"].items():
        table.add_row(f"peak RSS {stage} (MB)", f"{mb:,}")
    out.print(table)
    if json_out:
        print(json.dumps(result))


@bench_app.command("chaos")
def bench_chaos(
    minutes: Annotated[float, typer.Option(help="how long the replay lasts")] = 5.0,
    seed: SeedOpt = 0,
    posts: Annotated[
        int | None, typer.Option(help="good posts replayed [default: 150 per second of the run]")
    ] = None,
    bad: Annotated[
        int | None, typer.Option(help="bad lines mixed in [default: 1 % of the posts]")
    ] = None,
    out: Annotated[Path, typer.Option(help="folder for chaos.json")] = Path("chaos"),
    targets: Annotated[
        str,
        typer.Option(
            help="what faults may hit, comma-separated: ingest, process, process-2, sink, broker, "
            "clickhouse (refusing the sink's calls) [default: all]"
        ),
    ] = "",
    pauses: Annotated[
        float,
        typer.Option(help="share of the faults that pause (SIGSTOP 5-15 s) rather than kill"),
    ] = 0.25,
    data_dir: DataDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The whole pipeline under a seeded schedule of faults (a stage or the broker SIGKILLed or
    paused, or ClickHouse refusing calls, every 10-30 s; bad records written to the raw and
    enriched topics every 3-8 s),
    against ground truth: every good post stored once, every bad line or record a dead letter
    with its reason, every named query equal to a clean single write, no stage left stopped.

    Always starts its own local broker and chDB, as `veille up` does. See docs/reliability.md.

    Example: veille bench chaos --minutes 20 --seed 7 --json
    """
    from pipeline.bench import chaos
    from pipeline.cli.common import err_console

    options = chaos.ChaosOptions(
        minutes=minutes,
        seed=seed,
        posts=posts,
        bad=bad,
        out=out,
        data_dir=data_dir,
        targets=tuple(t.strip() for t in targets.split(",") if t.strip()) or chaos.TARGETS,
        pauses=pauses,
    )
    with _sigterm_interrupts(), errors(ValueError, chaos.BenchError):
        result = chaos.run(
            settings(),
            options,
            progress=lambda m: err_console.print(f"[dim]bench chaos:[/] {m}", highlight=False),
        )
    out_console().print(
        f"veille bench chaos: {result['posts']} posts, {result['bad_lines']} bad lines, "
        f"{result['faults_total']} faults ({result['recovered']} recovered, longest "
        f"{result['recovery_s_max']} s), {result['posts_stored']} stored once, "
        f"{result['dead_letters_stored']} dead letters, bad records on the topics dead-lettered "
        f"{result['bad_records_dead_lettered']}, {result['queries_compared']} queries "
        f"equal to a clean write: {'passed' if result['passed'] else 'FAILED'}",
        highlight=False,
    )
    if json_out:
        print(json.dumps(result, default=str))


@bench_app.command("soak")
def bench_soak(
    minutes: Annotated[float, typer.Option(help="how long the source runs")] = 30.0,
    rate: Annotated[float, typer.Option(help="posts/s of the synthetic source")] = 300.0,
    warmup_minutes: Annotated[
        float | None,
        typer.Option(
            help="minutes left out of the memory figures (start-up, caches filling) "
            "[default: 10, or a third of --minutes when less]"
        ),
    ] = None,
    interval: Annotated[float, typer.Option(help="seconds between two memory samples")] = 5.0,
    seed: SeedOpt = 0,
    sentiment: SentimentOpt = None,
    out: Annotated[Path, typer.Option(help="folder for samples.csv, soak.json and rss.svg")] = Path(
        "soak"
    ),
    data_dir: DataDirOpt = None,
    watch: WatchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The whole pipeline at a steady rate for a long time: RSS of every process (broker
    included) over time, its slope after the warm-up, stored vs ingested, restarts, latency.

    Always starts its own local broker and chDB, as `veille up` does (KAFKA_BOOTSTRAP_SERVERS,
    CLICKHOUSE_URL are ignored); the VEILLE_ settings apply, the broker's retention included.
    See docs/benchmarks.md.

    Example: veille bench soak --minutes 30 --rate 300 --json
    """
    from pipeline.bench import soak
    from pipeline.cli.common import err_console

    options = soak.SoakOptions(
        minutes=minutes,
        rate=rate,
        warmup_minutes=warmup_minutes,
        interval_s=interval,
        seed=seed,
        sentiment=sentiment,
        watch=watch,
        out=out,
        data_dir=data_dir,
    )
    with _sigterm_interrupts(), errors(ValueError, soak.BenchError):
        result = soak.run(
            settings(watch=watch),
            options,
            progress=lambda m: err_console.print(f"[dim]bench soak:[/] {m}", highlight=False),
        )
    table = Table(
        "process",
        "RSS warm (MB)",
        "RSS end (MB)",
        "slope (MB/min)",
        "anon. slope (MB/min)",
        "CPU %",
        title=(
            f"veille bench soak: {result['rate']:g} posts/s for {result['minutes']:g} min, "
            f"{result['stored']} of {result['ingested']} stored, "
            f"{result['restarts_total']} restarts, {result['cores']} cores, {result['date']}"
        ),
        title_justify="left",
    )
    rows = [*result["processes"].items(), ("tree (sum)", _tree_row(result))]
    for name, f in rows:
        table.add_row(
            name,
            str(f["rss_warm_mb"]),
            str(f["rss_end_mb"]),
            str(f["slope_mb_per_min"]),
            str(f["anon_slope_mb_per_min"]),
            "" if f.get("cpu_pct") is None else str(f["cpu_pct"]),
        )
    lat = result["latency_s"]
    table.caption = (
        f"latency s p50={lat['p50']} p90={lat['p90']} p99={lat['p99']} max={lat['max']}; "
        f"memory {'flat' if result['flat'] else 'NOT flat'} (tree slope < "
        f"{result['flat_threshold_mb_per_min']} MB/min); files in {options.out}"
    )
    table.caption_justify = "left"
    out_console().print(table)
    if json_out:
        print(json.dumps(result))


def _tree_row(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "rss_warm_mb": result["tree_rss_warm_mb"],
        "rss_end_mb": result["tree_rss_end_mb"],
        "slope_mb_per_min": result["tree_slope_mb_per_min"],
        "anon_slope_mb_per_min": result["tree_anon_slope_mb_per_min"],
    }


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops every process a benchmark started, as Ctrl-C does."""

    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
