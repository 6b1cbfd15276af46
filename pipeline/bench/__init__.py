"""Benchmarks of the whole pipeline (`veille bench e2e`) and the references they compare to.

- `e2e`: runs the pipeline as `veille up` does (embedded broker, each stage its own process,
  chDB) once unpaced for its throughput and once at a fixed rate for its latency, and runs two
  reference consumers on the same broker; figures are counted in ClickHouse afterwards.
- `passthrough`: a confluent-kafka consumer that re-produces every message unchanged (the
  limit of the broker and the client on this machine).
- `naive_faust`: a Faust worker that enriches one event at a time (the usual way to write an
  agent), the reference for what batching buys.
- `procfs`: peak resident memory of a process, read from `/proc`.

Nothing here is imported by the stages; the figures are for people, never asserted in tests.
"""
