"""Fixtures for the tests of logkit.alert: rules, evaluation, state, sinks, Alertmanager. Shared ones are in tests/conftest.py and tests/support/."""
