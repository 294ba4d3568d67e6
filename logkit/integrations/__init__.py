"""Framework integrations: Django, Celery and Scrapy write logkit's uniform events.

Each module imports its framework, so import the one you use:

- :mod:`logkit.integrations.django` — request middleware, ``logging_settings()`` for settings.py.
- :mod:`logkit.integrations.celery` — ``setup_celery_logging(app)``: task signals, correlation
  id through task headers, Celery kept off the root logger.
- :mod:`logkit.integrations.scrapy` — an add-on (extension + downloader middleware), ``parse_guard``.

All three share one correlation id, the ``trace.id`` field: made (or taken from the request) by
the Django middleware, carried in Celery task headers, handed to a crawl through the
``LOGKIT_TRACE_ID`` environment variable or setting (see :func:`trace_env`). Docs: docs/django.md,
docs/celery.md, docs/scrapy.md.
"""
from __future__ import annotations

from ._common import current_trace_id, new_trace_id, trace_env, valid_trace_id

__all__ = ["current_trace_id", "new_trace_id", "trace_env", "valid_trace_id"]
