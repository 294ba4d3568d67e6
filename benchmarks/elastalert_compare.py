"""logkit alerts and ElastAlert2 side by side, on the same Elasticsearch node and the same day.

    python benchmarks/elastalert_compare.py --es URL --elastalert-venv DIR [--events 20000] [--seed 1]

DIR is a virtualenv holding ``elastalert2==2.19.0`` and ``pytz`` (ElastAlert2 pins the 7.10.1
Elasticsearch client, so it never shares logkit's environment):

    python -m venv DIR && DIR/bin/pip install elastalert2==2.19.0 pytz

The day is ``logkit demo``'s (its planted problems make every rule pair fire), indexed into fresh
data streams of the node. Four equivalent rule pairs:

    ElastAlert2 frequency  (num_events 5 / 15 min, query_key url.domain, term filter)
        ~ logkit frequency  (value >= 5 in 15m, group_by url.domain, same filter)
    ElastAlert2 spike      (CAPTCHAs up x3 vs the hour before, threshold_cur 10, per domain)
        ~ logkit spike      (ratio 3, direction up, min_sample 10, window 1h)
    ElastAlert2 flatline   (fewer than 1 successful fetch in 30 min, per domain)
        ~ logkit absence    (min 1 in 30m, per domain seen in the lookback)
    ElastAlert2 new_term   (an error.type not seen before: the hour before the start, then as it runs)
        ~ logkit new_pattern (a failure template not seen in the hour before its window)

Both go through a counting proxy on 127.0.0.1 (every HTTP request to the node, by endpoint);
ElastAlert2 runs once over the day (``--start/--end``, ``--debug``: alerts are logged, not sent;
run_every = buffer_time = 15 min), logkit replays the day with ``alerts test --es`` semantics
(``replay_es``, every 15 min). Printed: per pair, the alerts each fired (key, first time), the
requests each sent, and the wall time. Request counts are exact; times depend on the machine.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

DAY = ("2026-11-24T00:00:00", "2026-11-25T00:00:00")


class CountingProxy:
    """Forwards every request to the node and counts them by endpoint (the last path part that
    starts with an underscore, else the method and the first part)."""

    def __init__(self, target: str):
        self.target = urlsplit(target)
        self.counts: collections.Counter = collections.Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                parts = [p for p in urlsplit(self.path).path.split("/") if p]
                ep = next((p for p in reversed(parts) if p.startswith("_")), parts[0] if parts else "/")
                with proxy.lock:
                    proxy.counts[f"{self.command} {ep}"] += 1
                conn = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=300)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> collections.Counter:
        with self.lock:
            c, self.counts = self.counts, collections.Counter()
        return c

    def close(self) -> None:
        self.server.shutdown()


def ea_rules(pattern: str) -> dict[str, str]:
    common = f"index: \"{pattern}\"\ntimestamp_field: \"@timestamp\"\nalert: [debug]\nrealert: {{minutes: 0}}\n"
    return {
        "frequency": common + """name: frequency
type: frequency
num_events: 5
timeframe: {minutes: 15}
query_key: url.domain
filter: [{term: {event.action: download.failed}}]
""",
        "spike": common + """name: spike
type: spike
spike_height: 3
spike_type: up
timeframe: {hours: 1}
threshold_cur: 10
query_key: url.domain
filter: [{term: {event.action: captcha.detected}}]
""",
        "flatline": common + """name: flatline
type: flatline
threshold: 1
timeframe: {minutes: 30}
query_key: url.domain
filter: [{term: {event.action: page.fetched}}, {term: {event.outcome: success}}]
""",
        "new_term": common + """name: new_term
type: new_term
fields: [error.type]
terms_window_size: {hours: 1}
filter: [{term: {event.outcome: failure}}]
""",
    }


LOGKIT_RULES = """
rules:
  - name: frequency
    kind: frequency
    filter: {event.action: download.failed}
    group_by: url.domain
    op: ">="
    value: 5
    window: 15m
  - name: spike
    kind: spike
    filter: {event.action: captcha.detected}
    group_by: url.domain
    direction: up
    ratio: 3
    min_sample: 10
    window: 1h
  - name: flatline
    kind: absence
    filter: {event.action: page.fetched, event.outcome: success}
    group_by: url.domain
    min: 1
    window: 30m
    lookback: 24h
  - name: new_term
    kind: new_pattern
    window: 15m
    baseline: 1h
"""


def run_elastalert(venv: str, proxy: CountingProxy, pattern: str, work: str) -> dict:
    """Each rule replayed over the day by ``elastalert-test-rule`` (ElastAlert2's own replay: the
    real engine, run_rule over [start, end) in buffer_time segments, writeback mocked, alerts
    printed by the debug alerter)."""
    port = urlsplit(proxy.url).port
    cfg = os.path.join(work, "ea-config.yaml")
    rules_dir = os.path.join(work, "ea-rules")
    os.makedirs(rules_dir, exist_ok=True)
    with open(cfg, "w") as f:
        f.write(f"rules_folder: {rules_dir}\nrun_every: {{minutes: 15}}\nbuffer_time: {{minutes: 15}}\n"
                f"es_host: 127.0.0.1\nes_port: {port}\nwriteback_index: elastalert_status\n"
                f"alert_time_limit: {{days: 2}}\nold_query_limit: {{days: 2}}\n")
    env = dict(os.environ, TZ="UTC")
    out = {}
    for name, text in ea_rules(pattern).items():
        path = os.path.join(rules_dir, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(text)
        proxy.take()
        t = time.perf_counter()
        p = subprocess.run([os.path.join(venv, "bin", "elastalert-test-rule"), "--config", cfg,
                            "--start", DAY[0], "--end", DAY[1], path], capture_output=True, text=True, env=env,
                           timeout=1800)
        secs = time.perf_counter() - t
        log = p.stdout + p.stderr
        with open(os.path.join(work, f"ea-{name}.log"), "w") as f:
            f.write(log)
        key_re = r'"type": "([^"]+)"' if name == "new_term" else r'"domain": "([^"]+)"'
        alerts = []
        blocks = re.split(r"^INFO:elastalert:Alert for ", log, flags=re.M)[1:]
        for blk in blocks:
            m = re.match(r"\S+ at (\S+):", blk)
            k = re.search(key_re, blk)  # the matched document comes first in its block
            alerts.append((k.group(1) if k else "", m.group(1) if m else ""))
        evaluations = len(re.findall(r"Queried rule", log))
        out[name] = {"alerts": alerts, "requests": proxy.take(), "seconds": secs, "rc": p.returncode,
                     "evaluations": evaluations,
                     "errors": [ln for ln in log.splitlines() if "ERROR" in ln or "Error" in ln][:5]}
    return out


def run_logkit(proxy: CountingProxy, pattern: str, work: str) -> dict:
    from datetime import datetime, timezone

    from elasticsearch import Elasticsearch

    from logkit.alert import load_rules
    from logkit.alert.es_source import EsSource, replay_es
    path = os.path.join(work, "logkit-rules.yml")
    with open(path, "w") as f:
        f.write(LOGKIT_RULES)
    rs = load_rules(path)
    client = Elasticsearch(proxy.url, request_timeout=300)
    start = datetime.fromisoformat(DAY[0]).replace(tzinfo=timezone.utc)
    end = datetime.fromisoformat(DAY[1]).replace(tzinfo=timezone.utc)
    out = {}
    for r in rs.rules:
        proxy.take()
        t = time.perf_counter()
        with EsSource(client, pattern, rs) as src:
            trs = replay_es(rs, src, rule=r.name, step="15m", start=start, end=end)
        secs = time.perf_counter() - t
        key = {"frequency": "domain", "spike": "domain", "flatline": "domain", "new_term": "error_type"}[r.name]
        alerts = [(tr.labels.get(key, ""), tr.at.isoformat()) for tr in trs if tr.status == "firing"]
        out[r.name] = {"alerts": alerts, "requests": proxy.take(), "seconds": secs, "evaluations": 96}
    return out


def summarize(name: str, res: dict) -> str:
    first: dict[str, str] = {}
    for k, at in res["alerts"]:
        first.setdefault(k, at)
    reqs = sum(res["requests"].values())
    lines = [f"  {name}: {len(res['alerts'])} alert(s), {len(first)} key(s); {res.get('evaluations')} "
             f"evaluation(s), {reqs} requests "
             f"({dict(res['requests'])}); {res['seconds']:.1f} s"]
    for k in sorted(first):
        lines.append(f"    {k or '-'}: first at {first[k]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--es", required=True)
    ap.add_argument("--elastalert-venv", required=True)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--index", help="Use these events (already indexed) instead of indexing a demo day.")
    a = ap.parse_args(argv)
    import glob

    from elasticsearch import Elasticsearch

    from logkit.look.demo import demo
    work = tempfile.mkdtemp(prefix="logkit-ea2-")
    pattern = a.index
    if pattern is None:
        from test_alert_es import index_files
        res = demo(work, seed=a.seed, events=a.events, report=False)
        pattern, _ = index_files(Elasticsearch(a.es, request_timeout=300),
                                 sorted(glob.glob(os.path.join(res.log_dir, "*"))), "eacmp")
    proxy = CountingProxy(a.es)
    try:
        ea = run_elastalert(a.elastalert_venv, proxy, pattern, work)
        lk = run_logkit(proxy, pattern, work)
    finally:
        proxy.close()
    print(f"events: {pattern}, day {DAY[0]} .. {DAY[1]}, evaluated every 15 min")
    for name in ea:
        print(f"[{name}]")
        print(summarize("ElastAlert2", ea[name]))
        if ea[name]["rc"] or ea[name]["errors"]:
            print(f"    ElastAlert2 exit {ea[name]['rc']}: {ea[name]['errors']}")
        print(summarize("logkit", lk[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
