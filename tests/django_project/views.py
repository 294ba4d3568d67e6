"""Views of the test project: ok, 404, raises, slow, async, and one that enqueues a Celery task."""
from __future__ import annotations

import asyncio
import logging
import time

from django.http import Http404, HttpResponse, JsonResponse

import logkit

log = logkit.get_logger(__name__)
stdlog = logging.getLogger(__name__)


def ok(request):
    log.info("inside the ok view")
    stdlog.info("stdlib record inside the ok view")
    return HttpResponse("ok")


def article(request, pk: int):
    return JsonResponse({"pk": pk})


def item(request, slug: str):
    return JsonResponse({"slug": slug})


def raises(request):
    raise ValueError("boom in view")


def missing(request):
    raise Http404("no such thing")


def slow(request):
    time.sleep(min(float(request.GET.get("s", "0.2")), 5.0))
    return HttpResponse("slow")


def whoami(request):
    log.info("whoami")
    return JsonResponse({"user": request.user.pk if request.user.is_authenticated else None})


async def async_ok(request):
    log.info("inside the async view")
    await asyncio.sleep(0)
    return HttpResponse("async ok")


async def async_raises(request):
    await asyncio.sleep(0)
    raise RuntimeError("async boom")


def enqueue(request):
    """Sends a Celery task: ``?task=crawl&url=...`` crawls a site, otherwise ``add``."""
    from tests import celery_app

    log.info("enqueueing a task")
    if request.GET.get("task") == "crawl":
        result = celery_app.crawl_site.delay(request.GET["url"])
    else:
        result = celery_app.add.delay(2, 3)
    return JsonResponse({"task_id": result.id})
