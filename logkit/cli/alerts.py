"""``logkit alerts``: evaluate alert rules over logs (see docs/alerts.md).

    logkit alerts check RULES [FILES...] [--db DB] [--now T] [--state FILE]   # cron / CI
    logkit alerts watch RULES [FILES...] [--db DB] --interval 1m
    logkit alerts explain RULES [FILES...] [--db DB] [--format table|json]
    logkit alerts test RULES FILE... [--rule NAME] [--step 5m]
    ... --es URL [--index PATTERN] [--ingest-delay 15s]   # any of them over a cluster's events

RULES is a rules file, or ``pack:default`` for the pack shipped with logkit.
"""
from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime, timezone

import click
import orjson

from ..analyze.escape import json_text

_NOW_HELP = ("Evaluation time: ISO 8601 (UTC when naive), relative (2h = two hours ago), or 'latest' "
             "(just after the last event, to check old logs). Default: now.")
_STATE_HELP = ("State file (JSON) kept between runs: an alert is notified once, then every repeat_interval, and "
               "undelivered notifications are retried. Default: $LOGKIT_ALERT_STATE, else none (nothing "
               "persists).")
_ROUTE_HELP = ("Add a route: stdout | slack:ENV | webhook:ENV | alertmanager:URL | alertmanager:ENV "
               "(ENV: the environment variable holding the URL; repeatable).")


def _err(msg: str) -> None:
    from ..analyze.escape import terminal
    click.echo(f"logkit alerts: {terminal(msg)}", err=True)


def _die(msg: str, code: int = 2):
    _err(msg)
    sys.exit(code)


def _load(rules: str, routes: tuple[str, ...] = ()):
    from ..alert import RuleError, load_rules
    from ..alert.rules import Route
    try:
        rs = load_rules(rules)
    except RuleError as e:
        _die(str(e))
    for spec in routes:
        typ, _, target = spec.partition(":")
        if typ not in ("stdout", "slack", "webhook", "alertmanager") or (typ != "stdout" and not target):
            _die(f"--route {spec!r}: use stdout, slack:ENV, webhook:ENV, alertmanager:URL or alertmanager:ENV")
        r = Route(type=typ, name=f"cli-{typ}-{len(rs.routes)}")
        if typ == "alertmanager" and target.startswith(("http://", "https://")):
            r.url = target.rstrip("/")
        elif target:
            if target.startswith(("http://", "https://")):
                _die(f"--route {typ}: a {typ} URL is a secret: export it in an environment variable and "
                     f"give the variable's name")
            r.url_env = target
        rs.routes.append(r)
    return rs


def _source(rs, inputs, db, es=None):
    from ..alert import RuleEvalError, Source
    from ..analyze import NothingToRead
    if es is not None:
        return _es_source(rs, inputs, db, es)
    if not inputs and not db:
        inputs = ("-",)
    try:
        return Source(list(inputs), db, fields=rs.fields_needed())
    except (NothingToRead, RuleEvalError) as e:
        _die(str(e))
    except Exception as e:  # duckdb errors opening a store
        _die(f"cannot open the events: {e}")


def _now(now, src, es=None):
    from ..alert import resolve_now
    try:
        if es is not None:
            from ..alert.es_source import EsSourceError, resolve_es_now
            try:
                return resolve_es_now(now, src, es["delay"])
            except EsSourceError as e:
                _die(str(e))
        return resolve_now(now, src)
    except ValueError as e:
        _die(str(e))


# --- --es: the events of a cluster (logkit.alert.es_source) -------------------------------------
def _es_options(f):
    f = click.option("--ingest-delay", default="15s", show_default=True,
                     help="With --es and no --now: evaluate at the clock minus this, so that every window "
                          "is complete (events arrive in the cluster after their @timestamp).")(f)
    f = click.option("--index", help="With --es: index or data stream pattern (default logs-logkit.*-*).")(f)
    f = click.option("--es", "es_url", help="Evaluate over the events of this Elasticsearch cluster "
                                            "(credentials and TLS from LOGKIT_ES_* as for `logkit ship`).")(f)
    return f


def _es(es_url, index, ingest_delay):
    """The --es settings, or None."""
    if not es_url:
        if index:
            _die("--index needs --es URL")
        return None
    from ..alert.rules import parse_duration
    from ..es.setup import index_pattern
    try:
        delay = parse_duration(ingest_delay)
    except ValueError as e:
        _die(f"--ingest-delay: {e}")
    return {"url": es_url, "index": index or index_pattern(), "delay": delay}


def _es_source(rs, inputs, db, es):
    from ..alert.es_source import EsSource
    from ..es.client import es_client
    if inputs or db:
        _die("--es evaluates over the cluster: give no INPUTS nor --db with it")
    return EsSource(es_client(es["url"]), es["index"], rs)


def _es_state(path, es):
    """``--state es:NAME`` (with --es): the state document NAME in the cluster, else None."""
    if not path or not path.startswith("es:"):
        return None
    if es is None:
        _die("--state es:NAME keeps the state in the cluster: give --es URL too")
    name = path[3:]
    if not name:
        _die("--state es:NAME: give the state a name (e.g. es:prod-alerts)")
    return name


def _run(rs, src, t, path, es, deliver_to=True):
    """One evaluation with the state in a file (locked) or in the cluster (compare-and-set)."""
    from ..alert import State
    from ..alert.engine import run_once
    name = _es_state(path, es)
    if name is not None:
        from ..alert.es_state import EsState, run_shared
        if not deliver_to:  # evaluate and print only: the stored state is not changed
            return run_once(rs, src, t, EsState.load_es(src.client, name), deliver_to=False)
        return run_shared(rs, src, t, src.client, name)
    holder = State(path)
    with holder.locked():
        st = State.load(path)
        res = run_once(rs, src, t, st, deliver_to=deliver_to)
        if deliver_to:
            st.save()
    return res


def _read(src, t, es) -> str | None:
    """With --es: read what the rules look at, at ``t``; the error's text when the cluster fails."""
    if es is None:
        return None
    from ..alert.es_source import EsSourceError
    try:
        src.read_for(t)
    except EsSourceError as e:
        from ..es.client import redact_url
        return f"{redact_url(es['url'])}: {e}"
    return None


def _state_path(state):
    import os
    return state if state is not None else (os.environ.get("LOGKIT_ALERT_STATE") or None)


def _group_text(labels: dict, skip=("alertname", "severity", "team")) -> str:
    return " ".join(f"{k}={v}" for k, v in labels.items() if k not in skip)


def alert_line(a) -> str:
    """One alert as people read it: its group and the rule's summary annotation (what the pack
    writes for humans), else the raw condition (the raw ratios stay in --format json and explain)."""
    summary = (a.annotations or {}).get("summary")
    return f"{a.status.upper():8} {a.rule}  {_group_text(a.labels)}  {summary or a.reason}  (since {a.active_at})"


def _print_run(res, fmt: str, out=None) -> None:
    from ..analyze.escape import terminal
    out = out or sys.stdout
    if fmt == "json":
        doc = {"now": res.now.isoformat(), "firing": [a.__dict__ for a in res.firing],
               "pending": [a.__dict__ for a in res.pending],
               "notifications": [n.to_dict() for n in res.notifications],
               "deliveries": [d.__dict__ for d in res.deliveries], "errors": res.errors, "outbox": res.outbox}
        out.write(json_text(orjson.dumps(doc, option=orjson.OPT_INDENT_2, default=str).decode()) + "\n")
        return
    for a in res.firing + res.pending:
        out.write(terminal(alert_line(a)) + "\n")
    if not res.firing and not res.pending:
        out.write(f"no alert firing at {res.now.isoformat()}\n")


def _report_deliveries(res) -> None:
    for d in res.deliveries:
        if d.sent:
            click.echo(f"logkit alerts: {d.sent} notification(s) delivered to {d.target}", err=True)
        if d.failed or d.errors:
            _err(f"delivery to {d.target} failed ({d.failed} notification(s) kept for the next run): "
                 + "; ".join(d.errors))
    if res.outbox:
        _err(f"{res.outbox} notification(s) waiting in the state's outbox")


def _exit_code(res) -> int:
    if res.errors:
        return 2
    return 1 if res.firing else 0


@click.group("alerts")
def alerts() -> None:
    """Alert rules over the logs: check (cron/CI), watch, explain, test.

    RULES is a YAML rules file, or pack:default for the pack shipped with logkit (error and
    CAPTCHA rates, stale sources, task failures and timeouts, too few workers). `explain` shows
    each rule's value per group and why it fires or not; `test` replays log files through one
    rule. `check` exits 1 when an alert fires, 2 on bad rules or input.
    """


def _common(f):
    f = click.option("--db", help="DuckDB store to evaluate over (after loading INPUTS into it, if given).")(f)
    f = click.option("--route", "routes", multiple=True, help=_ROUTE_HELP)(f)
    return f


@alerts.command("check")
@click.argument("rules")
@click.argument("inputs", nargs=-1)
@_common
@click.option("--now", help=_NOW_HELP)
@click.option("--state", help=_STATE_HELP)
@click.option("--no-deliver", is_flag=True, help="Evaluate and print only: send nothing, keep the state as it was.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_es_options
def check(rules, inputs, db, routes, now, state, no_deliver, fmt, es_url, index, ingest_delay):
    """Evaluate RULES once over INPUTS (files, globs, directories, - for stdin) or --db.

    Exit codes: 0 no alert firing, 1 at least one firing, 2 error (bad rules, nothing to read, a rule
    that could not be evaluated).
    """
    from ..alert import StateError
    rs = _load(rules, routes)
    es = _es(es_url, index, ingest_delay)
    src = _source(rs, inputs, db, es)
    try:
        t = _now(now, src, es)
        failed = _read(src, t, es)
        if failed:  # nothing evaluated, the state untouched: an outage is not a resolution
            _die(failed)
        path = _state_path(state)
        try:
            res = _run(rs, src, t, path, es, deliver_to=not no_deliver)
        except StateError as e:
            _die(str(e))
        except OSError as e:
            _die(f"state file {path}: {e.strerror or e}")
    finally:
        src.close()
    _print_run(res, fmt)
    _report_deliveries(res)
    for name, e in res.errors.items():
        _err(f"rule {name!r} could not be evaluated: {e}")
    sys.exit(_exit_code(res))


@alerts.command("watch")
@click.argument("rules")
@click.argument("inputs", nargs=-1)
@_common
@click.option("--interval", default="1m", show_default=True, help="Time between evaluations (30s, 1m, 5m).")
@click.option("--now", help="Evaluation time of each run (default: the clock; 'latest': just after the last event).")
@click.option("--state", help=_STATE_HELP)
@click.option("--max-iterations", type=click.IntRange(min=0), default=0,
              help="Stop after this many evaluations (0: until SIGINT/SIGTERM).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_es_options
def watch(rules, inputs, db, routes, interval, now, state, max_iterations, fmt, es_url, index, ingest_delay):
    """Re-evaluate RULES every --interval over INPUTS (appended lines are picked up) or --db.

    Stops on SIGINT or SIGTERM (after the current evaluation; the state is saved). Exit code as check
    for the last evaluation.
    """
    from ..alert import StateError
    from ..alert.rules import parse_duration
    from ..analyze import NothingToRead
    rs = _load(rules, routes)
    es = _es(es_url, index, ingest_delay)
    try:
        every = parse_duration(interval).total_seconds()
    except ValueError as e:
        _die(f"--interval: {e}")
    stop = threading.Event()

    def _on_signal(signum, frame):
        stop.set()

    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    path = _state_path(state)
    src = None
    code = 0
    n = 0
    try:
        while not stop.is_set():
            n += 1
            try:
                if src is None or db and not inputs and es is None:
                    if src is not None:
                        src.close()
                    src = _source(rs, inputs, db, es)
                else:
                    src.refresh()
                t = _now(now, src, es)
                failed = _read(src, t, es)
            except NothingToRead as e:
                _err(str(e))
                code = 2
            else:
                if failed:  # the cluster did not answer completely: skip this run, alerts as they were
                    _err(f"not evaluated at {t.isoformat()}: {failed}")
                    code = 2
                    if max_iterations and n >= max_iterations:
                        break
                    stop.wait(every)
                    continue
                try:
                    res = _run(rs, src, t, path, es)
                except StateError as e:
                    from ..alert.es_state import StateConflict
                    if not isinstance(e, StateConflict):
                        _die(str(e))
                    _err(str(e))  # another watch saved this round first: theirs stands
                    if max_iterations and n >= max_iterations:
                        break
                    stop.wait(every)
                    continue
                stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
                if fmt == "json":
                    _print_run(res, "json")
                else:
                    click.echo(f"[{stamp}] evaluated at {t.isoformat()}: {len(res.firing)} firing, "
                               f"{len(res.pending)} pending, {len(res.notifications)} notification(s)")
                    _print_run(res, "text")
                sys.stdout.flush()
                _report_deliveries(res)
                for name, e in res.errors.items():
                    _err(f"rule {name!r} could not be evaluated: {e}")
                code = _exit_code(res)
            if max_iterations and n >= max_iterations:
                break
            stop.wait(every)
    finally:
        if src is not None:
            src.close()
        for s, h in old.items():
            signal.signal(s, h)
    sys.exit(code)


@alerts.command("explain")
@click.argument("rules")
@click.argument("inputs", nargs=-1)
@click.option("--db", help="DuckDB store to evaluate over.")
@click.option("--now", help=_NOW_HELP)
@click.option("--state", help="State file to read (pending/firing status); it is not modified.")
@click.option("--rule", "only", multiple=True, help="Only this rule (repeatable).")
@click.option("--active", is_flag=True, help="Only the groups whose condition holds.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_es_options
def explain(rules, inputs, db, now, state, only, active, fmt, es_url, index, ingest_delay):
    """Each rule's value per group at --now, and why it fires or not. Changes nothing."""
    from ..alert import State, StateError
    from ..alert.engine import evaluate_all
    from ..alert.state import fingerprint, render
    rs = _load(rules)
    if only:
        try:
            rs.rules = [rs.rule(n) for n in only]
        except KeyError as e:
            _die(str(e.args[0]))
    es = _es(es_url, index, ingest_delay)
    src = _source(rs, inputs, db, es)
    try:
        t = _now(now, src, es)
        failed = _read(src, t, es)
        if failed:
            _die(failed)
        try:
            name = _es_state(_state_path(state), es)
            if name is not None:
                from ..alert.es_state import EsState
                st = EsState.load_es(src.client, name)
            else:
                st = State.load(_state_path(state))
        except StateError as e:
            _die(str(e))
        samples, _, errors = evaluate_all(rs, src.con, t, st)
    finally:
        src.close()
    rows = []
    for r in rs.rules:
        if r.name in errors:
            rows.append({"rule": r.name, "kind": r.kind, "group": {}, "value": None, "condition": None,
                         "status": "error", "reason": errors[r.name]})
            continue
        ss = samples.get(r.name, [])
        if not ss:
            rows.append({"rule": r.name, "kind": r.kind, "group": {}, "value": None, "condition": False,
                         "status": "", "reason": "no group has data in the window"})
        for s in ss:
            if active and not s.active:
                continue
            a = st.alerts.get(fingerprint(render(r, s)[0]))
            rows.append({"rule": r.name, "kind": r.kind, "group": s.group, "value": s.value, "condition": s.active,
                         "status": a.status if (a and s.active) else "", "reason": s.reason})
    if fmt == "json":
        sys.stdout.write(json_text(orjson.dumps({"now": t.isoformat(), "rows": rows}, option=orjson.OPT_INDENT_2,
                                      default=str).decode()) + "\n")
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
        from ..analyze.escape import terminal
        table = Table(title=f"alert rules at {t.isoformat()}", show_lines=False)
        for c in ("rule", "group", "value", "holds", "status", "why"):
            table.add_column(c, overflow="fold")
        for row in rows:
            v = row["value"]
            vs = "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
            table.add_row(Text(row["rule"]), Text(terminal(_group_text(row["group"], ()))), Text(vs),
                          Text({True: "yes", False: "no", None: "?"}[row["condition"]]), Text(row["status"]),
                          Text(terminal(row["reason"])))
        Console(file=sys.stdout, width=200 if not sys.stdout.isatty() else None).print(table)
    sys.exit(2 if errors else 0)


@alerts.command("test")
@click.argument("rules")
@click.argument("inputs", nargs=-1)
@click.option("--rule", "name", help="The rule to replay (required when RULES holds several).")
@click.option("--step", help="Time between evaluations (default: the rule's every:).")
@click.option("--from", "start", help="First evaluation time (default: first event + step).")
@click.option("--to", "end", help="Last evaluation time (default: last event + step).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_es_options
def test(rules, inputs, name, step, start, end, fmt, es_url, index, ingest_delay):
    """Replay log FILES through one rule over their time range: when it would have gone pending,
    fired and resolved (fresh state, nothing delivered)."""
    from ..alert import RuleError, replay
    from ..analyze import NothingToRead
    rs = _load(rules)
    if not name:
        if len(rs.rules) != 1:
            _die(f"{rules} holds {len(rs.rules)} rules: name one with --rule ({', '.join(r.name for r in rs.rules)})")
        name = rs.rules[0].name
    es = _es(es_url, index, ingest_delay)
    if es is None and not inputs:
        _die("give the log FILES to replay (or --es URL)")
    try:
        if es is not None:
            from ..alert.es_source import EsSourceError, replay_es
            src = _source(rs, inputs, None, es)
            try:
                trs = replay_es(rs, src, rule=name, step=step, start=start, end=end)
            except EsSourceError as e:
                _die(str(e))
            finally:
                src.close()
        else:
            trs = replay(rs, list(inputs), rule=name, step=step, start=start, end=end)
    except KeyError as e:
        _die(str(e.args[0]))
    except (NothingToRead, RuleError, ValueError) as e:
        _die(str(e))
    if fmt == "json":
        sys.stdout.write(json_text(orjson.dumps([t.__dict__ for t in trs], option=orjson.OPT_INDENT_2, default=str).decode())
                         + "\n")
        sys.exit(0)
    from ..analyze.escape import terminal
    if not trs:
        click.echo(f"{name}: never pending or firing over these logs")
    for tr in trs:
        v = "" if tr.value is None else (f"{tr.value:.4g}" if isinstance(tr.value, float) else str(tr.value))
        click.echo(terminal(f"{tr.at.isoformat()}  {tr.status.upper():8} {_group_text(tr.labels)}  value={v}  "
                            f"{tr.reason}"))
    fired = sum(1 for t in trs if t.status == "firing")
    click.echo(f"{name}: fired {fired} time(s), resolved {sum(1 for t in trs if t.status == 'resolved')} time(s)",
               err=True)
    sys.exit(0)
