"""sinks: from Kafka to ClickHouse, in batches, committing offsets only after inserts succeed.

It owns the ClickHouse schema (forward-only numbered migrations in `sinks/migrations/`) and the
named trend queries (`sinks/queries/*.sql`, ClickHouse `{name:Type}` parameters).
"""
