"""The Grafana dashboards' shape (Grafana does not run here). Their PromQL runs against a real
Prometheus in tests/metrics/test_prometheus_live.py."""
from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from logkit.metrics import definitions as D

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = sorted(glob.glob(os.path.join(ROOT, "grafana", "dashboards", "*.json")))
KNOWN = {m.name for m in D.METRICS} | {m.name + s for m in D.METRICS if m.type == "histogram"
                                       for s in ("_bucket", "_sum", "_count")}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def targets(dash):
    for p in dash["panels"]:
        for t in p.get("targets", []):
            yield p, t


def test_four_dashboards_from_the_builder():
    names = {os.path.basename(f) for f in FILES}
    assert names == {"celery-workers.json", "celery-tasks.json", "scrapy-domains.json", "errors.json"}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "grafana", "build.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_dashboard_shape(path):
    d = load(path)
    assert re.fullmatch(r"[a-z0-9-]{1,40}", d["uid"])
    assert d["title"].startswith("logkit / ")
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    assert "id" not in d or d["id"] is None          # provisioning assigns ids
    vars_ = {v["name"]: v for v in d["templating"]["list"]}
    ds = vars_["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    for v in vars_.values():
        if v["type"] == "query":
            assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert re.fullmatch(r"label_values\((logkit_[a-z_]+), ([a-z_]+)\)", v["query"]["query"])
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)) and ids
    for p in d["panels"]:
        assert p["title"] and p["type"] in ("timeseries", "stat", "table", "bargauge")
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["expr"].strip()
            used = set(re.findall(r"(?<![:\w])logkit_[a-z_]+(?![:\w])", t["expr"]))
            assert used and used <= KNOWN, (p["title"], used - KNOWN)
            for var in re.findall(r"\$(\w+)", t["expr"]):
                assert var in vars_ or var.startswith("__"), (p["title"], var)


def test_no_panel_overlaps():
    for path in FILES:
        cells = set()
        for p in load(path)["panels"]:
            g = p["gridPos"]
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, (path, p["title"])
                    cells.add((x, y))


def test_provisioning_file():
    doc = yaml.safe_load(open(os.path.join(ROOT, "grafana", "provisioning", "dashboards.yml")))
    assert doc["apiVersion"] == 1
    (prov,) = doc["providers"]
    assert prov["type"] == "file" and prov["options"]["path"]


def test_dashboards_cover_the_guides_panels():
    exprs = " ".join(t["expr"] for f in FILES for _, t in targets(load(f)))
    for m in ("logkit_celery_queue_length", "logkit_celery_workers_active", "logkit_celery_task_runtime_seconds_bucket",
              "logkit_celery_task_queue_wait_seconds_bucket", "logkit_scrapy_pages_total", "logkit_scrapy_captchas_total",
              "logkit_scrapy_last_success_timestamp_seconds", "logkit_scrapy_proxy_failures_total",
              "logkit_scrapy_items_total", "logkit_django_request_duration_seconds_bucket", "logkit_events_total"):
        assert m in exprs, m
