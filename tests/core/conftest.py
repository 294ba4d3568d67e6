"""Fixtures for the tests of schema, validate, timeparse, testing, architecture and packaging. Shared ones are in tests/conftest.py and tests/support/."""
