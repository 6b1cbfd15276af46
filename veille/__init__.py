"""veille: real-time social listening on X, through Kafka, Faust and ClickHouse.

This core package holds the shared vocabulary of the stages: the models of what crosses Kafka
(`veille.models`), settings (`veille.settings`), the watch configuration (`veille.watch`), and
the command line (`veille.cli`). ingest/, processors/ and sinks/ import it, never each other.
"""

__version__ = "0.1.0"
