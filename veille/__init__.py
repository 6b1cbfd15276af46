"""veille: real-time social listening on X, through Kafka, Faust and ClickHouse.

This core package holds the shared vocabulary of the stages: the models of what crosses Kafka
(`veille.models`), settings (`veille.settings`), the watch configuration (`veille.watch`), the
Kafka, X and metrics helpers every stage uses. ingest/, processors/ and sinks/ import it, never
each other; the command line and the `veille up` supervisor that assemble the stages live above
them, in `pipeline/` (docs/architecture.md).
"""

__version__ = "0.1.0"
