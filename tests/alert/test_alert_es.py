"""Alert rules on the cluster give the same alerts as on files: the default pack over ``logkit
demo``'s day of logs (every rule kind: thresholds on named queries, ``for:``, frequency with field
filters, spike, absence/freshness, too few workers, new failure pattern, critical), the same
events read from the log files (DuckDB) and from data streams of the real test node.
"""
from __future__ import annotations

import glob
import json
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from support.es_fixtures import delete_prefixed

from logkit.alert import Source, load_rules, replay
from logkit.alert.engine import evaluate_all, run_once
from logkit.alert.es_source import EsSource, EsSourceError, replay_es, span
from logkit.alert.state import State
from logkit.look.demo import demo
from logkit.es import setup as les

pytestmark = pytest.mark.es


def index_files(client, paths: list[str], tag: str) -> tuple[str, str]:
    """The events of NDJSON ``paths`` as shipped (``_id`` = event.id) into fresh data streams:
    (index pattern, name prefix to delete)."""
    ns = tag + uuid.uuid4().hex[:8]
    prefix = f"logkit-t-{ns}"
    les.setup(client, ns, name=prefix, pattern=f"logs-logkit.*-{ns}", priority=250)
    ops: list[dict] = []
    n = 0
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                ev = json.loads(line)
                ds = (ev.get("event") or {}).get("dataset") or ev.get("event.dataset")
                ds = ds if ds in les.DATASETS else "logkit.script"
                ops.append({"create": {"_index": les.data_stream_name(ds, ns),
                                       "_id": (ev.get("event") or {}).get("id") or ev.get("event.id")}})
                ops.append(ev)
                n += 1
    for i in range(0, len(ops), 4000):
        res = client.bulk(operations=ops[i:i + 4000])
        # 409: the same _id already stored (a bulk retried after a timeout): stored once, as ship does
        bad = [it for it in res["items"] if next(iter(it.values())).get("status", 200) >= 300
               and next(iter(it.values())).get("status") != 409]
        assert not bad, bad[:3]
    pattern = f"logs-logkit.*-{ns}"
    client.indices.refresh(index=pattern)
    assert client.count(index=pattern)["count"] == n
    return pattern, prefix


@pytest.fixture(scope="module")
def day(es_client, tmp_path_factory):
    out = tmp_path_factory.mktemp("alert-es")
    res = demo(str(out), seed=1, events=20_000, report=False)
    files = sorted(glob.glob(os.path.join(res.log_dir, "*")))
    pattern, prefix = index_files(es_client, files, "alres")
    yield res.log_dir, pattern
    delete_prefixed(es_client, prefix)


#: Rules beside the default pack: the demo day has no dead letters, so the pack's frequency rule
#: never fires on it; these fire (field filters, a list value, grouping, a prefix and a negation).
EXTRA = """
rules:
  - name: DownloadFailuresBurst
    kind: frequency
    filter:
      event.action: download.failed
      error.type: {prefix: twisted}
    group_by: url.domain
    op: ">="
    value: 5
    window: 15m
    labels: {severity: warning}
  - name: ErrorsWithoutDomain
    kind: frequency
    filter:
      log.level: [error, critical]
      url.domain: {exists: false}
    op: ">="
    value: 3
    window: 30m
    for: 15m
"""


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    extra = tmp_path_factory.mktemp("rules") / "extra.yml"
    extra.write_text(EXTRA)
    return load_rules(["pack:default", str(extra)])


def _samples(res) -> dict:
    return {k: sorted((repr(sorted(s.group.items())), s.value, s.active, s.reason) for s in v)
            for k, v in res.samples.items()}


def _notes(res) -> list:
    return sorted(json.dumps(n.to_dict(), sort_keys=True, default=str) for n in res.notifications)


def _tr(trs):
    return [(t.at, t.status, t.labels, t.value, t.reason, t.annotations) for t in trs]


def test_replay_of_the_default_pack_is_the_same(day, es_client, pack):
    logs, pattern = day
    span_ = {"step": "30m"}  # the whole day (default start and end: the data's)
    ref = replay(pack, [logs], **span_)
    with EsSource(es_client, pattern, pack) as src:
        got = replay_es(pack, src, **span_)
        assert src.requests >= 3  # first event, point in time, one page at least
    assert _tr(got) == _tr(ref)
    # every kind fires at some point of the demo day, so the comparison is not vacuous
    fired = {t.labels["alertname"] for t in ref if t.status == "firing"}
    kinds = {r.kind for r in pack.rules if r.name in fired}
    assert {"threshold", "frequency", "spike", "absence", "new_pattern", "critical"} <= kinds, kinds
    assert any(r.for_.total_seconds() > 0 for r in pack.rules if r.name in fired)  # for: too


@pytest.mark.parametrize("at", ["2026-11-24T09:00:00Z", "2026-11-24T13:37:00Z", "2026-11-24T18:00:00Z"])
def test_check_at_a_time_is_the_same(day, es_client, pack, at):
    """One run with no history (``for:`` backfilled), then one 15 minutes later carrying the
    state: same samples, notifications and alerts."""
    logs, pattern = day
    t0 = datetime.fromisoformat(at.replace("Z", "+00:00"))
    ref_state, got_state = State(), State()
    with Source([logs], None, fields=pack.fields_needed()) as fsrc, EsSource(es_client, pattern, pack) as esrc:
        for t in (t0, t0 + timedelta(minutes=15)):
            esrc.read_for(t)
            assert esrc.loaded == (t - span(pack), t)
            ref = run_once(pack, fsrc, t, ref_state, deliver_to=False)
            got = run_once(pack, esrc, t, got_state, deliver_to=False)
            assert got.errors == ref.errors == {}
            # (frequency groups come in DuckDB's hash order, which depends on the load order: sorted)
            assert _samples(got) == _samples(ref)
            assert _notes(got) == _notes(ref)
        assert got_state.to_dict() == ref_state.to_dict()


def test_a_refusing_cluster_is_an_error_not_a_resolution(day, es_client, pack):
    """The index disappears between two evaluations (a wrong pattern, a deleted stream): the run
    raises after its retries; the alerts stay as they were."""
    logs, pattern = day
    t = datetime(2026, 11, 24, 13, 37, tzinfo=timezone.utc)
    state = State()
    with EsSource(es_client, pattern, pack) as src:
        src.read_for(t)
        run_once(pack, src, t, state, deliver_to=False)
    firing = {fp for fp, a in state.alerts.items() if a.status == "firing"}
    assert firing
    waits = []
    from elasticsearch import Elasticsearch
    dead = Elasticsearch("http://127.0.0.1:9", request_timeout=2, max_retries=0)  # nothing listens there
    with EsSource(dead, pattern, pack, retries=2, sleep=waits.append) as src:
        with pytest.raises(EsSourceError, match="after 3 attempt"):
            src.read_for(t + timedelta(minutes=1))
    assert waits == [1.0, 2.0]
    assert {fp for fp, a in state.alerts.items() if a.status == "firing"} == firing


# --- the state in the cluster ------------------------------------------------------------------
def test_shared_state_agrees_and_a_racing_run_is_dropped(day, es_client, pack):
    from logkit.alert.es_state import EsState, StateConflict, run_shared
    logs, pattern = day
    name = "t-" + uuid.uuid4().hex[:8]
    index = "logkit-t-alert-state-" + uuid.uuid4().hex[:6]
    t = datetime(2026, 11, 24, 13, 37, tzinfo=timezone.utc)
    try:
        with EsSource(es_client, pattern, pack) as src:
            src.read_for(t)
            first = run_shared(pack, src, t, es_client, name, index, deliver_to=False)
            assert first.firing
            # two evaluators read the same version; the first to save wins, the second is refused
            a, b = EsState.load_es(es_client, name, index), EsState.load_es(es_client, name, index)
            assert a.to_dict() == b.to_dict() and a.seq_no == b.seq_no
            t2 = t + timedelta(minutes=15)
            src.read_for(t2)
            evaluate_all(pack, src.con, t2, a)
            evaluate_all(pack, src.con, t2, b)
            a.save()
            with pytest.raises(StateConflict, match="saved by another evaluator"):
                b.save()
            stored = EsState.load_es(es_client, name, index)
            assert stored.to_dict() == a.to_dict()
        # the same sequence on a file state gives the same alerts and new-pattern memory
        ref = State()
        with Source([logs], None, fields=pack.fields_needed()) as fsrc:
            run_once(pack, fsrc, t, ref, deliver_to=False)
            evaluate_all(pack, fsrc.con, t2, ref)
        assert stored.to_dict() == json.loads(json.dumps(ref.to_dict(), default=str))
    finally:
        es_client.indices.delete(index=index, ignore_unavailable=True)


def test_cli_check_and_test_on_the_cluster(day, es_url, es_client):
    from click.testing import CliRunner

    from logkit.cli import main
    logs, pattern = day
    index = "logkit-alert-state"
    name = "t-cli-" + uuid.uuid4().hex[:6]
    r = CliRunner()
    at = "2026-11-24T13:37:00Z"
    ref = r.invoke(main, ["alerts", "check", "pack:default", logs, "--now", at, "--format", "json", "--no-deliver"])
    got = r.invoke(main, ["alerts", "check", "pack:default", "--es", es_url, "--index", pattern, "--now", at,
                          "--format", "json", "--state", f"es:{name}"])
    try:
        assert ref.exit_code == got.exit_code == 1, (ref.output, got.output)
        a, b = json.loads(ref.stdout), json.loads(got.stdout)
        assert [x["labels"] for x in a["firing"]] == [x["labels"] for x in b["firing"]] and a["firing"]
        doc = es_client.get(index=index, id=name)
        assert {x["labels"]["alertname"] for x in b["firing"]} <= \
            {v["labels"]["alertname"] for v in doc["_source"]["state"]["alerts"].values()}
        ex = r.invoke(main, ["alerts", "explain", "pack:default", "--es", es_url, "--index", pattern, "--now", at,
                             "--format", "json", "--state", f"es:{name}"])
        assert ex.exit_code == 0, ex.output
        assert any(row["status"] == "firing" for row in json.loads(ex.stdout)["rows"])
        rule = "DomainCaptchaRateHigh"
        t1 = r.invoke(main, ["alerts", "test", "pack:default", logs, "--rule", rule, "--step", "15m", "--format", "json"])
        t2 = r.invoke(main, ["alerts", "test", "pack:default", "--es", es_url, "--index", pattern, "--rule", rule,
                             "--step", "15m", "--format", "json"])
        assert t1.exit_code == t2.exit_code == 0, (t1.output, t2.output)
        assert json.loads(t1.stdout) == json.loads(t2.stdout) and json.loads(t1.stdout)
    finally:
        es_client.options(ignore_status=404).delete(index=index, id=name)
    bad = r.invoke(main, ["alerts", "check", "pack:default", "--es", "http://127.0.0.1:9", "--index", pattern,
                          "--now", at])
    assert bad.exit_code == 2 and "cannot read" in bad.output
    assert "Traceback" not in bad.output


@pytest.mark.parametrize("kw", [{}, {"since": "2026-11-24T12:00:00Z", "until": "2026-11-24T16:00:00Z"},
                                {"new_since": "2026-11-24T14:00:00Z"}], ids=["all", "window", "new-since"])
def test_patterns_on_the_cluster_are_the_files_patterns(day, es_client, kw):
    from logkit.analyze.es_report import patterns_es
    from logkit.analyze import patterns
    logs, pattern = day
    now = datetime(2026, 11, 25, tzinfo=timezone.utc)
    ref = patterns([logs], top=None, now=now, **kw)
    got = patterns_es(es_client, pattern, top=None, now=now, **kw)
    assert got[0] == ref[0]
    assert got[1] == ref[1] and ref[1]


def test_cli_patterns_on_the_cluster(day, es_url):
    from click.testing import CliRunner

    from logkit.cli import main
    logs, pattern = day
    r = CliRunner()
    a = r.invoke(main, ["patterns", logs, "--format", "json", "--top", "5", "--until", "2026-11-25T00:00:00Z"])
    b = r.invoke(main, ["patterns", "--es", es_url, "--index", pattern, "--format", "json", "--top", "5",
                        "--until", "2026-11-25T00:00:00Z"])
    assert a.exit_code == b.exit_code == 0, (a.output, b.output)
    assert json.loads(a.stdout) == json.loads(b.stdout)
    bad = r.invoke(main, ["patterns", logs, "--es", es_url])
    assert bad.exit_code == 2 and "no FILES" in bad.output


def test_cli_outage_leaves_the_state_alone(day, es_url, tmp_path):
    """A run that cannot read the cluster (check, and a watch round) says so, exits 2, and
    leaves the state file as it was: no alert resolved by an outage."""
    from click.testing import CliRunner

    from logkit.cli import main
    logs, pattern = day
    state = tmp_path / "state.json"
    r = CliRunner()
    at = "2026-11-24T13:37:00Z"
    ok = r.invoke(main, ["alerts", "check", "pack:default", "--es", es_url, "--index", pattern, "--now", at,
                         "--state", str(state)])
    assert ok.exit_code == 1, ok.output
    before = state.read_text()
    assert '"firing"' in before
    for cmd in (["check"], ["watch", "--max-iterations", "1", "--interval", "1s"]):
        bad = r.invoke(main, ["alerts", *cmd, "pack:default", "--es", "http://127.0.0.1:9", "--index", pattern,
                              "--now", "2026-11-24T13:52:00Z", "--state", str(state)])
        assert bad.exit_code == 2, bad.output
        assert "cannot read" in bad.output and "Traceback" not in bad.output
        assert state.read_text() == before
