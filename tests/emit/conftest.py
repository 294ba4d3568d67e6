"""Fixtures for the tests of logkit.emit: rendering, context, handlers, masking. Shared ones are in tests/conftest.py and tests/support/."""
