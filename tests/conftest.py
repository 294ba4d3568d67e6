"""Shared fixtures. Real components are started by scripts/test.sh and reach the tests through
LOGKIT_TEST_* environment variables; a test that needs one fails (not skips) when it is absent."""
from __future__ import annotations

import logging
import os

import pytest

from logkit.emit import context

# Elasticsearch fixtures (es_url, es_client, es_index, es_cluster3) for every test module.
from support.es_fixtures import delete_prefixed, es_client, es_cluster3, es_index, es_url  # noqa: F401,E402


from support.env import require_env  # noqa: E402,F401 (tests import it)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_env("LOGKIT_TEST_REDIS_URL")


@pytest.fixture(autouse=True)
def _clean_logging_state():
    """Each test starts with no bound context and gets the root logger back as it found it."""
    context.clear()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    logging.disable(logging.NOTSET)  # a test (or a benchmark run in-process) may have silenced logging
    context.clear()
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            try:
                h.close()
            except Exception:
                pass
    root.setLevel(level)
