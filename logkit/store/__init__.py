"""Stage 3, store: where events live — Elasticsearch (templates, data streams, pipelines) and,
for the analyzer, DuckDB. Imports emit and schema, never a later stage."""
