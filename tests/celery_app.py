"""The Celery app of the integration tests: ``celery -A tests.celery_app worker ...``.

Environment: ``LOGKIT_TEST_REDIS_URL`` (broker and result backend), ``LOGKIT_TEST_CELERY_QUEUE``
(the one queue, unique per test run), ``LOGKIT_TEST_CELERY_LOG`` (the worker writes logkit JSON
there), ``LOGKIT_TEST_SCRAPY_LOG`` (where ``crawl_site`` makes the crawl write its events).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from celery import Celery, group
from celery.exceptions import SoftTimeLimitExceeded

import logkit
from logkit.integrations import trace_env
from logkit.integrations.celery import setup_celery_logging

BROKER = os.environ.get("LOGKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
QUEUE = os.environ.get("LOGKIT_TEST_CELERY_QUEUE", "logkit-test")
LOG_FILE = os.environ.get("LOGKIT_TEST_CELERY_LOG")

app = Celery("shop-worker", broker=BROKER, backend=BROKER)
app.conf.update(
    task_default_queue=QUEUE,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=600,
    task_serializer="json",
    accept_content=["json"],
)

# The one call of docs/celery.md.
setup_celery_logging(app, service="shop-worker", environment="test", filename=LOG_FILE,
                     stream=None if LOG_FILE else "stderr", rotation="none")

log = logkit.get_logger(__name__)


@app.task
def add(x, y):
    log.info("adding", **{"labels": {"x": str(x), "y": str(y)}})
    return x + y


@app.task
def fail():
    raise ValueError("task failed on purpose")


@app.task(bind=True, max_retries=3)
def flaky(self, succeed_on: int = 2):
    if self.request.retries < succeed_on:
        raise self.retry(exc=ConnectionError(f"flaky attempt {self.request.retries}"), countdown=0.2)
    return "third time lucky"


@app.task(soft_time_limit=1)
def soft_limited():
    time.sleep(30)  # SoftTimeLimitExceeded is raised in here after 1 s


@app.task(time_limit=2)
def hard_limited():
    end = time.monotonic() + 30
    while time.monotonic() < end:  # the child is killed after 2 s
        try:
            time.sleep(0.1)
        except SoftTimeLimitExceeded:
            pass


@app.task(bind=True)
def fan_out(self, n: int):
    """Publishes a group of subtasks from inside a task: they inherit its correlation id."""
    log.info("fanning out", **{"labels": {"n": str(n)}})
    res = group(add.s(i, i) for i in range(n)).apply_async()
    return [r.id for r in res.results]


@app.task(bind=True)
def crawl_site(self, url: str):
    """Crawls ``url`` with Scrapy in a child process (a Twisted reactor cannot restart inside a
    worker), handing it this task's correlation id through the environment."""
    out = os.environ.get("LOGKIT_TEST_SCRAPY_LOG") or str(Path(LOG_FILE or "crawl").with_suffix(".scrapy.ndjson"))
    env = trace_env()
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    log.info("starting crawl", **{"url.full": url})
    proc = subprocess.run([sys.executable, "-m", "tests.sites.crawl", url, "--log-file", out,
                           "--service", "shop-crawler"], env=env, capture_output=True, timeout=300)
    log.info("crawl finished", **{"labels": {"returncode": str(proc.returncode)}})
    if proc.returncode != 0:
        raise RuntimeError(f"crawl exited {proc.returncode}: {proc.stderr[-2000:].decode(errors='replace')}")
    return proc.returncode
