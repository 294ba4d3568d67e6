"""Fixtures for the tests of logkit.metrics: the aggregator, exporter, Prometheus rules, Grafana dashboards. Shared ones are in tests/conftest.py and tests/support/."""
