"""The sections of the report, one function each, grouped by what they tell: `overview` (key
figures, volume, share of voice, sentiment, languages), `conversation` (terms, hashtags,
authors, negative posts), `response` (care queue, response times, alerts, audience).
`sinks.report.render` puts them in order on the page."""
