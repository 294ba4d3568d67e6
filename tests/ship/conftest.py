"""Fixtures for the tests of logkit.ship: the follower and the shipper. Shared ones are in tests/conftest.py and tests/support/."""
