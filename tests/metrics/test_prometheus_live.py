"""Real components: `logkit metrics serve` (a subprocess, following logs that a writer keeps
appending to, with the real Redis broker) scraped every second by a real Prometheus (Debian
package, LOGKIT_TEST_PROMETHEUS) that loads the rule pack with short `for:` durations.

- every Grafana panel's PromQL, with the dashboard variables substituted (All, and a real value),
  parses and returns data;
- the recording rules produce series and alert rules fire on live data.
"""
from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
import yaml

from support.env import require_env
from benchmarks import synth

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "prometheus", "rules", "logkit.rules.yml")
DASHBOARDS = sorted(glob.glob(os.path.join(ROOT, "grafana", "dashboards", "*.json")))


def free_port() -> int:
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_until(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polling a server that is starting
            last = e
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last!r})")


class Writer(threading.Thread):
    """Appends synthetic events (timestamps: now) to the log file until stopped."""

    def __init__(self, path: str, per_batch: int = 40, every: float = 0.2):
        super().__init__(daemon=True)
        self.path, self.per_batch, self.every = path, per_batch, every
        self.stop_ = threading.Event()
        self.seed = 0

    def run(self):
        while not self.stop_.is_set():
            self.seed += 1
            with open(self.path, "ab") as f:
                f.write(b"".join(synth.lines(self.per_batch, seed=self.seed)))
                if self.seed % 10 == 0:
                    f.write(b"{not json\n")
            self.stop_.wait(self.every)

    def stop(self):
        self.stop_.set()
        self.join(10)


def short_for_rules(dst: str) -> str:
    """The rule pack with every `for:` cut to 1s, so alerts fire within seconds."""
    doc = yaml.safe_load(open(RULES))
    for g in doc["groups"]:
        g["interval"] = "1s"
        for r in g["rules"]:
            if "for" in r:
                r["for"] = "1s"
    with open(dst, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return dst


class Prom:
    def __init__(self, binary: str, workdir: str, target: str, rules: str, alertmanager: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
               "rule_files": [rules],
               "scrape_configs": [{"job_name": "logkit", "static_configs": [{"targets": [target]}]}]}
        if alertmanager:
            cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
        conf = os.path.join(workdir, "prometheus.yml")
        with open(conf, "w") as f:
            yaml.safe_dump(cfg, f)
        self.log = open(os.path.join(workdir, "prometheus.log"), "wb")
        self.p = subprocess.Popen([binary, f"--config.file={conf}", f"--storage.tsdb.path={workdir}/data",
                                   f"--web.listen-address=127.0.0.1:{self.port}"],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: requests.get(self.url + "/-/ready", timeout=2).ok, 60, "Prometheus /-/ready")

    def query(self, expr: str) -> list:
        r = requests.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10)
        body = r.json()
        if body.get("status") != "success":
            raise AssertionError(f"{expr!r}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]["result"]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(10)
        self.log.close()


class Serve:
    def __init__(self, files: list[str], extra: list[str] = ()):
        self.p = subprocess.Popen([sys.executable, "-m", "logkit", "metrics", "serve", *files, "--port", "0",
                                   "--poll-interval", "0.1", *extra],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("serving "):
            raise AssertionError(f"serve did not start: {line!r} {self.p.stderr.read() if self.p.poll() else ''}")
        self.url = line.split()[1]
        self.target = self.url.split("//")[1].split("/")[0]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        assert self.p.wait(30) == 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url):
    """(prometheus, exporter, writer) with live data, one per module."""
    binary = require_env("LOGKIT_TEST_PROMETHEUS")
    d = tmp_path_factory.mktemp("prom")
    log = str(d / "app.ndjson")
    with open(log, "wb") as f:
        f.write(b"".join(synth.lines(400, seed=0, spread=60)))
    import redis
    rc = redis.Redis.from_url(redis_url)
    rc.delete("lkp-default", "lkp-default\x06\x163")
    rc.lpush("lkp-default", *[b"m"] * 5)
    rc.lpush("lkp-default\x06\x163", b"m")
    writer = Writer(log)
    writer.start()
    serve = Serve([log], ["--broker", redis_url, "--queue", "lkp-default", "--worker-window", "60"])
    prom = Prom(binary, str(d), serve.target, short_for_rules(str(d / "rules.yml")))
    try:
        wait_until(lambda: prom.query('up{job="logkit"} == 1'), 60, "the exporter to be scraped")
        yield prom, serve, writer
    finally:
        prom.stop()
        serve.stop()
        writer.stop()
        rc.delete("lkp-default", "lkp-default\x06\x163")


def substitute(expr: str, values: dict[str, str], rate: str = "10s", range_: str = "2m") -> str:
    expr = expr.replace("$__rate_interval", rate).replace("$__range", range_)
    for k, v in values.items():
        expr = expr.replace(f"${k}", v)
    assert "$" not in expr.replace("$__", ""), expr
    return expr


def dashboard_targets():
    for path in DASHBOARDS:
        d = json.load(open(path))
        for p in d["panels"]:
            for t in p["targets"]:
                yield pytest.param(path, p["title"], t["expr"], id=f"{os.path.basename(path)}:{p['title']}:{t['refId']}")


def _variables(path: str) -> list:
    return [v for v in json.load(open(path))["templating"]["list"] if v["type"] == "query"]


@pytest.mark.parametrize("path,title,expr", list(dashboard_targets()))
def test_every_panel_query_parses_and_returns_data(stack, path, title, expr):
    prom, _serve, _w = stack
    variables = _variables(path)
    # 1) every variable at "All" (Grafana substitutes allValue .*)
    q = substitute(expr, {v["name"]: v["allValue"] for v in variables})
    res = wait_until(lambda: [s for s in prom.query(q) if s["value"][1] not in ("NaN",)], 90,
                     f"data for {title!r}: {q}")
    assert res
    # 2) each variable at a real value, taken from its own label_values() query as Grafana does
    values = {}
    for v in variables:
        m = re.fullmatch(r"label_values\((\w+), (\w+)\)", v["query"]["query"])
        r = requests.get(prom.url + f"/api/v1/label/{m.group(2)}/values",
                         params={"match[]": m.group(1)}, timeout=10).json()
        assert r["status"] == "success" and r["data"], v["name"]
        values[v["name"]] = re.escape(sorted(r["data"])[0]).replace("\\", "\\\\")
    q2 = substitute(expr, values)
    prom.query(q2)    # parses (data for one value is not required: a panel may filter it out)


def test_recording_rules_produce_series(stack):
    prom, _s, _w = stack
    for name in ("domain:logkit_scrapy_success:ratio_rate5m", "task:logkit_celery_task_failure:ratio_rate5m",
                 "task:logkit_celery_task_runtime_seconds:p95_5m", "route:logkit_django_request_duration_seconds:p95_5m",
                 "domain:logkit_scrapy_captcha:ratio_rate5m", "proxy:logkit_scrapy_proxy_success:ratio_rate5m"):
        wait_until(lambda: prom.query(name), 60, name)


def test_alerts_fire_on_live_data(stack):
    prom, _s, _w = stack

    def firing():
        r = requests.get(prom.url + "/api/v1/alerts", timeout=10).json()
        return {a["labels"]["alertname"] for a in r["data"]["alerts"] if a["state"] == "firing"}
    # synth's cf.example answers half its requests with a CAPTCHA, web logs critical events,
    # reports.build_daily times out in 20% of attempts
    want = {"LogkitCriticalEvents", "LogkitCaptchaSpike", "LogkitTaskTimeoutRateHigh"}
    seen: list = []

    def check():
        f = firing()
        seen[:] = [f]
        return f >= want and f
    try:
        got = wait_until(check, 120, f"alerts {want} firing")
    except AssertionError as e:
        raise AssertionError(f"{e}; firing: {seen}") from None
    # and nothing that should stay quiet: the exporter is healthy, workers are active, data is fresh
    assert not got & {"LogkitCeleryNoWorkers", "LogkitCeleryBrokerDown", "LogkitDataSourceStale",
                      "LogkitServiceLogsStale"}, got


def test_queue_depth_reaches_prometheus(stack):
    prom, _s, _w = stack
    res = wait_until(lambda: prom.query('logkit_celery_queue_length{queue="lkp-default"}'), 60, "queue length")
    assert float(res[0]["value"][1]) == 6


def test_exporter_output_passes_promtool_check_metrics(stack):
    promtool = require_env("LOGKIT_TEST_PROMTOOL")
    _p, serve, _w = stack
    text = requests.get(serve.url, timeout=10).content
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
