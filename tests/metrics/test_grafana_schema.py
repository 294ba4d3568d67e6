"""Every Grafana dashboard logkit ships, checked against Grafana's published types.

Grafana does not run here; its types do: npm `@grafana/schema@13` (installed by
scripts/components/50-estypes.sh, exported as LOGKIT_TEST_GRAFANA_SCHEMA). A generated .ts file
declares each dashboard as an object literal of type `Dashboard`, and each panel, before it, as
a literal of the generic `Panel` with its `options` (and `fieldConfig.defaults.custom`) typed by
that visualization's own `Options`/`FieldConfig` from its panelcfg module — the dashboard type
alone leaves `options` as `Record<string, unknown>`, so a misspelled panel option would pass.
`tsc --noEmit --strict` must accept it; object literals get TypeScript's excess-property check,
so an unknown key, a misspelled option or a wrong value type fails. Negative tests prove the
check bites, at the panel-option and the dashboard level.
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from logkit import data

#: panel type -> (the panelcfg module of @grafana/schema that types its options, whether that
#: module has a FieldConfig of its own — stat and bargauge have none).
PANEL_CFG = {
    "timeseries": ("timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen", True),
    "stat": ("stat/panelcfg/x/StatPanelCfg_types.gen", False),
    "table": ("table/panelcfg/x/TablePanelCfg_types.gen", True),
    "bargauge": ("bargauge/panelcfg/x/BarGaugePanelCfg_types.gen", False),
}


@pytest.fixture(scope="module")
def schema_home() -> Path:
    home = os.environ.get("LOGKIT_TEST_GRAFANA_SCHEMA", "").strip()
    if not home:
        pytest.fail("LOGKIT_TEST_GRAFANA_SCHEMA is not set: run the tests through scripts/test.sh "
                    "(component 50-estypes)", pytrace=False)
    path = Path(home)
    if not (path / "node_modules" / ".bin" / "tsc").exists():
        pytest.fail(f"{path} has no tsc: run scripts/components/50-estypes.sh install", pytrace=False)
    return path


def dashboards() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in data.files("grafana/dashboards", "*.json")}


def _ident(s: str) -> str:
    return re.sub(r"\W", "_", s)


def typescript(dashes: dict[str, dict]) -> str:
    """One typed constant per panel (its visualization's options type), then one per dashboard
    with the same panels inline (the dashboard's own panel type: `options` stays a record there,
    as interfaces have no index signature to give it)."""
    kinds = sorted({p["type"] for d in dashes.values() for p in d.get("panels", [])})
    unknown = set(kinds) - set(PANEL_CFG)
    assert not unknown, f"no panelcfg type known for panel type(s) {unknown}: add them to PANEL_CFG"
    out = ["import type { Dashboard as GDashboard, Panel } from '@grafana/schema';",
           # A JSON file holds a string enum's values, not its TypeScript enum type: map every string
           # enum (deeply) to the union of its values; the rest of the type stays as published.
           "type Json<T> = T extends string ? (string extends T ? string : `${T}`)",
           "  : T extends (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;",
           "type Dashboard = Json<GDashboard>;"]
    for k in kinds:
        mod, has_fc = PANEL_CFG[k]
        names = f"Options as {k}Options" + (f", FieldConfig as {k}FieldConfig" if has_fc else "")
        out.append(f"import type {{ {names} }} from '@grafana/schema/dist/esm/raw/composable/{mod}';")
        if not has_fc:
            out.append(f"type {k}FieldConfig = Record<string, unknown>;")
    out.append("")
    for name, d in dashes.items():
        for i, p in enumerate(d.get("panels", [])):
            const = _ident(f"{name}_panel_{i}")
            k = p["type"]
            # The panel with its own options type; fieldConfig.defaults.custom typed the same way.
            ts_type = (f"Json<Omit<Panel<{k}Options, {k}FieldConfig>, 'options'> & "
                       f"{{ options: {k}Options; fieldConfig?: {{ defaults: {{ custom?: {k}FieldConfig }} }} }}>")
            out.append(f"export const {const}: {ts_type} = {json.dumps(p, indent=2)};")
        out.append(f"export const {_ident(name)}: Dashboard = {json.dumps(d, indent=2)};")
    return "\n\n".join(out) + "\n"


def run_tsc(home: Path, tmp_path: Path, source: str) -> tuple[int, str]:
    (tmp_path / "dashboards.ts").write_text(source)
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {
            "strict": True, "noEmit": True, "target": "es2020", "module": "esnext",
            # "bundler" resolution reads the package's `exports` map (the panelcfg subpaths).
            "moduleResolution": "bundler", "skipLibCheck": True, "types": [],
            "typeRoots": [], "baseUrl": ".",
            "paths": {"@grafana/schema": [str(home / "node_modules/@grafana/schema")],
                      "@grafana/schema/*": [str(home / "node_modules/@grafana/schema/*")]},
        },
        "files": ["dashboards.ts"],
    }))
    p = subprocess.run([str(home / "node_modules/.bin/tsc"), "-p", str(tmp_path / "tsconfig.json"),
                        "--pretty", "false"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    return p.returncode, p.stdout + p.stderr


def test_every_shipped_dashboard_has_grafanas_dashboard_type(schema_home, tmp_path):
    dashes = dashboards()
    assert len(dashes) == 4
    rc, out = run_tsc(schema_home, tmp_path, typescript(dashes))
    assert rc == 0, out


def test_a_misspelled_panel_option_fails(schema_home, tmp_path):
    dashes = copy.deepcopy(dashboards())
    name, d = next((n, d) for n, d in dashes.items() if any(p["type"] == "timeseries" for p in d["panels"]))
    p = next(p for p in d["panels"] if p["type"] == "timeseries")
    p["options"]["legend"]["placemant"] = p["options"]["legend"].pop("placement")
    rc, out = run_tsc(schema_home, tmp_path, typescript({name: d}))
    assert rc != 0
    assert "placemant" in out and "error TS" in out, out


def test_a_wrong_option_value_and_a_misspelled_dashboard_key_fail(schema_home, tmp_path):
    dashes = copy.deepcopy(dashboards())
    name, d = next(iter(dashes.items()))
    d["refersh"] = d.pop("refresh", "1m")
    stat = next((p for dd in dashes.values() for p in dd["panels"] if p["type"] == "stat"), None)
    rc, out = run_tsc(schema_home, tmp_path, typescript({name: d}))
    assert rc != 0 and "refersh" in out, out
    if stat is not None:
        stat["options"]["colorMode"] = "rainbow"
        holder = next(n for n, dd in dashes.items() if stat in dd["panels"])
        rc, out = run_tsc(schema_home, tmp_path, typescript({holder: dashes[holder]}))
        assert rc != 0 and "rainbow" in out, out
