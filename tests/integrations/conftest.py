"""Fixtures for the tests of logkit.integrations: Django, Celery, Scrapy, OpenTelemetry, end to end. Shared ones are in tests/conftest.py and tests/support/."""
