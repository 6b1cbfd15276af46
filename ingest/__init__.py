"""ingest: sources of X posts and the Kafka producer that writes them to the raw topic.

A source (`ingest.base.Source`) yields X API v2 post payloads; `ingest.runner` parses each into
a `veille.models.Post`, produces it to the raw topic keyed by post id, and sends what does not
parse to the dead-letter topic with the reason. Sources never enrich.
"""
