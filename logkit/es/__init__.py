"""Stage 2, es: the Elasticsearch side — one client, and the templates, data streams and
pipelines ``logkit es`` sets up (the DuckDB side is logkit.analyze.store). Imports emit and schema,
never a later stage."""
