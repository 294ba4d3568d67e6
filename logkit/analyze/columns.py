"""The analyzer's columns, derived from the schema module (never a second list of field names).

Every field the analyzer reads is named through :func:`col`, which checks it against
``logkit.schema``: the queries are formatted at import, so a typo fails at import, not at query time.
The analysis columns (``queries.REPORT_FIELDS``) are the fields the queries name, nothing more.

From those names this module generates the DuckDB side:

- :func:`json_columns` — the ``columns={...}`` argument of ``read_ndjson``: every field in both
  forms a line may carry it, nested (``{"url": {"domain": ...}}``, what ecs-logging and Filebeat's
  ``expand_keys`` write) and dotted at the top level (``"url.domain"``), typed explicitly (explicit
  types are the fast path of DuckDB's JSON reader);
- :func:`select_list` — one ``COALESCE(dotted, nested)`` per field, aliased to the dotted name, so
  the ``events`` table has flat, typed columns called ``"url.domain"``, ``"http.response.status_code"``.
"""
from __future__ import annotations

from .. import schema

#: Elasticsearch field type -> DuckDB column type.
DUCK_TYPES = {
    "keyword": "VARCHAR", "wildcard": "VARCHAR", "constant_keyword": "VARCHAR", "match_only_text": "VARCHAR",
    "text": "VARCHAR",
    "ip": "VARCHAR", "long": "BIGINT", "integer": "BIGINT", "double": "DOUBLE", "float": "DOUBLE",
    "boolean": "BOOLEAN", "date": "TIMESTAMPTZ", "object": "JSON", "flattened": "JSON",
}
#: Fields that may hold a list where the schema says keyword.
_MULTI = frozenset({"tags"})


def col(name: str) -> str:
    """The SQL identifier of schema field ``name`` (``"url.domain"``); KeyError if the schema lacks it."""
    schema.field(name)
    return '"' + name.replace('"', '""') + '"'


def duck_type(name: str) -> str:
    if name in _MULTI:
        return "JSON"
    return DUCK_TYPES[schema.field(name).type]


TIMESTAMP = "@timestamp"

#: Every field of the schema (the store and ``logkit query`` see them all).
ALL_FIELDS: tuple[str, ...] = tuple(schema.FIELDS)


def _tree(fields) -> dict:
    """Nested {part: subtree | type} for the fields' dotted names (top-level single names excluded)."""
    root: dict = {}
    for name in fields:
        parts = name.split(".")
        node = root
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ValueError(f"schema field {name!r} nests under a leaf field")
            node = nxt
        if isinstance(node.get(parts[-1]), dict):
            # A leaf that is also a parent (not in the schema today): read it whole as JSON.
            continue
        node[parts[-1]] = duck_type(name)
    return root


def _struct(node) -> str:
    if isinstance(node, str):
        return node
    return "STRUCT(" + ", ".join(f"{_ident(k)} {_struct(v)}" for k, v in node.items()) + ")"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def json_columns(fields) -> dict[str, str]:
    """``read_ndjson(columns=...)``: nested structs per top-level namespace plus every dotted name."""
    cols: dict[str, str] = {}
    for k, v in _tree(fields).items():
        cols[k] = _struct(v)
    for name in fields:
        if "." in name:
            cols[name] = duck_type(name)
    return cols


def struct_type(fields) -> str:
    """The same columns as one STRUCT type (for ``_source`` of Elasticsearch exports)."""
    return "STRUCT(" + ", ".join(f"{_ident(k)} {v}" for k, v in json_columns(fields).items()) + ")"


def columns_sql(fields, *, root: str | None = None) -> str:
    """The ``columns`` argument as a SQL struct literal. ``root="_source"`` nests everything under it."""
    cols = json_columns(fields) if root is None else {root: struct_type(fields)}
    return "{" + ", ".join(f"'{k.replace(chr(39), chr(39) * 2)}': '{v}'" for k, v in cols.items()) + "}"


def field_expr(name: str, *, root: str | None = None) -> str:
    """SQL for one field read from ``read_ndjson`` with :func:`columns_sql`: dotted form first."""
    prefix = f"{_ident(root)}." if root else ""
    parts = name.split(".")
    if len(parts) == 1:
        return prefix + _ident(name)
    nested = prefix + ".".join(_ident(p) for p in parts)
    dotted = prefix + _ident(name)
    return f"COALESCE({dotted}, {nested})"


def select_list(fields, *, root: str | None = None) -> str:
    return ", ".join(f"{field_expr(n, root=root)} AS {col(n)}" for n in fields)


def table_columns(fields) -> list[tuple[str, str]]:
    return [(n, duck_type(n)) for n in fields]
