"""One way to make an Elasticsearch client, for every command that talks to a cluster.

Credentials come from the environment, never from the command line (where `ps` and shell
history would keep them): ``LOGKIT_ES_API_KEY`` (an encoded API key), or ``LOGKIT_ES_USERNAME``
and ``LOGKIT_ES_PASSWORD``. TLS certificates are verified by default; ``ca_certs`` (or
``LOGKIT_ES_CA_CERTS``) names a CA bundle, and ``verify=False`` must be asked for explicitly.
"""
from __future__ import annotations

import os
from typing import Any

from elasticsearch import Elasticsearch


def es_client(url: str | None = None, *, ca_certs: str | None = None, verify: bool = True,
              request_timeout: float = 30.0, **kwargs: Any) -> Elasticsearch:
    """A client for ``url`` (default ``LOGKIT_ES_URL`` or http://127.0.0.1:9200)."""
    url = url or os.environ.get("LOGKIT_ES_URL") or "http://127.0.0.1:9200"
    auth: dict[str, Any] = {}
    if os.environ.get("LOGKIT_ES_API_KEY"):
        auth["api_key"] = os.environ["LOGKIT_ES_API_KEY"]
    elif os.environ.get("LOGKIT_ES_USERNAME"):
        auth["basic_auth"] = (os.environ["LOGKIT_ES_USERNAME"], os.environ.get("LOGKIT_ES_PASSWORD", ""))
    tls: dict[str, Any] = {}
    if url.startswith("https"):
        ca = ca_certs or os.environ.get("LOGKIT_ES_CA_CERTS")
        if ca:
            tls["ca_certs"] = ca
        tls["verify_certs"] = verify
    return Elasticsearch(url, request_timeout=request_timeout, **auth, **tls, **kwargs)


def redact_url(url: str) -> str:
    """The URL with any user:password removed, for messages and logs."""
    from ..emit.sanitize import mask_text
    return mask_text(url)
