"""Safe label and annotation templates: ``str.format`` syntax over a flat dict of variables, with
no attribute or index access (a rules file cannot reach into Python objects)."""
from __future__ import annotations

import re
import string
from typing import Any, Mapping

__all__ = ["Template"]


class _SafeFormatter(string.Formatter):
    """``str.format`` syntax over a flat dict, with no attribute or index access: ``{url.domain}``
    is the key ``"url.domain"``, never an attribute lookup, so a template cannot reach into objects."""

    def get_field(self, field_name, args, kwargs):
        return kwargs[field_name], field_name

    def get_value(self, key, args, kwargs):  # pragma: no cover - get_field covers it
        return kwargs[key]


_FMT = _SafeFormatter()


class Template:
    """A label or annotation template: ``"{domain}: {value:.0%} over {window}"``."""

    def __init__(self, text: str):
        self.text = text
        self.fields: list[str] = []
        for _lit, name, spec, conv in _FMT.parse(text):
            if name is None:
                continue
            if name == "" or name.isdigit():
                raise ValueError("positional fields ({} or {0}) are not allowed: name the variable")
            if conv not in (None, "s"):
                raise ValueError(f"conversion !{conv} is not allowed (only !s)")
            if spec and "{" in spec:
                raise ValueError("nested fields in a format spec are not allowed")
            self.fields.append(name)

    def render(self, values: Mapping[str, Any]) -> str:
        try:
            return _FMT.vformat(self.text, (), _Missing(values))
        except (ValueError, TypeError):
            # A format spec that does not fit the value (e.g. {value:.0%} on an empty value):
            # render every field plainly rather than fail the alert.
            plain = re.sub(r"\{([^{}:!]+)(![s])?(:[^{}]*)?\}", r"{\1}", self.text)
            return _FMT.vformat(plain, (), _Missing(values))

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


class _Missing(dict):
    def __init__(self, values: Mapping[str, Any]):
        super().__init__({k: ("" if v is None else v) for k, v in values.items()})

    def __missing__(self, key):
        return ""
