"""The composition root: what assembles the stages into veille and runs them.

- `pipeline.cli`: the `veille` command line (one typer app, one module per group of commands);
- `pipeline.supervisor`: `veille up`, each stage its own process, stopped in order;
- `pipeline.embedded`: the local broker (Tansu) started when no Kafka is named;
- `pipeline.bench`: the benchmarks (`veille bench ...`) and the references they compare to.

This package imports the stages (ingest/, processors/, sinks/) and the core (veille/); nothing
imports it (tests/test_architecture.py keeps it so).
"""
