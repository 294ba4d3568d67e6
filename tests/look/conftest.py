"""Fixtures for the tests of logkit.look: Kibana bundle, HTML report, lnav, notebooks, demo. Shared ones are in tests/conftest.py and tests/support/."""
