"""Cluster percentiles equal DuckDB's quantile_cont exactly, at tens of thousands of values per
task with point masses (a cliff of runtimes at a 30 s time limit near p95, a floor of equal
queue waits), where a TDigest estimate is off by whole seconds.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest
from support.es_fixtures import delete_prefixed
from test_analyze_es import NOW, PERCENTILE_COLUMNS, load_both

from logkit.analyze import analyze
from logkit.analyze import es_report
from logkit.analyze.es_report import analyze_es

#: values per task (the issue's threshold is 20k)
N = 21000


def _write(path, rnd: random.Random) -> None:
    t0 = datetime(2026, 11, 20, tzinfo=timezone.utc).timestamp()
    with open(path, "w") as f:
        i = 0
        for task, n in (("cliff.task", N), ("floor.task", N), ("small.task", 7)):
            for _ in range(n):
                i += 1
                u = rnd.random()
                if task == "cliff.task":  # 6.5% killed at the 30 s limit: the cliff is at p93.5..p100
                    rt = 30.0 if u < 0.065 else round(rnd.lognormvariate(1.0, 0.8), 3)
                    rt = min(rt, 30.0)
                    qw = round(rnd.expovariate(2), 4)
                elif task == "floor.task":  # half of them 0.5 s exactly, the rest spread wide
                    rt = 0.5 if u < 0.5 else rnd.uniform(0.5, 60.0)
                    qw = 0.25 if u < 0.9 else round(rnd.uniform(0.25, 40), 2)
                else:
                    rt, qw = float(i % 3), 1.0
                action = "task.failed" if (task == "cliff.task" and rt == 30.0) else "task.succeeded"
                ts = datetime.fromtimestamp(t0 + i * 0.5, timezone.utc).isoformat(timespec="milliseconds")
                f.write(json.dumps({
                    "@timestamp": ts.replace("+00:00", "Z"), "log.level": "info", "message": "done",
                    "event.id": f"pct-{i}", "event.dataset": "logkit.celery", "service.name": "workers",
                    "event.action": action, "event.outcome": "failure" if action == "task.failed" else "success",
                    "celery.task.name": task, "celery.task.queue_wait": qw, "celery.task.runtime": rt}) + "\n")
            # a retried attempt without runtime: not a value of the runtime percentiles
            f.write(json.dumps({"@timestamp": "2026-11-20T00:00:00.000Z", "log.level": "warning", "message": "r",
                                "event.id": f"pct-r-{task}", "event.dataset": "logkit.celery",
                                "service.name": "workers", "event.action": "task.retried",
                                "celery.task.name": task}) + "\n")


@pytest.fixture(scope="module")
def big(es_client, tmp_path_factory):
    path = tmp_path_factory.mktemp("pct") / "pct.ndjson"
    _write(path, random.Random(18))
    store, pattern, prefix = load_both(es_client, [str(path)])
    yield store, pattern
    store.close()
    delete_prefixed(es_client, prefix)


def _rows(rep) -> dict:
    return {r["task"]: r for r in rep["tasks"].dicts()}


@pytest.mark.es
@pytest.mark.slow
@pytest.mark.parametrize("kw", [{}, {"since": "2026-11-20T01:00:00Z", "until": "2026-11-20T05:30:00Z"}],
                         ids=["all", "window"])
def test_percentiles_equal_duckdb_exactly(big, es_client, kw):
    store, pattern = big
    ref = _rows(analyze(db=store, now=NOW, top=None, sections=["tasks"], **kw))
    got = _rows(analyze_es(es_client, pattern, now=NOW, top=None, sections=["tasks"], **kw))
    assert ref.keys() == got.keys() and len(ref) >= 2
    for task in ref:
        for col in PERCENTILE_COLUMNS:
            # bit for bit, not "close": the figure shown is then the same at any precision
            assert got[task][col] == ref[task][col], (task, col, got[task][col], ref[task][col])
        assert got[task] == ref[task]


@pytest.mark.es
@pytest.mark.slow
def test_the_cliff_defeats_an_estimate(big, es_client):
    """Why the exact path exists: at this cliff TDigest (even at compression 1000) or HDR with 3
    significant digits does not give DuckDB's p95/p99 to the value shown (3 decimals)."""
    store, pattern = big
    ref = _rows(analyze(db=store, now=NOW, top=None, sections=["tasks"]))
    shown = lambda v: f"{v:.3f}"  # noqa: E731  (logkit.look.render's float format)
    wrong = 0
    for method in ({"tdigest": {"compression": 1000}}, {"hdr": {"number_of_significant_value_digits": 3}}):
        for task in ("cliff.task", "floor.task"):
            r = es_client.search(index=pattern, size=0, query={"bool": {"filter": [
                {"term": {"celery.task.name": task}},
                {"terms": {"event.action": ["task.succeeded", "task.failed"]}}]}},
                aggs={"p": {"percentiles": {"field": "celery.task.runtime", "percents": [50, 95, 99],
                                            "keyed": False, **method}}})
            for v, col in zip(r["aggregations"]["p"]["values"], ("runtime_p50", "runtime_p95", "runtime_p99")):
                wrong += shown(v["value"]) != shown(ref[task][col])
    assert wrong > 0


@pytest.mark.es
@pytest.mark.slow
def test_exact_path_survives_bad_estimates_and_paging(big, es_client, monkeypatch):
    """Estimates far off (every lower bound above the rank) and pages of a few distinct values: more
    rounds, the same exact figures."""
    store, pattern = big
    ref = _rows(analyze(db=store, now=NOW, top=None, sections=["tasks"]))
    monkeypatch.setattr(es_report, "_TERMS_PAGE", 1500)
    real = es_report._Target.__init__

    def skewed(self, key, query, field, q, n, estimates):
        # every estimate pushed to the top of the sample: the lower bound is always too high at first
        real(self, key, query, field, q, n, {k: v * 10 + 100 for k, v in estimates.items()})
        self.tries = [1e9, 1e6] + self.tries[-1:]
    monkeypatch.setattr(es_report._Target, "__init__", skewed)
    got = _rows(analyze_es(es_client, pattern, now=NOW, top=None, sections=["tasks"]))
    for task in ref:
        for col in PERCENTILE_COLUMNS:
            assert got[task][col] == ref[task][col], (task, col)
