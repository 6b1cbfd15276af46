"""The `x` source: X API v2 filtered stream, gap fill, audience, usage and budget.

`source.XSource` ties the parts together; each part is usable alone: `rules` (sync the stream's
rules with watch.yaml), `stream` (the connection and X's reconnection rules), `backfill` (recent
search for a time range), `audience` (account counts), `usage` (reads, cost, budget).
"""
