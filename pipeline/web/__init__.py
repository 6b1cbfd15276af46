"""The live page and the read-only ClickHouse HTTP endpoint, served by the store's owner.

chDB allows one process per data directory, so the process that owns it (the sink of `veille
up`, or `veille serve`) serves reads for everyone else on one HTTP port: the live dashboard at
`/`, and ClickHouse's HTTP interface (read-only) for clickhouse-connect, notebooks, Grafana,
`veille query` and `veille report`. `store` runs statements, `chhttp` speaks ClickHouse's HTTP,
`live` and `page` read and render the dashboard, `server` puts them on a port, `discovery` tells
other commands where that port is.
"""
