"""Fixtures for the tests of logkit.patterns: the template miner and `logkit patterns`. Shared ones are in tests/conftest.py and tests/support/."""
