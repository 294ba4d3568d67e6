"""Which optional extra a command needs, and the one line that says so when it is missing.

Kept free of third-party imports: it runs where only logkit's core is installed.
The extras themselves are declared in pyproject.toml ([project.optional-dependencies]); a test
(tests/core/test_packaging.py) checks that the module lists below match it.
"""
from __future__ import annotations

import importlib.util

#: extra -> the top-level modules it brings (directly, not through another extra).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "cli": ("click", "rich"),
    "analyze": ("duckdb", "yaml", "zstandard", "pytz"),
    "ship": ("elasticsearch", "elastic_transport"),
    "metrics": ("prometheus_client",),
}
#: extra -> the extras it includes (pyproject's `logkit[...]` self-references).
EXTRA_INCLUDES: dict[str, tuple[str, ...]] = {
    "cli": (), "analyze": ("cli",), "ship": ("cli",), "metrics": ("analyze",),
}
#: command -> the extra that installs everything it needs.
COMMAND_EXTRA: dict[str, str] = {
    "schema": "cli", "validate": "cli", "kibana": "cli",
    "filebeat": "cli", "prometheus": "cli", "grafana": "cli", "notebooks": "cli",
    "analyze": "analyze", "load": "analyze", "query": "analyze", "demo": "analyze",
    "patterns": "analyze", "alerts": "analyze",
    "ship": "ship", "es": "ship",
    "metrics": "metrics",
}


def _closure(extra: str) -> set[str]:
    mods = set(EXTRA_MODULES[extra])
    for inc in EXTRA_INCLUDES[extra]:
        mods |= _closure(inc)
    return mods


def extra_for(command: str | None, module: str | None) -> str | None:
    """The extra to name when ``module`` is missing while running ``command``; None when the
    module belongs to no extra (then the error is not an install problem and is not masked)."""
    top = (module or "").split(".")[0]
    owner = next((e for e, mods in EXTRA_MODULES.items() if top in mods), None)
    if owner is None:
        return None
    wanted = COMMAND_EXTRA.get(command or "")
    # Name the command's own extra when it covers the module (one install fixes everything),
    # otherwise the extra that brings the module (e.g. `analyze --es` needs 'ship' too).
    if wanted and top in _closure(wanted):
        return wanted
    return owner


def missing_extra_message(command: str | None, extra: str) -> str:
    who = f"logkit {command}" if command else "the logkit command"
    return f"{who} needs the '{extra}' extra: pip install 'logkit[{extra}]'"


def missing_extra(command: str) -> str | None:
    """The extra ``command`` needs when one of its modules is not installed, else None. Checked
    before the command parses its arguments, so the answer does not depend on them."""
    extra = COMMAND_EXTRA.get(command)
    if extra is None:
        return None
    for mod in sorted(_closure(extra)):
        if importlib.util.find_spec(mod) is None:
            return extra
    return None
