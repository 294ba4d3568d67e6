"""Fixtures for the tests of logkit.es: templates, data streams, Filebeat configs, the Elasticsearch test node. Shared ones are in tests/conftest.py and tests/support/."""
