"""The report's failure patterns, counted in DuckDB first: equal to mining every failure row."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from logkit.analyze import queries as Q
from logkit.analyze.failures import failure_patterns, pattern_id
from logkit.analyze.store import Store
from logkit.emit import Renderer
from logkit.patterns import TemplateMiner

T0 = datetime(2026, 11, 24, tzinfo=timezone.utc)


def per_row_reference(con, flt: Q.Filters, *, top, prev_since, miner):
    """The previous implementation: every failure row through the miner, grouped in Python."""
    _, rows = Q.run(con, "failure_events", flt, prev_since=prev_since)
    assigned = miner.mine(r[2] for r in rows)
    groups: dict[str, dict] = {}
    for (ts, kind, msg, domain, service), (tid, template) in zip(rows, assigned):
        pid = pattern_id(kind, tid)
        g = groups.setdefault(pid, {"kind": kind, "template": template, "count": 0, "before": 0, "first": None,
                                    "last": None, "example": None, "domains": set(), "services": set()})
        if flt.since is not None and ts < flt.since:
            g["before"] += 1
            continue
        g["count"] += 1
        if g["first"] is None:
            g["first"], g["example"] = ts, msg
        g["last"] = ts
        if domain is not None:
            g["domains"].add(domain)
        if service is not None:
            g["services"].add(service)
    out = []
    for pid, g in groups.items():
        if not g["count"]:
            continue
        doms = sorted(g["domains"])
        new = None if prev_since is None else g["before"] == 0
        out.append((pid, g["kind"], g["template"], g["count"], g["first"], g["last"], g["example"], len(doms),
                    doms[:3] or None, sorted(g["services"]) or None, new))
    out.sort(key=lambda r: (-r[3], r[1], r[2]))
    return out[:top] if top else out


def _messages(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(0, 10**6)
    return rng.choice([
        ("KeyError", f"'row {n % 977}'"),
        ("TimeoutError", f"User timeout caused connection failure: took {180 + n % 7} s."),
        # A digit the masking keeps (`ssh2`, `ssh3`): forms that must not be counted together.
        ("AuthError", f"Failed password for {rng.choice(['root', 'git', 'ftp'])} from 10.0.{n % 256}.{n % 7} "
                      f"port {n % 65535} ssh{rng.choice([1, 2, 2, 2, 3])}"),
        ("ValueError", f"bad pointer 0x{n:x} freed at 0x{n * 7:x}"),  # 0x keeps its zeros
        ("ValueError", f"bad value {n} for md5 and md{rng.choice([4, 5])}"),
        ("OSError", f"disk quota exceeded on /srv/{rng.choice('abc')}/{n}"),
        (None, f"job {n} moved from {rng.choice(['QUEUED', 'RUNNING'])} to FAILED"),
        (None, f"VM {rng.choice(['Started', 'Paused', 'Resumed', 'Stopped'])} (instance {n:x})"),
        ("ZeroDivisionError", "division by zero"),
    ])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = random.Random(16)
    path = tmp_path_factory.mktemp("fp") / "events.ndjson"
    renderers = [Renderer("workers", "celery"), Renderer("spiders", "scrapy"), Renderer("web", "django")]
    with open(path, "wb") as f:
        for i in range(3000):
            etype, msg = _messages(rng)
            created = (T0 + timedelta(seconds=37 * i + rng.randint(0, 30))).timestamp()
            fields = {"url.domain": rng.choice(["a.example", "b.example", "c.example", "d.example", None])}
            fields = {k: v for k, v in fields.items() if v is not None}
            if etype:
                fields.update({"error.type": etype, "error.message": msg})
            level = rng.choice(["error", "error", "critical", "info"])
            f.write(rng.choice(renderers).render(msg, level, "app", created, fields) + b"\n")
    with Store() as s:
        s.load([str(path)])
        yield s


@pytest.mark.parametrize("window", [None, "since", "since+prev", "until+domain"])
def test_counted_first_equals_mining_every_row(store, window):
    since = T0 + timedelta(hours=12)
    flt, prev = Q.Filters(), None
    if window == "since":
        flt = Q.Filters(since=since)
    elif window == "since+prev":
        flt, prev = Q.Filters(since=since), since - timedelta(hours=6)
    elif window == "until+domain":
        flt = Q.Filters(until=since, domains=("a.example", "c.example"))
    cols, got = failure_patterns(store.con, flt, top=None, prev_since=prev, remember=False)
    want = per_row_reference(store.con, flt, top=None, prev_since=prev, miner=TemplateMiner())
    assert got == want
    assert len(got) >= 8
    # The kept digit splits: ssh2 and ssh3 are different templates of AuthError.
    auth = {r[cols.index("template")] for r in got if r[cols.index("kind")] == "AuthError"}
    assert any(t.endswith("ssh2") for t in auth) and any(t.endswith("ssh3") for t in auth)
    # Lifecycle states are four events, not one.
    vm = {r[cols.index("template")] for r in got if r[cols.index("template")].startswith("VM ")}
    assert len(vm) == 4
    top = failure_patterns(store.con, flt, top=3, prev_since=prev, remember=False)[1]
    assert top == want[:3]


def test_known_templates_keep_their_ids_through_the_counted_path(store):
    day1 = TemplateMiner()
    day1.mine(["disk quota exceeded on /srv/a/1"] * 3)
    known = day1.dump()
    m1, m2 = TemplateMiner(), TemplateMiner()
    m1.load(known)
    m2.load(known)
    got = failure_patterns(store.con, Q.Filters(), top=None, miner=m1, remember=False)[1]
    assert got == per_row_reference(store.con, Q.Filters(), top=None, prev_since=None, miner=m2)
    assert m1.dump() == m2.dump()
    assert pattern_id("OSError", known[0][0]) in {r[0] for r in got}


def test_mine_counts_equals_mine_of_the_repeated_messages():
    rng = random.Random(3)
    lines = [_messages(rng)[1] for _ in range(2000)]
    counts: dict[str, int] = {}
    for x in lines:
        counts[x] = counts.get(x, 0) + 1
    a, b = TemplateMiner(), TemplateMiner()
    by_line = dict(zip(lines, a.mine(lines)))
    assert b.mine_counts(counts.items()) == [by_line[x] for x in counts]
    assert [(t.id, t.template, t.count) for t in a.templates()] == [(t.id, t.template, t.count) for t in b.templates()]
    with pytest.raises(ValueError):
        TemplateMiner().mine_counts([("x", 0)])


def test_failures_are_counted_per_message_form(store):
    from logkit.analyze.failures import _grouped_failures

    _, rows = Q.run(store.con, "failure_events", Q.Filters())
    forms = _grouped_failures(store.con, Q.Filters(), None)
    assert sum(f[3] for f in forms) == len(rows) > 1000
    assert len(forms) * 2 < len(rows)  # the miner sees a fraction of the rows
    # Messages whose masked form keeps a digit are counted per message (key = the message).
    kept = [f for f in forms if "ssh" in f[2]]
    assert kept and all(f[1] == f[2] for f in kept)
    assert any(f[1] != f[2] for f in forms)
