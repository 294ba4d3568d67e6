"""Helpers for emission tests: configure logging into a file, read the events back."""
from __future__ import annotations

import logging
import logging.config
from pathlib import Path

import orjson

import logkit


def configure(path: Path, **options) -> None:
    options.setdefault("stream", None)
    logging.config.dictConfig(logkit.logging_config(options.pop("service", "svc"),
                                                    options.pop("service_type", "script"),
                                                    filename=str(path), **options))


def read_events(path: Path) -> list[dict]:
    for h in logging.getLogger().handlers:
        h.flush()
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
