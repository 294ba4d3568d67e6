"""`alerts --es` on a real three-node cluster: a node stopped in the middle of an evaluation's
read, and data streams rolled over between two evaluations, give the alerts the same events give
from files: a retried read, never a false resolve or a false absence."""
from __future__ import annotations

import glob
import os
from datetime import datetime, timedelta, timezone

import pytest
from test_alert_es import _notes, index_files

from logkit.alert import Source, load_rules
from logkit.alert.engine import run_once
from logkit.alert.es_source import EsSource
from logkit.alert.state import State
from logkit.look.demo import demo

pytestmark = [pytest.mark.es, pytest.mark.slow]


def _alerts(st: State) -> dict:
    return {fp: (a.status, a.labels, a.value) for fp, a in st.alerts.items()}


def test_node_loss_and_rollover_between_and_during_evaluations(es_cluster3, tmp_path):
    from elasticsearch import Elasticsearch

    from logkit.es import setup as les
    client = Elasticsearch(es_cluster3.urls, request_timeout=120, retry_on_timeout=True, max_retries=3)
    res = demo(str(tmp_path), seed=2, events=8000, report=False)
    files = sorted(glob.glob(os.path.join(res.log_dir, "*")))
    real_setup = les.setup
    # one replica of every shard: a node may go without losing events
    les.setup = lambda c, ns, **kw: real_setup(c, ns, replicas=1, **kw)
    try:
        pattern, _ = index_files(client, files, "alcl")
    finally:
        les.setup = real_setup
    es_cluster3.wait("green", nodes=3)
    pack = load_rules("pack:default")
    times = [datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc) + timedelta(minutes=15 * i) for i in range(4)]
    ref, got = State(), State()
    stopped: list[int] = []

    def stop_a_node(n_read: int) -> None:  # in the middle of the second evaluation's read
        if evaluation[0] == 1 and not stopped and n_read >= 400:
            stopped.append(2)
            es_cluster3.stop_node(2)

    evaluation = [0]
    with Source([res.log_dir], None, fields=pack.fields_needed()) as fsrc, \
            EsSource(client, pattern, pack, page=200, backoff=2.0, retries=5, on_page=stop_a_node) as esrc:
        for i, t in enumerate(times):
            evaluation[0] = i
            if i == 2:  # every data stream rolls over: the events now span two backing indices each
                streams = client.indices.resolve_index(name=pattern)["data_streams"]
                assert streams
                for ds in streams:
                    client.indices.rollover(alias=ds["name"])
            esrc.read_for(t)
            a = run_once(pack, fsrc, t, ref, deliver_to=False)
            b = run_once(pack, esrc, t, got, deliver_to=False)
            assert b.errors == a.errors == {}
            assert _notes(b) == _notes(a), t
            assert _alerts(got) == _alerts(ref), t
    assert stopped == [2]
    assert any(a.status == "firing" for a in ref.alerts.values())
    # the read spanned the node's departure: whether its shards answered or were retried, the
    # figures are complete (the assertions above); print what happened for the log
    print("retried reads:", esrc.retried)
