"""pytest fixtures for the real Elasticsearch test node (a plugin module: register it with
a star import in tests/conftest.py).

scripts/test.sh starts the node (scripts/components/20-elasticsearch.sh) and exports
LOGKIT_TEST_ES_URL and LOGKIT_TEST_ES_HOME. Without them the tests fail — they are not skipped:
an untested Elasticsearch path must not pass silently.

- es_url        (session)  the node's base URL
- es_client     (session)  elasticsearch.Elasticsearch on it
- es_index      (function) a unique lowercase name prefix; every index, index template and
                           component template named prefix* is deleted afterwards (data
                           streams cannot be deleted on this distribution: see delete_prefixed)
- es_cluster3   (module)   a three-node ESCluster (tests/support/es_cluster.py), started on demand
"""
from __future__ import annotations

import os
import re
import uuid

import pytest

RUN_HINT = ("run the tests through scripts/test.sh, which starts the Elasticsearch test node, "
            "or start it by hand (docs/elasticsearch-dev.md) and export the variables it prints")


def _required_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(f"{name} is not set: {RUN_HINT}", pytrace=False)
    return value


@pytest.fixture(scope="session")
def es_url() -> str:
    return _required_env("LOGKIT_TEST_ES_URL").rstrip("/")


@pytest.fixture(scope="session")
def es_client(es_url):
    from elasticsearch import Elasticsearch

    client = Elasticsearch(es_url, request_timeout=60)
    try:
        client.cluster.health(wait_for_status="yellow", timeout="30s")
    except Exception as e:  # noqa: BLE001 - turned into a clear failure
        pytest.fail(f"Elasticsearch at {es_url} does not answer ({e!r}): {RUN_HINT}", pytrace=False)
    yield client
    client.close()


def delete_prefixed(client, prefix: str) -> None:
    """Removes every index, index template and component template named prefix*.

    Data streams stay: this distribution has no data-streams module, so GET/DELETE _data_stream
    answer 405 and a data stream's write index cannot be deleted (nor the index template it
    uses). They live until the node stops; unique names keep tests apart. List them with
    `client.indices.resolve_index(name=...)["data_streams"]`.
    """
    # (no delete_data_stream call: its 405 would also make the client mark the node dead for 1 s)
    quiet = client.options(ignore_status=(400, 404))
    quiet.indices.delete(index=f"{prefix}*", expand_wildcards="open,closed", allow_no_indices=True)
    quiet.indices.delete_index_template(name=f"{prefix}*")  # 400 while a data stream uses it
    quiet.cluster.delete_component_template(name=f"{prefix}*")


@pytest.fixture
def es_index(es_client, request):
    """A unique name prefix, e.g. `logkit-t-test-search-1a2b3c4d`; use it as the index or data
    stream name, or as the prefix of several names (prefix-a, prefix-ds, ...)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    prefix = f"logkit-t-{slug}-{uuid.uuid4().hex[:8]}"
    yield prefix
    delete_prefixed(es_client, prefix)


@pytest.fixture(scope="module")
def es_cluster3():
    """Three real nodes from LOGKIT_TEST_ES_HOME, green; stopped and removed after the module."""
    from support.es_cluster import ESCluster

    home = _required_env("LOGKIT_TEST_ES_HOME")
    cluster = ESCluster(home, size=3).start()
    yield cluster
    cluster.close()
