"""Stage 5, look: ways to see the events and the report — the Kibana saved-search bundle
(kibana.py), the report rendered as a table, JSON, CSV, Markdown or HTML (render/), and the demo.
Reads the schema and the analyzer; imports no later stage."""

#: The report's output formats, defined once (this module imports nothing, so the CLI can use it
#: without loading DuckDB).
FORMATS = ("table", "json", "csv", "markdown", "html")

__all__ = ["FORMATS"]
