"""Alert state kept in the cluster (``--state es:NAME`` with ``--es``), for cron jobs on several
machines or several ``logkit alerts watch`` processes that must agree on what is pending,
firing and resolved, and on the new-pattern memory (pattern ids, first-seen times).

Where: one document per state name in a small index (``logkit-alert-state`` by default; its
mapping stores the state as an opaque object, ``enabled: false``, so nothing of it is indexed or
searchable and no field can conflict with the event template). The cluster is where the events
already are and what every evaluator can reach; a state file would need a shared disk and
``flock`` across machines, which NFS does not reliably give.

How several writers agree: optimistic concurrency. A run reads the document with its
``_seq_no``/``_primary_term``, evaluates, and writes back *only if nobody wrote in between*
(``if_seq_no``/``if_primary_term``; the first write uses ``op_type=create``). The loser of a race
gets a conflict, drops its run (it evaluated the same windows; the winner's transitions stand)
and delivers nothing, so no notification is sent twice. Why not a lock document: Elasticsearch
has no lease with expiry, and a lock held by a killed process would stop every other evaluator
until someone removes it by hand; with compare-and-set a dead process holds nothing.

Order of a run (see :func:`run_shared`): read, evaluate, **save**, then deliver, then save the
delivery results (the outbox) with the same check: a notification is delivered only by the run
whose transitions were stored.
"""
from __future__ import annotations

import contextlib
import json
from datetime import datetime, timezone
from typing import Any, Iterator

from .state import STATE_VERSION, AlertRecord, State, StateError, iso

DEFAULT_INDEX = "logkit-alert-state"
_MAPPING = {"dynamic": False, "properties": {
    "state": {"type": "object", "enabled": False},
    "updated_at": {"type": "date"},
}}


class StateConflict(StateError):
    """Another evaluator saved the state after this run read it."""


class EsState(State):
    """A :class:`State` stored as the document ``name`` of ``index`` on ``client``."""

    def __init__(self, client=None, name: str = "default", index: str = DEFAULT_INDEX, **kw: Any):
        super().__init__(path=None, **kw)
        self.client, self.name, self.index = client, name, index
        self.seq_no: int | None = None
        self.primary_term: int | None = None

    @classmethod
    def load_es(cls, client, name: str, index: str = DEFAULT_INDEX) -> "EsState":
        from elasticsearch import NotFoundError
        st = cls(client, name, index)
        try:
            doc = client.get(index=index, id=name)
        except NotFoundError:
            return st
        except Exception as e:
            raise StateError(f"cannot read the alert state {index}/{name}: {e}") from None
        st.seq_no, st.primary_term = doc["_seq_no"], doc["_primary_term"]
        body = (doc.get("_source") or {}).get("state")
        if not isinstance(body, dict) or body.get("version") != STATE_VERSION:
            raise StateError(f"{index}/{name} is not a logkit alert state (version {STATE_VERSION})")
        try:
            st.alerts = {fp: AlertRecord(**a) for fp, a in body.get("alerts", {}).items()}
        except TypeError as e:
            raise StateError(f"{index}/{name}: bad alert record: {e}") from None
        st.rules = dict(body.get("rules", {}))
        st.patterns = dict(body.get("patterns", {}))
        st.outbox = list(body.get("outbox", []))
        return st

    def _ensure_index(self) -> None:
        from elasticsearch import BadRequestError
        if self.client.indices.exists(index=self.index):
            return
        try:
            self.client.indices.create(index=self.index, mappings=_MAPPING,
                                       settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"})
        except BadRequestError as e:  # created by another evaluator meanwhile
            if "resource_already_exists" not in str(e):
                raise

    def save(self) -> None:
        from elasticsearch import ConflictError
        # the JSON round trip makes the stored form the file's (datetimes as strings)
        body = {"state": json.loads(json.dumps(self.to_dict(), default=str)),
                "updated_at": iso(datetime.now(timezone.utc))}
        try:
            if self.seq_no is None:
                self._ensure_index()
                r = self.client.index(index=self.index, id=self.name, document=body, op_type="create",
                                      refresh="wait_for")
            else:
                r = self.client.index(index=self.index, id=self.name, document=body, if_seq_no=self.seq_no,
                                      if_primary_term=self.primary_term, refresh="wait_for")
        except ConflictError:
            raise StateConflict(f"the alert state {self.index}/{self.name} was saved by another evaluator "
                                f"after this run read it: this run is dropped (nothing delivered); the next "
                                f"run starts from theirs") from None
        except Exception as e:
            raise StateError(f"cannot save the alert state {self.index}/{self.name}: {e}") from None
        self.seq_no, self.primary_term = r["_seq_no"], r["_primary_term"]

    @contextlib.contextmanager
    def locked(self) -> Iterator["State"]:  # concurrency is handled at save time (see the module doc)
        yield self


def run_shared(ruleset, source, now, client, name: str, index: str = DEFAULT_INDEX, *, deliver_to: bool = True,
               **kw: Any):
    """One run with the state in the cluster: read, evaluate, save (compare-and-set), deliver,
    save the outbox. Raises :class:`StateConflict` when another evaluator saved first."""
    from .engine import RunResult, deliver, evaluate_all, rule_urls
    st = EsState.load_es(client, name, index)
    samples, notes, errors = evaluate_all(ruleset, source.con, now, st)
    outbox_before = list(st.outbox)
    st.save()  # the transitions are ours only if this succeeds
    reports = []
    if deliver_to:
        reports = deliver(ruleset.routes, notes, st, now, rule_urls=rule_urls(ruleset), **kw)
        if st.outbox != outbox_before:
            st.save()
    return RunResult(now, samples, notes, reports, st.by_status("firing"), st.by_status("pending"), errors,
                     len(st.outbox))

