"""Every JSON body `logkit es setup` sends, checked against Elastic's published API types.

The test node cannot run ingest pipelines or lifecycle policies, so their bodies (and the
templates, for good measure) are typed with `estypes` from npm `@elastic/elasticsearch@8`:
a generated .ts file declares each body, as an object literal, with its request type
(8.x flattens a request's body fields beside its path parameters), and `tsc --noEmit
--strict` must accept it. Object literals get TypeScript's excess-property check, so an
unknown processor, a misspelled option or a wrong value type fails. A negative test proves
the check bites. scripts/components/50-estypes.sh installs the packages and exports
LOGKIT_TEST_ESTYPES.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from logkit.es import setup as les

#: request kind -> (estypes request type, name of its path parameter)
REQUEST_TYPES = {
    "pipeline": ("IngestPutPipelineRequest", "id"),
    "component_template": ("ClusterPutComponentTemplateRequest", "name"),
    "index_template": ("IndicesPutIndexTemplateRequest", "name"),
    "ilm_policy": ("IlmPutLifecycleRequest", "name"),
}


@pytest.fixture(scope="module")
def estypes_home() -> Path:
    home = os.environ.get("LOGKIT_TEST_ESTYPES", "").strip()
    if not home:
        pytest.fail("LOGKIT_TEST_ESTYPES is not set: run the tests through scripts/test.sh, or "
                    "scripts/components/50-estypes.sh install && .../50-estypes.sh start RUN", pytrace=False)
    path = Path(home)
    if not (path / "node_modules" / ".bin" / "tsc").exists():
        pytest.fail(f"{path} has no tsc: run scripts/components/50-estypes.sh install", pytrace=False)
    return path


def _ident(s: str) -> str:
    return re.sub(r"\W", "_", s)


def declarations(requests: list[les.Request], suffix: str = "") -> str:
    """TypeScript: one typed constant per request body."""
    out = []
    for req in requests:
        ts_type, param = REQUEST_TYPES[req.kind]
        literal = {param: req.name, **req.body}
        out.append(f"export const {_ident(req.kind + '_' + req.name + suffix)}: estypes.{ts_type} = "
                   f"{json.dumps(literal, indent=2)};")
    return "\n\n".join(out)


def run_tsc(home: Path, tmp_path: Path, source: str) -> tuple[int, str, float]:
    (tmp_path / "bodies.ts").write_text("import type { estypes } from '@elastic/elasticsearch';\n\n"
                                        + source + "\n")
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {
            "strict": True, "noEmit": True, "target": "es2020", "module": "commonjs",
            "moduleResolution": "node", "skipLibCheck": True, "types": [],
            "baseUrl": ".",
            "paths": {"@elastic/elasticsearch": [str(home / "node_modules" / "@elastic" / "elasticsearch")]},
        },
        "files": ["bodies.ts"],
    }))
    t0 = time.monotonic()
    p = subprocess.run([str(home / "node_modules" / ".bin" / "tsc"), "-p", str(tmp_path / "tsconfig.json"),
                        "--noEmit", "--strict", "--pretty", "false"],
                       capture_output=True, text=True, timeout=180, cwd=tmp_path)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def all_requests() -> list[les.Request]:
    """What setup sends to a full cluster, and to one like the test node (fallback types)."""
    full = les.plan(les.Capabilities.full())
    bare = les.plan(les.Capabilities(field_types=frozenset(), processors=frozenset(), ilm=False),
                    name="logkit_bare")
    return full + bare


def test_every_body_matches_the_published_api_types(estypes_home, tmp_path):
    reqs = all_requests()
    kinds = {r.kind for r in reqs}
    assert kinds == set(REQUEST_TYPES)  # pipelines, lifecycle policy and templates all checked
    rc, out, secs = run_tsc(estypes_home, tmp_path, declarations(reqs))
    print(f"tsc checked {len(reqs)} bodies in {secs:.1f}s")
    assert rc == 0, out


BAD = {
    # a misspelled processor option
    "misspelled_option": ("pipeline", {"processors": [{"lowercase": {"field": "log.level", "ignore_mising": True}}]},
                          "ignore_mising"),
    # a processor that does not exist
    "unknown_processor": ("pipeline", {"processors": [{"lowercasee": {"field": "log.level"}}]}, "lowercasee"),
    # a wrong value type in a reroute
    "wrong_value_type": ("pipeline", {"processors": [{"reroute": {"dataset": 5}}]}, "number"),
    # a misspelled mapping parameter
    "mapping_param": ("component_template", {"template": {"mappings": {"properties": {
        "url": {"type": "keyword", "ignore_abov": 10}}}}}, "ignore_abov"),
    # a misspelled lifecycle action
    "ilm_action": ("ilm_policy", {"policy": {"phases": {"hot": {"actions": {"rolover": {"max_age": "7d"}}}}}},
                   "rolover"),
    # a misspelled index template key
    "template_key": ("index_template", {"index_patterns": ["x-*"], "composed": ["a"]}, "composed"),
}


def _shipped_pipeline_with_a_typo() -> dict:
    """logkit's own default pipeline with one option misspelled."""
    text = json.dumps(les.load_pipeline("logkit-default"))
    assert '"keep_original"' in text
    return json.loads(text.replace('"keep_original"', '"keep_orignal"'))


def test_a_misspelled_body_fails_the_check(estypes_home, tmp_path):
    bad = dict(BAD, shipped_pipeline=("pipeline", _shipped_pipeline_with_a_typo(), "keep_orignal"))
    reqs = [les.Request(kind, f"bad_{name}", body) for name, (kind, body, _) in bad.items()]
    source = declarations(reqs)
    rc, out, _ = run_tsc(estypes_home, tmp_path, source)
    assert rc != 0
    # each bad declaration produced its own error, on its own lines
    lines = source.splitlines()
    starts = {name: 3 + next(i for i, line in enumerate(lines) if f"bad_{name}" in line and "export" in line)
              for name in bad}
    errors = [(int(m.group(1)), m.group(2)) for m in re.finditer(r"bodies\.ts\((\d+),\d+\): error TS\d+: (.*)", out)]
    ordered = sorted(starts.items(), key=lambda kv: kv[1])
    for i, (name, start) in enumerate(ordered):
        end = ordered[i + 1][1] if i + 1 < len(ordered) else 10**9
        mine = [msg for line, msg in errors if start <= line < end]
        assert mine, f"{name}: tsc found nothing wrong:\n{out}"
        assert any(bad[name][2] in msg for msg in mine), (name, mine)
