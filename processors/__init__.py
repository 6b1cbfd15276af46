"""processors: the Faust app that enriches posts and detects alerts.

`processors.worker.build()` owns the whole topology: it makes the App (`processors.app`) and
declares every agent on it, each domain's from its own package (`processors.enrich`,
`processors.alerts`); `processors.worker.run()` runs the worker. Where veille departs from
Faust's own Kafka clients is documented in `processors.kafka_overrides`.
"""
