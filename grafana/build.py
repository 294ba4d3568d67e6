"""Writes grafana/dashboards/*.json (provisioning-ready) from the panel lists below.

    python grafana/build.py          # rewrite the JSON files
    python grafana/build.py --check  # exit 1 when the files differ from what this script writes

Every query uses only metrics of logkit/metrics/definitions.py (tests/test_grafana_dashboards.py
checks it) and raw series, not the rule pack's recording rules, so the dashboards work whether or
not the rules are loaded. Every panel's datasource is the dashboard's `datasource` variable.
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"
FAILED_STATES = 'state=~"succeeded|failed|retried"'


def var_datasource() -> dict:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "hide": 0, "refresh": 1, "regex": "", "options": []}


def var_query(name: str, label: str, metric: str) -> dict:
    q = f"label_values({metric}, {name})"
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": q, "refId": f"var-{name}"}, "refresh": 2, "multi": True, "includeAll": True,
            "allValue": ".*", "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1, "hide": 0, "options": [], "regex": ""}


def panel(title: str, exprs: list[tuple[str, str]], *, unit: str = "short", kind: str = "timeseries",
          w: int = 12, h: int = 8, description: str = "", instant: bool = False) -> dict:
    p = {"type": kind, "title": title, "description": description, "datasource": DS,
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "options": {},
         "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": lg,
                      "range": not instant, "instant": instant}
                     for i, (e, lg) in enumerate(exprs)], "gridPos": {"w": w, "h": h}}
    if kind == "timeseries":
        p["options"] = {"legend": {"showLegend": True, "displayMode": "table", "placement": "right",
                                   "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    elif kind == "stat":
        # Every option Grafana's stat Options type requires (its defaults where logkit has no opinion).
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "orientation": "auto", "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                        "textMode": "auto", "wideLayout": True, "showPercentChange": False,
                        "percentChangeColorMode": "standard"}
    elif kind == "table":
        p["options"] = {"showHeader": True, "frameIndex": 0}
        p["transformations"] = [{"id": "reduce", "options": {"reducers": ["lastNotNull"]}}] if not instant else []
    elif kind == "bargauge":
        p["options"] = {"orientation": "horizontal", "displayMode": "gradient",
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom", "calcs": []},
                        "maxVizHeight": 300, "minVizHeight": 16, "minVizWidth": 8, "namePlacement": "auto",
                        "showUnfilled": True, "sizing": "auto", "valueMode": "color"}
    return p


def dashboard(uid: str, title: str, description: str, variables: list[dict], panels: list[dict]) -> dict:
    x = y = 0
    row_h = 0
    for i, p in enumerate(panels, 1):
        p["id"] = i
        gw, gh = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + gw > 24:
            x, y = 0, y + row_h
            row_h = 0
        p["gridPos"] = {"h": gh, "w": gw, "x": x, "y": y}
        x += gw
        row_h = max(row_h, gh)
    return {
        "uid": uid, "title": title, "description": description, "tags": ["logkit"], "timezone": "utc",
        "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"}, "timepicker": {},
        "templating": {"list": [var_datasource()] + variables}, "annotations": {"list": []},
        "links": [{"type": "dashboards", "tags": ["logkit"], "title": "logkit", "asDropdown": True,
                   "includeVars": False, "keepTime": True, "icon": "external link", "targetBlank": False,
                   "tooltip": ""}],
        "panels": panels,
    }


def celery_workers() -> dict:
    q = 'queue=~"$queue"'
    return dashboard(
        "logkit-celery-workers", "logkit / Celery workers and queues",
        "Queue depth from the broker (logkit metrics serve --broker) and worker activity from task events.",
        [var_query("queue", "Queue", "logkit_celery_queue_length")],
        [
            panel("Active workers", [("logkit_celery_workers_active", "active")], kind="stat", w=6,
                  description="Workers with a task event within the exporter's --worker-window."),
            panel("Broker reachable", [("min(logkit_celery_broker_up)", "up")], kind="stat", w=6),
            panel("Messages waiting (all queues)", [(f"sum(logkit_celery_queue_length{{{q}}})", "waiting")],
                  kind="stat", w=12),
            panel("Queue length", [(f"sum by (queue) (logkit_celery_queue_length{{{q}}})", "{{queue}}")], w=12),
            panel("Seconds since each worker's last task event",
                  [("time() - max by (worker) (logkit_celery_worker_last_seen_timestamp_seconds)", "{{worker}}")],
                  unit="s", kind="bargauge", w=12),
            panel("Tasks started per second", [(f'sum by (task) (rate(logkit_celery_tasks_total{{state="started"}}[{RI}]))',
                                                "{{task}}")], unit="ops", w=12),
            panel("Queue wait p95", [(f"histogram_quantile(0.95, sum by (task, le) "
                                      f"(rate(logkit_celery_task_queue_wait_seconds_bucket[{RI}])))", "{{task}}")],
                  unit="s", w=12),
        ])


def celery_tasks() -> dict:
    t = 'task=~"$task"'
    att = f'sum by (task) (rate(logkit_celery_tasks_total{{{t},{FAILED_STATES}}}[{RI}]))'
    return dashboard(
        "logkit-celery-tasks", "logkit / Celery task performance",
        "Throughput, failure, retry and timeout ratios, run time and queue wait per task.",
        [var_query("task", "Task", "logkit_celery_tasks_total")],
        [
            panel("Attempts per second by task", [(att, "{{task}}")], unit="ops", w=12),
            panel("Task events per second by state",
                  [(f"sum by (state) (rate(logkit_celery_tasks_total{{{t}}}[{RI}]))", "{{state}}")], unit="ops", w=12),
            panel("Failure ratio", [(f'sum by (task) (rate(logkit_celery_tasks_total{{{t},state="failed"}}[{RI}])) / {att}',
                                     "{{task}}")], unit="percentunit", w=8),
            panel("Retry ratio", [(f'sum by (task) (rate(logkit_celery_tasks_total{{{t},state="retried"}}[{RI}])) / {att}',
                                   "{{task}}")], unit="percentunit", w=8),
            panel("Timeout ratio", [(f"sum by (task) (rate(logkit_celery_task_timeouts_total{{{t}}}[{RI}])) / {att}",
                                     "{{task}}")], unit="percentunit", w=8),
            panel("Run time p50 / p95 / p99", [
                (f"histogram_quantile({q}, sum by (task, le) (rate(logkit_celery_task_runtime_seconds_bucket{{{t}}}[{RI}])))",
                 f"{{{{task}}}} p{int(q * 100)}") for q in (0.5, 0.95, 0.99)], unit="s", w=12),
            panel("Mean run time", [(f"sum by (task) (rate(logkit_celery_task_runtime_seconds_sum{{{t}}}[{RI}])) / "
                                     f"sum by (task) (rate(logkit_celery_task_runtime_seconds_count{{{t}}}[{RI}]))",
                                     "{{task}}")], unit="s", w=12),
            panel("Queue wait p95", [(f"histogram_quantile(0.95, sum by (task, le) "
                                      f"(rate(logkit_celery_task_queue_wait_seconds_bucket{{{t}}}[{RI}])))", "{{task}}")],
                  unit="s", w=12),
            panel("Failures in the time range", [(f'sort_desc(sum by (task) (increase(logkit_celery_tasks_total{{{t},state="failed"}}[$__range])))',
                                                  "{{task}}")], kind="table", instant=True, w=12),
        ])


def scrapy_domains() -> dict:
    d = 'domain=~"$domain"'
    req = f'sum by (domain) (rate({{__name__=~"logkit_scrapy_pages_total|logkit_scrapy_download_failures_total",{d}}}[{RI}]))'
    return dashboard(
        "logkit-scrapy-domains", "logkit / Scraping per domain",
        "Pages by status class, failures, CAPTCHAs, blocks, proxies, items and data freshness, per domain.",
        [var_query("domain", "Domain", "logkit_scrapy_pages_total")],
        [
            panel("Pages per second by status class",
                  [(f"sum by (status_class) (rate(logkit_scrapy_pages_total{{{d}}}[{RI}]))", "{{status_class}}")],
                  unit="ops", w=12),
            panel("Success ratio (2xx / requests), worst 10",
                  [(f'bottomk(10, sum by (domain) (rate(logkit_scrapy_pages_total{{{d},status_class="2xx"}}[{RI}])) / {req})',
                    "{{domain}}")], unit="percentunit", w=12),
            panel("Download failures per second by reason",
                  [(f"sum by (reason) (rate(logkit_scrapy_download_failures_total{{{d}}}[{RI}]))", "{{reason}}")],
                  unit="ops", w=8),
            panel("CAPTCHAs per second by vendor",
                  [(f"sum by (vendor) (rate(logkit_scrapy_captchas_total{{{d}}}[{RI}]))", "{{vendor}}")], unit="ops", w=8),
            panel("CAPTCHA ratio, top 10 domains",
                  [(f"topk(10, sum by (domain) (rate(logkit_scrapy_captchas_total{{{d}}}[{RI}])) / {req})", "{{domain}}")],
                  unit="percentunit", w=8),
            panel("Blocks per second, top 10 domains",
                  [(f"topk(10, sum by (domain) (rate(logkit_scrapy_blocks_total{{{d}}}[{RI}])))", "{{domain}}")],
                  unit="ops", w=8),
            panel("Proxy success ratio",
                  [(f"1 - sum by (proxy) (rate(logkit_scrapy_proxy_failures_total[{RI}])) / "
                    f"sum by (proxy) (rate(logkit_scrapy_proxy_requests_total[{RI}]))", "{{proxy}}")],
                  unit="percentunit", w=8),
            panel("Items per second, new vs updated",
                  [(f"sum by (status) (rate(logkit_scrapy_items_total{{{d}}}[{RI}]))", "{{status}}")], unit="ops", w=8),
            panel("Data freshness: seconds since the last 2xx",
                  [(f"sort_desc(time() - logkit_scrapy_last_success_timestamp_seconds{{{d}}})", "{{domain}}")],
                  unit="s", kind="table", instant=True, w=12),
            panel("Dropped items and parse failures per second",
                  [(f"sum by (spider) (rate(logkit_scrapy_items_dropped_total[{RI}]))", "dropped {{spider}}"),
                   (f"sum by (parser) (rate(logkit_scrapy_parse_failures_total[{RI}]))", "parse failed {{parser}}")],
                  unit="ops", w=12),
        ])


def errors() -> dict:
    s = 'service=~"$service"'
    return dashboard(
        "logkit-errors", "logkit / Errors",
        "Events by level, critical events, HTTP 5xx and latency, and the exporter's own health.",
        [var_query("service", "Service", "logkit_events_total")],
        [
            panel("Events per second by level",
                  [(f"sum by (level) (rate(logkit_events_total{{{s}}}[{RI}]))", "{{level}}")], unit="ops", w=12),
            panel("Errors and critical events per second by service",
                  [(f'sum by (service) (rate(logkit_events_total{{{s},level=~"error|critical"}}[{RI}]))', "{{service}}")],
                  unit="ops", w=12),
            panel("Critical events in the time range",
                  [(f'sum by (service) (increase(logkit_events_total{{{s},level="critical"}}[$__range]))', "{{service}}")],
                  kind="stat", instant=True, w=8),
            panel("HTTP 5xx ratio by route",
                  [(f'sum by (route) (rate(logkit_django_requests_total{{status_class="5xx"}}[{RI}])) / '
                    f"sum by (route) (rate(logkit_django_requests_total[{RI}]))", "{{route}}")],
                  unit="percentunit", w=8),
            panel("View exceptions per second by route",
                  [(f"sum by (route) (rate(logkit_django_exceptions_total[{RI}]))", "{{route}}")], unit="ops", w=8),
            panel("Request latency p95 by route",
                  [(f"histogram_quantile(0.95, sum by (route, le) (rate(logkit_django_request_duration_seconds_bucket[{RI}])))",
                    "{{route}}")], unit="s", w=12),
            panel("Seconds since each service's last event",
                  [(f"time() - logkit_service_last_event_timestamp_seconds{{{s}}}", "{{service}}")],
                  unit="s", kind="bargauge", w=12),
            panel("Exporter: malformed lines per second by reason",
                  [(f"sum by (reason) (rate(logkit_exporter_lines_malformed_total[{RI}]))", "{{reason}}")],
                  unit="ops", w=8),
            panel("Exporter: events read per second",
                  [(f"sum(rate(logkit_exporter_events_read_total[{RI}]))", "events")], unit="ops", w=8),
            panel("Exporter: label values folded into __other__",
                  [("sum by (group) (logkit_exporter_label_values_folded_total)", "{{group}}")], w=8),
        ])


DASHBOARDS = {"celery-workers.json": celery_workers, "celery-tasks.json": celery_tasks,
              "scrapy-domains.json": scrapy_domains, "errors.json": errors}


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    out = os.path.join(HERE, "dashboards")
    os.makedirs(out, exist_ok=True)
    stale = []
    for name in DASHBOARDS:
        path = os.path.join(out, name)
        text = render(name)
        if "--check" in argv:
            if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
                stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    for p in stale:
        print(f"stale: {p} (run python grafana/build.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
