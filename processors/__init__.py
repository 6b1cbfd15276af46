"""processors: the Faust app that enriches posts (and, later, aggregates and alerts).

`processors.app.create_app()` builds the App from settings; each domain registers its agents,
tables and timers from its own package (`processors.enrich`).
"""
