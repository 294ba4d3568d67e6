"""End to end: a real Scrapy crawl of a planned 127.0.0.1 site, then `logkit analyze` (DuckDB).

tests/sites/e2e_site.py says, page by page, what the server does (ok, 404, 500, a timeout, a
reset, a refused port, a name that never resolves, real challenge and block pages from the
corpus, decoys that talk about captchas and blocking, item pages). The expected per-domain
figures below are derived from that plan alone, never from the detector; the crawl is run
twice, once with every body sent plain and once with bodies compressed (gzip, deflate, br in
rotation), and both must give exactly those figures.
"""
from __future__ import annotations

import json
import os
import subprocess
from collections import Counter

import pytest

from support.integrations_support import PYTHON, ROOT, read_ndjson

from tests.sites.e2e_site import E2ESite, build_plan
from tests.sites.faults import closed_port

LOCAL = "127.0.0.1"
DNS_DOMAIN = "logkit-e2e.invalid"


def expected_figures(plan: dict) -> dict:
    """Per-domain figures as the plan dictates them."""
    served = {p: e for p, e in plan.items() if isinstance(e["serve"], tuple)}
    statuses = [e["serve"][0] for e in served.values()]
    errors_local = Counter(e["error"] for p, e in plan.items() if "error" in e and DNS_DOMAIN not in p)
    fails_local = sum(errors_local.values())
    cls = Counter(f"status_{s // 100}xx" for s in statuses)
    return {
        LOCAL: {
            "requests": len(served) + fails_local,
            "status_2xx": cls["status_2xx"], "status_3xx": cls["status_3xx"],
            "status_4xx": cls["status_4xx"], "status_5xx": cls["status_5xx"],
            "download_failed": fails_local,
            "errors": fails_local + cls["status_4xx"] + cls["status_5xx"],
            "captchas": sum(1 for e in plan.values() if "captcha" in e),
            "blocks": sum(1 for e in plan.values() if "block" in e),
            "items_new": sum(1 for e in plan.values() if e.get("item") == "new"),
            "items_updated": sum(1 for e in plan.values() if e.get("item") == "updated"),
        },
        DNS_DOMAIN: {"requests": 1, "status_2xx": 0, "status_3xx": 0, "status_4xx": 0, "status_5xx": 0,
                     "download_failed": 1, "errors": 1, "captchas": 0, "blocks": 0, "items_new": 0,
                     "items_updated": 0},
        "errors_by_type": {(LOCAL, k): v for k, v in errors_local.items()} | {(DNS_DOMAIN, "dns"): 1},
        "captcha_vendors": Counter((LOCAL, e["captcha"]) for e in plan.values() if "captcha" in e),
        "block_vendors": Counter((LOCAL, e["block"] or "none") for e in plan.values() if "block" in e),
    }


def _logkit(*args: str) -> str:
    proc = subprocess.run([PYTHON, "-m", "logkit", *args], cwd=ROOT, capture_output=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    return proc.stdout.decode()


def report_figures(log_file) -> dict:
    """What `logkit analyze` and `logkit query` (DuckDB) say about the crawl."""
    report = json.loads(_logkit("analyze", str(log_file), "--format", "json", "--top", "0"))
    sections = report["sections"] if "sections" in report else report
    domains = {r["domain"]: r for r in _rows(sections, "domains")}
    keys = ("requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx", "download_failed", "errors",
            "captchas", "blocks", "items_new", "items_updated")
    out: dict = {d: {k: int(r[k] or 0) for k in keys} for d, r in domains.items()}
    out["captcha_vendors"] = Counter({(r["domain"], r["vendor"]): int(r["captchas"])
                                      for r in _rows(sections, "captcha_vendors")})
    q = ('SELECT "url.domain" AS domain, "error.type" AS t, count(*) AS n FROM events '
         "WHERE \"event.action\" = 'download.failed' GROUP BY ALL")
    out["errors_by_type"] = {(r["domain"], r["t"]): int(r["n"])
                             for r in json.loads(_logkit("query", q, str(log_file), "--format", "json"))}
    q = ('SELECT "url.domain" AS domain, coalesce("scrapy.challenge.vendor", \'none\') AS v, count(*) AS n '
         "FROM events WHERE \"event.action\" = 'block.detected' GROUP BY ALL")
    out["block_vendors"] = Counter({(r["domain"], r["v"]): int(r["n"])
                                    for r in json.loads(_logkit("query", q, str(log_file), "--format", "json"))})
    return out


def _rows(sections, name):
    sec = sections[name]
    rows = sec["rows"] if isinstance(sec, dict) else sec
    if rows and not isinstance(rows[0], dict):
        cols = sec["columns"]
        rows = [dict(zip(cols, r)) for r in rows]
    return rows


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    plan = build_plan(closed_port())
    out = {}
    for mode in ("plain", "compressed"):
        log = d / f"{mode}.ndjson"
        with E2ESite(plan, compress=(mode == "compressed")) as site:
            env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            proc = subprocess.run([PYTHON, "-m", "tests.sites.e2e_site", site.base + "/", "--log-file", str(log)],
                                  env=env, cwd=ROOT, capture_output=True, timeout=300)
            assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-4000:]
            out[mode] = {"log": log, "sent": dict(site.sent), "events": read_ndjson(log)}
    return plan, out


@pytest.mark.parametrize("mode", ["plain", "compressed"])
def test_analyze_reproduces_the_planned_figures(crawls, mode):
    plan, out = crawls
    got = report_figures(out[mode]["log"])
    want = expected_figures(plan)
    assert got[LOCAL] == want[LOCAL]
    assert got[DNS_DOMAIN] == want[DNS_DOMAIN]
    assert got["errors_by_type"] == want["errors_by_type"]
    assert got["captcha_vendors"] == want["captcha_vendors"]
    assert got["block_vendors"] == want["block_vendors"]


def test_compressed_crawl_really_was_compressed_and_gives_identical_figures(crawls):
    plan, out = crawls
    sent = out["compressed"]["sent"]
    assert not out["plain"]["sent"]
    challenge_pages = [p for p, e in plan.items() if "captcha" in e or "block" in e]
    assert all(p in sent for p in challenge_pages if plan[p]["serve"][2])
    assert {"gzip", "deflate", "br"} <= set(sent.values())
    assert report_figures(out["plain"]["log"]) == report_figures(out["compressed"]["log"])


def test_decoys_and_item_pages_are_not_challenges(crawls):
    _, out = crawls
    for mode in ("plain", "compressed"):
        flagged = {e["url.full"].split("/", 3)[-1] for e in out[mode]["events"]
                   if e.get("event.action") in ("captcha.detected", "block.detected")}
        assert not {u for u in flagged if u.startswith(("decoy", "item"))}, (mode, flagged)
