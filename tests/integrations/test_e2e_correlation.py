"""End to end: a Django view (Django test Client) enqueues a Celery task (a REAL worker on the REAL
Redis broker) that crawls a site served on 127.0.0.1 with Scrapy (a child process of the task).
Every event the request causes — Django's, the worker's, the crawl's — carries the request's
correlation id, and the combined event file passes validation."""
from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from support.integrations_support import (closed_port, django_setup, of, read_ndjson, running_worker, schema_problems,
                                  validate_file, wait_events)

django_setup()

from django.test import Client  # noqa: E402

from logkit import JSONFormatter  # noqa: E402
from tests.sites.site import Site  # noqa: E402

pytestmark = pytest.mark.slow


def test_request_task_and_crawl_share_one_correlation_id(redis_url, tmp_path):
    crawl_log = tmp_path / "crawl.ndjson"
    django_log = tmp_path / "django.ndjson"
    refused = closed_port()
    with Site(slow_seconds=4.0, refused_port=refused) as site, \
            running_worker(redis_url, tmp_path / "worker", extra_env={"LOGKIT_TEST_SCRAPY_LOG": str(crawl_log)}) \
            as (_proc, worker_log, _err):
        # The Django side writes to its own file through logkit's formatter (in the test process).
        handler = logging.FileHandler(django_log, encoding="utf-8")
        handler.setFormatter(JSONFormatter(service="shop-web", service_type="django", environment="test"))
        root = logging.getLogger()
        root.addHandler(handler)
        old_level = root.level
        root.setLevel(logging.INFO)
        try:
            resp = Client().get("/enqueue/", {"task": "crawl", "url": site.base + "/"})
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            handler.close()
        assert resp.status_code == 200, resp.content
        rid = resp["X-Request-ID"]
        task_id = resp.json()["task_id"]

        worker_events = wait_events(worker_log, lambda evs: of(evs, "task.succeeded", celery__task__id=task_id)
                                    or of(evs, "task.failed", celery__task__id=task_id),
                                    timeout=240, what="the crawl task to finish")
    assert not of(worker_events, "task.failed", celery__task__id=task_id), \
        of(worker_events, "task.failed", celery__task__id=task_id)[0].get("error.message")

    django_events = read_ndjson(django_log)
    crawl_events = read_ndjson(crawl_log)

    # --- Django: the request event, the view's event, the task it sent --------------------------
    [req] = of(django_events, "http.request")
    assert req["django.route"] == "enqueue/" and req["trace.id"] == rid
    [sent] = of(django_events, "task.sent")
    assert sent["celery.task.id"] == task_id and sent["celery.task.name"] == "tests.celery_app.crawl_site"
    assert {e.get("trace.id") for e in django_events} == {rid}

    # --- Celery: received, started, the task's own lines, succeeded ----------------------------
    task_events = [e for e in worker_events if e.get("celery.task.id") == task_id]
    assert [e["event.action"] for e in task_events if e["event.action"].startswith("task.")] == \
        ["task.received", "task.started", "task.succeeded"]
    assert {e["trace.id"] for e in task_events} == {rid}
    assert any(e["message"] == "starting crawl" for e in task_events)
    # worker events not caused by this request (startup) carry no other correlation id
    assert {e.get("trace.id") for e in worker_events} <= {rid, None}

    # --- Scrapy: the crawl the task started ------------------------------------------------------
    assert crawl_events and {e.get("trace.id") for e in crawl_events} == {rid}
    statuses = sorted(e["http.response.status_code"] for e in of(crawl_events, "page.fetched"))
    assert statuses.count(200) >= 5 and 404 in statuses and 403 in statuses
    [cap] = of(crawl_events, "captcha.detected")
    assert cap["scrapy.challenge.vendor"] == "cloudflare"
    kinds = {(e["url.full"].rsplit("/", 1)[-1], e["error.type"]) for e in of(crawl_events, "download.failed")}
    assert ("slow", "timeout") in kinds and ("refused", "refused") in kinds
    assert of(crawl_events, "spider.closed")[0]["scrapy.finish_reason"] == "finished"
    assert {e["service.type"] for e in crawl_events} == {"scrapy"}

    # --- one file of everything: valid -------------------------------------------------------------
    combined = tmp_path / "combined.ndjson"
    with open(combined, "wb") as out:
        for p in (django_log, worker_log, crawl_log):
            out.write(p.read_bytes())
    everything = read_ndjson(combined)
    assert {e["service.type"] for e in everything} == {"django", "celery", "scrapy"}
    assert [(e.get("event.action"), schema_problems(e)) for e in everything if schema_problems(e)] == []
    invalid, examples = validate_file(combined)
    assert invalid == 0, examples
    # and through the command line, strictly (warnings count as errors)
    cli = subprocess.run([sys.executable, "-m", "logkit", "validate", "--strict", "-q", str(combined)],
                         capture_output=True, timeout=120)
    assert cli.returncode == 0, (cli.stdout + cli.stderr).decode(errors="replace")[-3000:]
