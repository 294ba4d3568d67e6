"""Fixtures for the tests of logkit.detect: challenge and block detection. Shared ones are in tests/conftest.py and tests/support/."""
