"""logkit: one JSON event schema for Django, Celery, Scrapy and scripts; ship, analyze, alert.

    import logging.config, logkit
    logging.config.dictConfig(logkit.logging_config("shop", "django"))
    logkit.get_logger(__name__).info("order placed", **{"event.action": "order.placed"})
"""
from __future__ import annotations

from .emit import (JSONFormatter, bind, bound, clear, get_context, get_logger, logging_config, reset,
                   unbind, uuid7)
from .schema import SCHEMA_VERSION

__all__ = ["logging_config", "JSONFormatter", "get_logger", "bind", "bound", "unbind", "reset", "clear",
           "get_context", "uuid7", "SCHEMA_VERSION", "detect_challenge"]


def __getattr__(name: str):
    # Imported on first use so `import logkit` stays light for services that never call it.
    if name == "__version__":
        # One place for the version: pyproject.toml, read back from the installed metadata
        # (on first use: importlib.metadata costs an import a logging-only process need not pay).
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version("logkit")
        except PackageNotFoundError:  # a checkout imported without being installed
            return "0+unknown"
    if name == "detect_challenge":
        from .detect import detect_challenge
        return detect_challenge
    raise AttributeError(f"module 'logkit' has no attribute {name!r}")
