"""Enrichment: language, sentiment, topics, intent and watch entries, on batches of posts.

`enricher.Enricher` is the entry point (used by the Faust agent in `agent.py` and by
`veille enrich`); `language`, `sentiment`, `intent` hold the models it combines.
"""
