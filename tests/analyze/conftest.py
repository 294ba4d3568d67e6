"""Fixtures for the tests of logkit.analyze: inputs, the DuckDB store, the report (DuckDB and Elasticsearch). Shared ones are in tests/conftest.py and tests/support/."""
