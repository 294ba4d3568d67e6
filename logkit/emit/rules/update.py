"""Regenerate ``gitleaks_rules.json`` from the vendored ``gitleaks.toml``.

    python -m logkit.emit.rules.update

The TOML is gitleaks' default configuration, kept verbatim (see README.md for its source, commit
and licence). Parsing 3,000 lines of TOML costs a quarter of a second, too much for every process
that imports logkit, so the emitter reads this compact JSON selection instead; a test checks the
two agree.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra installs tomli there
    import tomli as tomllib

HERE = Path(__file__).parent
#: Rules logkit leaves out, and why:
#: - generic-api-key: its keywords ("key", "api", "token", "access") occur in most log text, and
#:   keyed secrets (``key=value``, ``"key": "value"``, headers) are masked by logkit's own
#:   key/value scanner, which also knows log shapes the generic rule does not (Python reprs,
#:   SQLAlchemy parameters, env lines).
#: - private-key: it needs the END line; logkit's own rule also masks a block cut by truncation.
EXCLUDED = frozenset({"generic-api-key", "private-key"})


def selection(toml_path: Path = HERE / "gitleaks.toml") -> list[dict]:
    with open(toml_path, "rb") as fh:
        cfg = tomllib.load(fh)
    out = []
    for r in cfg["rules"]:
        if "regex" not in r or r["id"] in EXCLUDED:
            continue
        out.append({"id": r["id"], "regex": r["regex"], "keywords": sorted({k.lower() for k in r.get("keywords", [])}),
                    "group": r.get("secretGroup")})
    return out


def main() -> None:
    (HERE / "gitleaks_rules.json").write_text(json.dumps(selection(), indent=0) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
