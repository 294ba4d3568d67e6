"""Elasticsearch set-up: templates generated from the schema, data streams, ingest pipelines,
lifecycle policy — installed idempotently by :func:`setup` (``logkit es setup``).

What is installed (names for the default ``name="logkit"``):

- component template ``logkit@mappings``: the mappings, generated from :mod:`logkit.schema`
  (nothing here names a schema field; :data:`STORE_FIELDS` adds the four fields the storage
  layer itself sets);
- component template ``logkit@settings``: index settings (default pipeline and lifecycle policy
  where the cluster has them);
- index template ``logkit`` for the data streams ``logs-logkit.*-*`` (priority 200, above the
  built-in ``logs`` template's 100), composed of the two plus an optional ``logkit@custom``
  the user may create for their own settings;
- the ingest pipelines kept as JSON files in ``pipelines/`` (``logkit-default``: normalisation,
  ``logkit-route``: routing by ``event.dataset`` from the entry data stream
  ``logs-logkit-<namespace>``, whose index template ``logkit-route`` is installed with it);
- the lifecycle policy ``pipelines/ilm/logkit-logs.json``;
- one data stream per dataset ``logs-<dataset>-<namespace>`` (``logkit.django``, ...).

Setup first detects what the cluster offers (:func:`detect`) — field types, ingest processors,
ILM, the data stream API — and skips what it cannot install with the reason, so the same
command works on a full cluster and on Elastic's core-only test distribution. Every body
carries ``_meta.logkit.hash``, a digest of the body itself: an object whose hash matches is
left alone (``unchanged``), so a second run changes nothing.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Iterable

from .. import schema

# --- names ----------------------------------------------------------------------------------
DEFAULT_NAME = "logkit"
DEFAULT_NAMESPACE = "default"
DATA_STREAM_TYPE = "logs"
#: The datasets logkit's emitters write (``event.dataset`` defaults to ``logkit.<service type>``).
DATASETS: tuple[str, ...] = tuple(f"logkit.{t}" for t in schema.SERVICE_TYPES)
#: Where the routing pipeline sends events whose event.dataset is not logkit.*.
FALLBACK_DATASET = "logkit.unknown"
#: Above the built-in ``logs`` index template (priority 100) of a default distribution.
DEFAULT_PRIORITY = 200
DEFAULT_PIPELINE = "logkit-default"
ROUTE_PIPELINE = "logkit-route"
ILM_POLICY = "logkit-logs"
KEYWORD_IGNORE_ABOVE = 1024
#: wildcard fields fall back to keyword on clusters without the wildcard type; values longer
#: than this stay in _source but are not indexed (Lucene's term limit is 32 KiB).
WILDCARD_FALLBACK_IGNORE_ABOVE = 8191

#: Fields the storage layer sets and the emitters never write (marked ``stored_only`` in the schema).
STORE_FIELDS: dict[str, str] = {n: f.type for n, f in schema.FIELDS.items() if f.stored_only}


def _pipelines_dir() -> Path:
    env = os.environ.get("LOGKIT_PIPELINES_DIR")
    if env:
        return Path(env)
    # The repository's top-level pipelines/, shipped in the wheel as package data.
    from .. import data
    return data.path("pipelines")


PIPELINES_DIR = _pipelines_dir()


class SetupError(Exception):
    """Setup could not do something it should have been able to do (the message says what)."""


# --- data stream names ----------------------------------------------------------------------
_PART = re.compile(r"[a-z0-9][a-z0-9._]*")


def _check_part(kind: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{kind} must be a non-empty string")
    if len(value.encode()) > 100:
        raise ValueError(f"{kind} {value!r} is longer than 100 bytes")
    if "-" in value:
        raise ValueError(f"{kind} {value!r} must not contain '-' (it separates the parts of "
                         f"the data stream name logs-<dataset>-<namespace>)")
    if not _PART.fullmatch(value):
        raise ValueError(f"{kind} {value!r} must be lowercase letters, digits, '.' and '_', "
                         f"starting with a letter or digit")
    return value


def validate_namespace(namespace: str) -> str:
    return _check_part("namespace", namespace)


def validate_dataset(dataset: str) -> str:
    return _check_part("dataset", dataset)


def data_stream_name(dataset: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """``logs-<dataset>-<namespace>``, both parts validated (ValueError says why)."""
    return f"{DATA_STREAM_TYPE}-{validate_dataset(dataset)}-{validate_namespace(namespace)}"


def index_pattern(name_prefix: str = "logkit") -> str:
    """The data streams logkit's template covers: ``logs-logkit.*-*``."""
    return f"{DATA_STREAM_TYPE}-{name_prefix}.*-*"


# --- what the cluster offers ----------------------------------------------------------------
#: Field types that live in modules a cluster may lack (the core-only test distribution has
#: none of them), with the mapping used instead.
OPTIONAL_FIELD_TYPES = ("wildcard", "match_only_text", "constant_keyword")


@dataclass
class Capabilities:
    """What a cluster can take. ``full()`` is a default distribution (everything)."""
    field_types: frozenset[str] = frozenset(OPTIONAL_FIELD_TYPES)
    #: Processor types the ingest nodes have; None when unknown (then pipelines are attempted).
    processors: frozenset[str] | None = None
    ilm: bool = True
    data_stream_api: bool = True
    #: Why something is missing, for the report.
    notes: dict[str, str] = dc_field(default_factory=dict)

    @classmethod
    def full(cls) -> "Capabilities":
        return cls()

    def missing_processors(self, needed: Iterable[str]) -> list[str]:
        if self.processors is None:
            return []
        return sorted(set(needed) - self.processors)


def _status(e: Exception) -> int | None:
    meta = getattr(e, "meta", None)
    return getattr(meta, "status", None) if meta is not None else getattr(e, "status_code", None)


def _reason(e: Exception) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            rc = err.get("root_cause") or [err]
            reasons = [str(c.get("reason")) for c in rc if isinstance(c, dict)]
            cause = err.get("reason")
            if cause and cause not in reasons:
                reasons.append(str(cause))
            return "; ".join(reasons)
        if err:
            return str(err)
    return str(e)


def _probe_template(client, template: dict) -> tuple[bool, str]:
    """Whether the cluster accepts ``template`` in an index template (POST
    _index_template/_simulate: validates mappings and settings, creates nothing)."""
    from elasticsearch import ApiError
    try:
        client.indices.simulate_template(body={
            "index_patterns": ["logkit-capability-probe-matches-nothing"], "priority": 0,
            "template": template})
        return True, ""
    except ApiError as e:
        if _status(e) in (400, 404):
            return False, _deepest_reason(e)
        raise


def _deepest_reason(e: Exception) -> str:
    """The innermost ``caused_by`` reason (simulate wraps the interesting one)."""
    body = getattr(e, "body", None)
    err = body.get("error") if isinstance(body, dict) else None
    reason = _reason(e)
    while isinstance(err, dict):
        if err.get("reason"):
            reason = str(err["reason"])
        err = err.get("caused_by")
    m = re.search(r"cause \[(.*)\]$", reason)
    return m.group(1) if m else reason


def detect(client) -> Capabilities:
    """What the cluster behind ``client`` offers, with requests that change nothing.

    - field types: an index template using each optional type is simulated (400: absent);
    - ingest processors: ``GET _nodes/ingest`` (the processor types of the ingest nodes);
    - ILM: a template with ``index.lifecycle.name`` is simulated (400 "unknown setting" when
      the cluster has no ILM);
    - the data stream API (``PUT _data_stream``): the ``data-streams`` module in ``GET
      _nodes/plugins`` (its REST handlers live there; without it a data stream is created
      by its first write through the template).
    Requests that answer 405 are avoided: the Python client marks a node dead on a 405.
    """
    from elasticsearch import ApiError
    caps = Capabilities(notes={})
    types = set()
    for t in OPTIONAL_FIELD_TYPES:
        ok, why = _probe_template(client, {"mappings": {"properties": {"probe": {"type": t}}}})
        if ok:
            types.add(t)
        else:
            caps.notes[f"type:{t}"] = f"the cluster has no {t} field type ({why})"
    caps.field_types = frozenset(types)

    try:
        info = client.nodes.info(metric="ingest,plugins",
                                 filter_path="nodes.*.roles,nodes.*.ingest.processors.type,"
                                             "nodes.*.modules.name,nodes.*.plugins.name")
        nodes = list((info.get("nodes") or {}).values())
    except ApiError as e:  # no monitor privilege, or serverless: find out by trying
        nodes = []
        caps.notes["nodes"] = f"GET _nodes answered {_status(e)} ({_reason(e)}): " \
                              f"processors and modules unknown"
    if nodes:
        ingest_nodes = [n for n in nodes if "roles" not in n or "ingest" in n.get("roles", [])]
        if not ingest_nodes:
            caps.processors = frozenset()
            caps.notes["ingest"] = "the cluster has no ingest node"
        else:
            sets = [frozenset(p.get("type") for p in (n.get("ingest") or {}).get("processors", []))
                    for n in ingest_nodes]
            caps.processors = frozenset.intersection(*sets)
        modules = [frozenset(m.get("name") for m in n.get("modules", []) + n.get("plugins", []))
                   for n in nodes]
        caps.data_stream_api = all("data-streams" in m or "x-pack-data-streams" in m for m in modules)
        if not caps.data_stream_api:
            caps.notes["data_stream_api"] = ("the cluster has no data-streams module (no PUT "
                                             "_data_stream API)")

    ok, why = _probe_template(client, {"settings": {"index": {"lifecycle": {"name": ILM_POLICY}}}})
    caps.ilm = ok
    if not ok:
        caps.notes["ilm"] = ("index.lifecycle.name is an unknown setting there"
                             if "unknown setting [index.lifecycle.name]" in why else why)
    return caps


# --- mappings from the schema ---------------------------------------------------------------
def field_mapping(es_type: str, caps: Capabilities | None = None) -> dict[str, Any]:
    """The mapping of one leaf field of Elasticsearch type ``es_type``."""
    caps = caps or Capabilities.full()
    if es_type == "keyword":
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if es_type == "wildcard":
        if "wildcard" in caps.field_types:
            return {"type": "wildcard"}
        return {"type": "keyword", "ignore_above": WILDCARD_FALLBACK_IGNORE_ABOVE}
    if es_type == "match_only_text":
        if "match_only_text" in caps.field_types:
            return {"type": "match_only_text"}
        return {"type": "text", "norms": False}
    if es_type == "constant_keyword":
        if "constant_keyword" in caps.field_types:
            return {"type": "constant_keyword"}
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if es_type == "flattened":
        return {"type": "flattened", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if es_type == "object":
        return {"type": "object"}
    if es_type in ("date", "long", "integer", "double", "float", "boolean", "ip", "text"):
        return {"type": es_type}
    raise ValueError(f"no mapping for Elasticsearch type {es_type!r}")


def mapped_fields() -> dict[str, str]:
    """Every mapped field name and its Elasticsearch type: the schema's."""
    return {name: f.type for name, f in schema.FIELDS.items()}


def properties(caps: Capabilities | None = None) -> dict[str, Any]:
    """Nested ``properties`` for every mapped field (``a.b.c`` -> a/properties/b/properties/c)."""
    root: dict[str, Any] = {}
    leaves: dict[tuple[str, ...], str] = {}
    for name, es_type in sorted(mapped_fields().items()):
        path = tuple(name.split(".")) if name != "@timestamp" else ("@timestamp",)
        for i in range(1, len(path)):
            if path[:i] in leaves:
                raise SetupError(f"{name} is under {'.'.join(path[:i])}, which is a "
                                 f"{leaves[path[:i]]} field, not an object")
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {"properties": {}})
            if "properties" not in node:
                raise SetupError(f"{name}: {part} is a leaf field")
            node = node["properties"]
        if path[-1] in node:
            raise SetupError(f"{name}: an object of that name already has fields under it")
        node[path[-1]] = field_mapping(es_type, caps)
        leaves[path] = es_type
    return root


def dynamic_templates() -> list[dict[str, Any]]:
    """Keys no schema field names: strings become keyword (never text, never a date guess)."""
    labels = [n for n, f in schema.FIELDS.items() if f.type == "object"]
    out: list[dict[str, Any]] = []
    for name in labels:  # ECS: labels.* values are keywords
        out.append({f"{name.replace('.', '_')}_as_keyword": {
            "path_match": f"{name}.*", "match_mapping_type": "string",
            "mapping": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}}})
    out.append({"strings_as_keyword": {
        "match_mapping_type": "string",
        "mapping": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}}})
    return out


def mappings(caps: Capabilities | None = None) -> dict[str, Any]:
    """The mappings of logkit's data streams.

    Dotted keys (``"log.level": "info"``, as ecs-logging writes them) and nested objects
    (``"log": {"level": "info"}``, as Filebeat's expand_keys writes them) index to the same
    field: Elasticsearch 8 expands dots in field names into objects while parsing a document
    (``subobjects`` stays at its default, true), so both forms meet these nested properties.
    """
    return {
        "_meta": {"managed_by": "logkit", "schema_version": schema.SCHEMA_VERSION},
        "dynamic": True,
        "date_detection": False,
        "numeric_detection": False,
        "dynamic_templates": dynamic_templates(),
        "properties": properties(caps),
    }


def index_settings(caps: Capabilities | None = None, *, pipelines: bool | None = None,
                   ilm: bool | None = None, replicas: int | None = None) -> dict[str, Any]:
    caps = caps or Capabilities.full()
    index: dict[str, Any] = {
        # the schema maps ~80 fields; room for unknown keys, and past the limit they are kept
        # in _source unindexed instead of rejecting the document (8.14+)
        "mapping": {"total_fields": {"limit": 2000, "ignore_dynamic_beyond_limit": True}},
        "codec": "best_compression",
    }
    if pipelines if pipelines is not None else True:
        index["default_pipeline"] = DEFAULT_PIPELINE
    if ilm if ilm is not None else caps.ilm:
        index["lifecycle"] = {"name": ILM_POLICY}
    if replicas is not None:
        index["number_of_replicas"] = replicas
    return {"index": index}


# --- the bodies -----------------------------------------------------------------------------
def _digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def _with_meta(body: dict[str, Any], meta_key: str = "_meta") -> dict[str, Any]:
    """``body`` with ``_meta.logkit = {hash, schema_version}``; hash of the body without it."""
    out = copy.deepcopy(body)
    meta = dict(out.get(meta_key) or {})
    meta.pop("logkit", None)
    base = dict(out)
    base[meta_key] = meta
    meta["managed_by"] = "logkit"
    meta["logkit"] = {"hash": _digest(base), "schema_version": schema.SCHEMA_VERSION}
    out[meta_key] = meta
    return out


def body_hash(body: dict[str, Any] | None, meta_key: str = "_meta") -> str | None:
    if not isinstance(body, dict):
        return None
    meta = body.get(meta_key)
    if not isinstance(meta, dict):
        return None
    lk = meta.get("logkit")
    return lk.get("hash") if isinstance(lk, dict) else None


def load_pipeline(name: str) -> dict[str, Any]:
    path = PIPELINES_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SetupError(f"pipeline file {path} is missing (set LOGKIT_PIPELINES_DIR to the "
                         f"folder holding logkit's pipelines/)") from None


def load_ilm_policy(name: str = ILM_POLICY) -> dict[str, Any]:
    path = PIPELINES_DIR / "ilm" / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SetupError(f"lifecycle policy file {path} is missing") from None


def pipeline_names() -> list[str]:
    return sorted(p.stem for p in PIPELINES_DIR.glob("*.json"))


def processor_types(pipeline: dict[str, Any]) -> set[str]:
    """Every processor type a pipeline uses, in on_failure handlers and foreach included."""
    found: set[str] = set()

    def walk(procs):
        for p in procs or []:
            for kind, conf in p.items():
                found.add(kind)
                if isinstance(conf, dict):
                    walk(conf.get("on_failure"))
                    if kind == "foreach" and isinstance(conf.get("processor"), dict):
                        walk([conf["processor"]])
    walk(pipeline.get("processors"))
    walk(pipeline.get("on_failure"))
    return found


@dataclass(frozen=True)
class Request:
    """One PUT logkit sends: ``kind`` (component_template, index_template, pipeline,
    ilm_policy), the object's ``name`` and its JSON ``body`` (as sent)."""
    kind: str
    name: str
    body: dict[str, Any]

    @property
    def path(self) -> str:
        return {"component_template": "_component_template/", "index_template": "_index_template/",
                "pipeline": "_ingest/pipeline/", "ilm_policy": "_ilm/policy/"}[self.kind] + self.name


def plan(caps: Capabilities | None = None, *, name: str = DEFAULT_NAME,
         pattern: str | None = None, priority: int = DEFAULT_PRIORITY,
         replicas: int | None = None, pipelines: bool | None = None,
         ilm: bool | None = None) -> list[Request]:
    """The requests that set logkit up on a cluster with ``caps`` (default: everything).

    ``pipelines``/``ilm`` default to what ``caps`` offers; the data streams are not in here
    (they are created, not PUT: see :func:`setup`).
    """
    caps = caps or Capabilities.full()
    pattern = pattern or index_pattern()
    if pipelines is None:
        pipelines = not any(caps.missing_processors(processor_types(load_pipeline(p)))
                            for p in pipeline_names())
    ilm = caps.ilm if ilm is None else ilm
    reqs: list[Request] = []
    if ilm:
        reqs.append(Request("ilm_policy", ILM_POLICY, {"policy": _with_meta(load_ilm_policy())}))
    if pipelines:
        for p in pipeline_names():
            reqs.append(Request("pipeline", p, _with_meta(load_pipeline(p))))
    comp_mappings, comp_settings, comp_custom = f"{name}@mappings", f"{name}@settings", f"{name}@custom"
    reqs.append(Request("component_template", comp_mappings, _with_meta({
        "template": {"mappings": mappings(caps)},
        "version": 1,
        "_meta": {"description": "logkit: mappings generated from logkit.schema"},
    })))
    reqs.append(Request("component_template", comp_settings, _with_meta({
        "template": {"settings": index_settings(caps, pipelines=pipelines, ilm=ilm, replicas=replicas)},
        "version": 1,
        "_meta": {"description": "logkit: index settings of the logkit data streams"},
    })))
    reqs.append(Request("index_template", name, _with_meta({
        "index_patterns": [pattern],
        "priority": priority,
        "composed_of": [comp_mappings, comp_settings, comp_custom],
        "ignore_missing_component_templates": [comp_custom],
        "data_stream": {},
        "allow_auto_create": True,
        "version": 1,
        "_meta": {"description": f"logkit: data streams {pattern} (logs-<dataset>-<namespace>); "
                                 f"put your own settings in the component template {comp_custom}"},
    })))
    if pipelines:
        # the entry data stream logs-logkit-<namespace>: its default pipeline routes each event
        # to logs-<event.dataset>-<namespace>
        entry = re.sub(r"\.\*-\*$", "-*", pattern)
        reqs.append(Request("index_template", f"{name}-route", _with_meta({
            "index_patterns": [entry],
            "priority": priority,
            "composed_of": [comp_mappings, comp_settings, comp_custom],
            "ignore_missing_component_templates": [comp_custom],
            "template": {"settings": {"index": {"default_pipeline": ROUTE_PIPELINE}}},
            "data_stream": {},
            "allow_auto_create": True,
            "version": 1,
            "_meta": {"description": f"logkit: entry data streams {entry}, routed by "
                                     f"event.dataset through the {ROUTE_PIPELINE} pipeline"},
        })))
    return reqs


# --- setup ----------------------------------------------------------------------------------
CREATED, UPDATED, UNCHANGED, SKIPPED, ROLLED_OVER = "created", "updated", "unchanged", "skipped", "rolled_over"


@dataclass
class Action:
    kind: str
    name: str
    status: str
    reason: str = ""

    def line(self) -> str:
        text = f"{self.status:<11} {self.kind.replace('_', ' ')} {self.name}"
        return f"{text}: {self.reason}" if self.reason else text


@dataclass
class SetupReport:
    actions: list[Action] = dc_field(default_factory=list)
    capabilities: Capabilities | None = None

    def add(self, kind: str, name: str, status: str, reason: str = "") -> Action:
        a = Action(kind, name, status, reason)
        self.actions.append(a)
        return a

    def status_of(self, kind: str, name: str) -> str | None:
        for a in self.actions:
            if a.kind == kind and a.name == name:
                return a.status
        return None

    def by_status(self, status: str) -> list[Action]:
        return [a for a in self.actions if a.status == status]

    @property
    def changed(self) -> bool:
        return any(a.status in (CREATED, UPDATED, ROLLED_OVER) for a in self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {"changed": self.changed,
                "actions": [a.__dict__ for a in self.actions]}

    def lines(self) -> list[str]:
        return [a.line() for a in self.actions]


def _current(client, req: Request) -> tuple[bool, dict | None]:
    """(exists, current body) of the object ``req`` puts."""
    from elasticsearch import NotFoundError
    try:
        if req.kind == "component_template":
            r = client.cluster.get_component_template(name=req.name)
            items = r.get("component_templates") or []
            return (True, items[0]["component_template"]) if items else (False, None)
        if req.kind == "index_template":
            r = client.indices.get_index_template(name=req.name)
            items = r.get("index_templates") or []
            return (True, items[0]["index_template"]) if items else (False, None)
        if req.kind == "pipeline":
            r = client.ingest.get_pipeline(id=req.name)
            return (req.name in r, r.get(req.name))
        if req.kind == "ilm_policy":
            r = client.ilm.get_lifecycle(name=req.name)
            item = r.get(req.name)
            return (item is not None, (item or {}).get("policy"))
    except NotFoundError:
        return False, None
    raise ValueError(req.kind)


def _put(client, req: Request) -> None:
    if req.kind == "component_template":
        client.cluster.put_component_template(name=req.name, body=req.body)
    elif req.kind == "index_template":
        client.indices.put_index_template(name=req.name, body=req.body)
    elif req.kind == "pipeline":
        client.ingest.put_pipeline(id=req.name, body=req.body)
    elif req.kind == "ilm_policy":
        client.ilm.put_lifecycle(name=req.name, body=req.body)
    else:
        raise ValueError(req.kind)


def existing_data_streams(client, pattern: str) -> list[str]:
    """Data streams matching ``pattern`` (through _resolve/index, which every distribution has)."""
    from elasticsearch import NotFoundError
    try:
        r = client.indices.resolve_index(name=pattern, expand_wildcards="all")
    except NotFoundError:
        return []
    return sorted(d["name"] for d in r.get("data_streams", []))


def setup(client, namespace: str = DEFAULT_NAMESPACE, *, datasets: Iterable[str] | None = None,
          name: str = DEFAULT_NAME, pattern: str | None = None, priority: int = DEFAULT_PRIORITY,
          replicas: int | None = None, force: bool = False,
          capabilities: Capabilities | None = None) -> SetupReport:
    """Installs logkit's templates, pipelines, lifecycle policy and data streams, idempotently.

    Returns a :class:`SetupReport`: each object with ``created``, ``updated``, ``unchanged``
    or ``skipped`` (with the reason: what the cluster lacks). ``force`` PUTs every body even
    when the cluster's copy carries the same hash (e.g. after an edit by hand that kept
    ``_meta``). Raises :class:`SetupError` when the cluster refuses something it should take.
    """
    from elasticsearch import ApiError
    validate_namespace(namespace)
    datasets = tuple(datasets) if datasets is not None else DATASETS
    for d in datasets:
        validate_dataset(d)
    pattern = pattern or index_pattern()
    caps = capabilities or detect(client)
    report = SetupReport(capabilities=caps)

    needed = {p: processor_types(load_pipeline(p)) for p in pipeline_names()}
    missing = sorted({t for types in needed.values() for t in caps.missing_processors(types)})
    pipelines_ok = not missing
    reqs = plan(caps, name=name, pattern=pattern, priority=priority, replicas=replicas,
                pipelines=pipelines_ok, ilm=caps.ilm)

    if not caps.ilm:
        report.add("ilm_policy", ILM_POLICY, SKIPPED,
                   "the cluster has no index lifecycle management (ILM) "
                   f"({caps.notes.get('ilm', 'not available')}); data streams get no "
                   "index.lifecycle.name: manage retention by hand or with data stream lifecycle")
    if not pipelines_ok:
        for p, types in needed.items():
            lack = caps.missing_processors(types)
            why = (f"the cluster's ingest nodes lack the processors {', '.join(lack)}" if lack
                   else f"{', '.join(sorted(set(missing)))} missing for the other pipelines")
            report.add("pipeline", p, SKIPPED,
                       f"{why}; the data streams get no default pipeline (event.ingested is "
                       f"not set, url.domain and user_agent.* are not derived)")
        report.add("index_template", f"{name}-route", SKIPPED,
                   f"needs the {ROUTE_PIPELINE} pipeline (skipped above): send events straight "
                   f"to logs-<event.dataset>-<namespace>")

    fallbacks = [f"{t} mapped as {field_mapping(t, caps)['type']}"
                 for t in OPTIONAL_FIELD_TYPES if t not in caps.field_types]
    fallback_note = (f"the cluster lacks some field types: {', '.join(fallbacks)}"
                     if fallbacks else "")
    mapping_changed = False
    for req in reqs:
        note = fallback_note if req.name.endswith("@mappings") else ""
        try:
            exists, current = _current(client, req)
            body = current if req.kind != "ilm_policy" else {"_meta": (current or {}).get("_meta")}
            cur_hash = body_hash(body)
            want_hash = body_hash(req.body if req.kind != "ilm_policy" else req.body["policy"])
            if exists and cur_hash == want_hash and not force:
                report.add(req.kind, req.name, UNCHANGED, note)
                continue
            _put(client, req)
        except ApiError as e:
            raise SetupError(f"PUT {req.path} failed ({_status(e)}): {_reason(e)}") from e
        report.add(req.kind, req.name, UPDATED if exists else CREATED, note)
        if exists and req.name in (f"{name}@mappings", f"{name}@settings", name):
            mapping_changed = True  # what the data streams' backing indices are made from

    names = [data_stream_name(d, namespace) for d in datasets]
    present = set(existing_data_streams(client, f"{DATA_STREAM_TYPE}-*-{namespace}"))
    for ds in names:
        if ds in present:
            if mapping_changed:
                # existing backing indices keep their mappings: the next write index takes the new ones
                try:
                    client.indices.rollover(alias=ds)
                except ApiError as e:
                    raise SetupError(f"rollover of {ds} failed ({_status(e)}): {_reason(e)}") from e
                report.add("data_stream", ds, ROLLED_OVER, "templates changed: a new write index "
                                                           "takes the new mappings and settings")
            else:
                report.add("data_stream", ds, UNCHANGED)
            continue
        if not caps.data_stream_api:
            report.add("data_stream", ds, SKIPPED,
                       f"{caps.notes.get('data_stream_api', 'no data stream API')}; the template "
                       f"creates it on the first write (op_type=create)")
            continue
        try:
            client.indices.create_data_stream(name=ds)
        except ApiError as e:
            if _status(e) == 400 and "already exists" in _reason(e):
                report.add("data_stream", ds, UNCHANGED)
                continue
            raise SetupError(f"PUT _data_stream/{ds} failed ({_status(e)}): {_reason(e)}") from e
        report.add("data_stream", ds, CREATED)
    return report


def templates(caps: Capabilities | None = None, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """Every body :func:`setup` would PUT, keyed by request path (``logkit es templates``)."""
    return {r.path: r.body for r in plan(caps, **kwargs)}
