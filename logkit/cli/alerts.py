"""``logkit alerts``: evaluate alert rules over logs (see docs/alerts.md).

    logkit alerts check RULES [FILES...] [--db DB] [--now T] [--state FILE]   # cron / CI
    logkit alerts watch RULES [FILES...] [--db DB] --interval 1m
    logkit alerts explain RULES [FILES...] [--db DB] [--format table|json]
    logkit alerts test RULES FILE... [--rule NAME] [--step 5m]

RULES is a rules file, or ``pack:default`` for the pack shipped with logkit.
"""
from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime, timezone

import click
import orjson

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


def _source(rs, inputs, db):
    from ..alert import RuleEvalError, Source
    from ..analyze import NothingToRead
    if not inputs and not db:
        inputs = ("-",)
    try:
        return Source(list(inputs), db, fields=rs.fields_needed())
    except (NothingToRead, RuleEvalError) as e:
        _die(str(e))
    except Exception as e:  # duckdb errors opening a store
        _die(f"cannot open the events: {e}")


def _now(now, src):
    from ..alert import resolve_now
    try:
        return resolve_now(now, src)
    except ValueError as e:
        _die(str(e))


def _state_path(state):
    import os
    return state if state is not None else (os.environ.get("LOGKIT_ALERT_STATE") or None)


def _group_text(labels: dict, skip=("alertname", "severity", "team")) -> str:
    return " ".join(f"{k}={v}" for k, v in labels.items() if k not in skip)


def _print_run(res, fmt: str, out=None) -> None:
    from ..analyze.escape import terminal
    out = out or sys.stdout
    if fmt == "json":
        doc = {"now": res.now.isoformat(), "firing": [a.__dict__ for a in res.firing],
               "pending": [a.__dict__ for a in res.pending],
               "notifications": [n.to_dict() for n in res.notifications],
               "deliveries": [d.__dict__ for d in res.deliveries], "errors": res.errors, "outbox": res.outbox}
        out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
        return
    for a in res.firing + res.pending:
        line = f"{a.status.upper():8} {a.rule}  {_group_text(a.labels)}  {a.reason}  (since {a.active_at})"
        out.write(terminal(line) + "\n")
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
def check(rules, inputs, db, routes, now, state, no_deliver, fmt):
    """Evaluate RULES once over INPUTS (files, globs, directories, - for stdin) or --db.

    Exit codes: 0 no alert firing, 1 at least one firing, 2 error (bad rules, nothing to read, a rule
    that could not be evaluated).
    """
    from ..alert import State, StateError
    from ..alert.engine import run_once
    rs = _load(rules, routes)
    src = _source(rs, inputs, db)
    try:
        t = _now(now, src)
        path = _state_path(state)
        try:
            holder = State(path)
            with holder.locked():
                st = State.load(path)
                res = run_once(rs, src, t, st, deliver_to=not no_deliver)
                if not no_deliver:
                    st.save()
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
@click.option("--max-iterations", type=int, default=0,
              help="Stop after this many evaluations (0: until SIGINT/SIGTERM).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def watch(rules, inputs, db, routes, interval, now, state, max_iterations, fmt):
    """Re-evaluate RULES every --interval over INPUTS (appended lines are picked up) or --db.

    Stops on SIGINT or SIGTERM (after the current evaluation; the state is saved). Exit code as check
    for the last evaluation.
    """
    from ..alert import State, StateError
    from ..alert.engine import run_once
    from ..alert.rules import parse_duration
    from ..analyze import NothingToRead
    rs = _load(rules, routes)
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
                if src is None or db and not inputs:
                    if src is not None:
                        src.close()
                    src = _source(rs, inputs, db)
                else:
                    src.refresh()
            except NothingToRead as e:
                _err(str(e))
                code = 2
            else:
                t = _now(now, src)
                try:
                    holder = State(path)
                    with holder.locked():
                        st = State.load(path)
                        res = run_once(rs, src, t, st)
                        st.save()
                except StateError as e:
                    _die(str(e))
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
def explain(rules, inputs, db, now, state, only, active, fmt):
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
    src = _source(rs, inputs, db)
    try:
        t = _now(now, src)
        try:
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
        sys.stdout.write(orjson.dumps({"now": t.isoformat(), "rows": rows}, option=orjson.OPT_INDENT_2,
                                      default=str).decode() + "\n")
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
@click.argument("inputs", nargs=-1, required=True)
@click.option("--rule", "name", help="The rule to replay (required when RULES holds several).")
@click.option("--step", help="Time between evaluations (default: the rule's every:).")
@click.option("--from", "start", help="First evaluation time (default: first event + step).")
@click.option("--to", "end", help="Last evaluation time (default: last event + step).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def test(rules, inputs, name, step, start, end, fmt):
    """Replay log FILES through one rule over their time range: when it would have gone pending,
    fired and resolved (fresh state, nothing delivered)."""
    from ..alert import RuleError, replay
    from ..analyze import NothingToRead
    rs = _load(rules)
    if not name:
        if len(rs.rules) != 1:
            _die(f"{rules} holds {len(rs.rules)} rules: name one with --rule ({', '.join(r.name for r in rs.rules)})")
        name = rs.rules[0].name
    try:
        trs = replay(rs, list(inputs), rule=name, step=step, start=start, end=end)
    except KeyError as e:
        _die(str(e.args[0]))
    except (NothingToRead, RuleError, ValueError) as e:
        _die(str(e))
    if fmt == "json":
        sys.stdout.write(orjson.dumps([t.__dict__ for t in trs], option=orjson.OPT_INDENT_2, default=str).decode()
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
