#!/usr/bin/env python3
"""The file moves of issue 17 ("one home per concept"), run once by the lead on the merged tree.

    python scripts/restructure_moves.py            # do it (git mv + import rewriting)
    python scripts/restructure_moves.py --dry-run  # say what it would do

Idempotent: a move already done is skipped, a rewrite already applied changes nothing, so it can
be run again after a partial run or after merging one more branch. Everything it cannot do
safely is printed as a WARNING for a person to finish (it never guesses). It runs `git mv`, so the
history follows the files; it commits nothing.

## Target layout

Each concept has one home (docs/architecture.md shows the stage of every module):

- `logkit/es/` — the Elasticsearch side (was `logkit/store/`): `client.py`, `setup.py` (was
  `elasticsearch.py`: templates, data streams, pipelines). Stage 2, beside ship, which uses it.
- `logkit/analyze/` — the DuckDB side: `inputs.py`, `columns.py`, `store.py` (the store *and* the
  event source every command reads through: `event_source()`), `queries.py`, `report.py`,
  `failures.py` (was `analyze/patterns.py`: the report's failure-pattern section; the name no
  longer collides with the miner package), `es_report.py`, `escape.py`. The library functions of
  `logkit analyze|load|query|patterns` are in `analyze/__init__.py`.
- `logkit/patterns/` — the template miner (masking, miner, exceptions); imports nothing of logkit.
  (The report's section stays in analyze: it runs the analyzer's SQL, and analyze already imports
  the miner, so moving it into `patterns/` would make a cycle between the two subpackages.)
- `logkit/look/` — every way to see events and reports: `kibana.py`, `render/` (was
  `analyze/render/`: table, json, csv, markdown, html and its svg charts), `demo.py` (was
  `analyze/demo.py`: a made-up day, emitted and rendered). `FORMATS` is defined once, in
  `logkit/look/__init__.py` (light: no DuckDB import), and used by the renderers and the CLI.
- `logkit/cli/` — all click code: `options.py` (was `analyze/cli_common.py`) and `_output.py`.
- `benchmarks/synth.py` (was `logkit/metrics/synth.py`): test and benchmark support leaves the
  package; `benchmarks/` is a package (`python -m benchmarks.x`), on pytest's `pythonpath`.
- `tests/` mirrors the package: `tests/<area>/test_*.py` with a `conftest.py` per folder; helper
  modules in the package `tests/support/` (`from support.es_fixtures import ...`); the test apps
  (`tests/celery_app.py`, `tests/django_project/`) and data (`tests/fixtures/`, `tests/sites/`) stay
  where they are, since task and view names (`tests.celery_app.add`) are asserted on.
"""
from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Directory moves first, then file moves (paths relative to the repository).
DIR_MOVES = [
    ("logkit/store", "logkit/es"),
    ("logkit/analyze/render", "logkit/look/render"),
]
FILE_MOVES = [
    ("logkit/es/elasticsearch.py", "logkit/es/setup.py"),
    ("logkit/analyze/patterns.py", "logkit/analyze/failures.py"),
    ("logkit/analyze/demo.py", "logkit/look/demo.py"),
    ("logkit/analyze/cli_common.py", "logkit/cli/options.py"),
    ("logkit/metrics/synth.py", "benchmarks/synth.py"),
]
#: Module renames that the path moves imply, for the import rewriting (old dotted -> new dotted).
MODULE_RENAMES = {
    "logkit.store.elasticsearch": "logkit.es.setup",
    "logkit.store": "logkit.es",
    "logkit.analyze.render": "logkit.look.render",
    "logkit.analyze.patterns": "logkit.analyze.failures",
    "logkit.analyze.demo": "logkit.look.demo",
    "logkit.analyze.cli_common": "logkit.cli.options",
    "logkit.metrics.synth": "benchmarks.synth",
}

#: tests/test_<prefix>*.py -> tests/<folder>/ (first matching prefix wins; longest first).
TEST_FOLDERS = [
    ("test_event_source", "analyze"), ("test_emit", "emit"), ("test_alert", "alert"),
    ("test_analyze", "analyze"), ("test_report", "analyze"), ("test_query", "analyze"), ("test_demo", "look"),
    ("test_patterns", "patterns"), ("test_ship", "ship"), ("test_tail", "ship"),
    ("test_es_", "es"), ("test_estypes", "es"), ("test_filebeat", "es"),
    ("test_metrics", "metrics"), ("test_prometheus", "metrics"), ("test_grafana", "metrics"),
    ("test_celery", "integrations"), ("test_django", "integrations"), ("test_scrapy", "integrations"),
    ("test_otel", "integrations"), ("test_e2e", "integrations"), ("test_integration", "integrations"),
    ("test_challenge", "detect"), ("test_detect", "detect"),
    ("test_kibana", "look"), ("test_lnav", "look"), ("test_notebook", "look"), ("test_look", "look"),
    ("test_schema", "core"), ("test_validate", "core"), ("test_timeparse", "core"), ("test_testing", "core"),
    ("test_architecture", "core"), ("test_packag", "core"), ("test_cli", "core"), ("test_data", "core"),
    ("test_version", "core"), ("test_restructure", "core"), ("test_usability", "analyze"),
    ("test_docs", "core"), ("test_install", "core"), ("test_matrix", "core"), ("test_output", "analyze"),
]
FOLDER_DOCS = {
    "emit": "logkit.emit: rendering, context, handlers, masking",
    "alert": "logkit.alert: rules, evaluation, state, sinks, Alertmanager",
    "analyze": "logkit.analyze: inputs, the DuckDB store, the report (DuckDB and Elasticsearch)",
    "patterns": "logkit.patterns: the template miner and `logkit patterns`",
    "ship": "logkit.ship: the follower and the shipper",
    "es": "logkit.es: templates, data streams, Filebeat configs, the Elasticsearch test node",
    "metrics": "logkit.metrics: the aggregator, exporter, Prometheus rules, Grafana dashboards",
    "integrations": "logkit.integrations: Django, Celery, Scrapy, OpenTelemetry, end to end",
    "detect": "logkit.detect: challenge and block detection",
    "look": "logkit.look: Kibana bundle, HTML report, lnav, notebooks, demo",
    "core": "schema, validate, timeparse, testing, architecture and packaging",
}
#: Modules in tests/ that are not test files but must stay (imported by dotted name from the root).
TEST_APPS = {"conftest", "celery_app"}

#: Exact edits that finish a move (file, old text, new text, why). Skipped when the new text is
#: there already; a WARNING when neither is (the file changed: finish it by hand).
FORMATS_LINE = 'FORMATS = ("table", "json", "csv", "markdown", "html")'
TEXT_EDITS = [
    ("logkit/look/__init__.py",
     '"""Stage 5, look: ways to see the events — the Kibana saved-search bundle (and, later, the HTML\n'
     'report and notebooks). Reads the schema; imports no later stage."""',
     '"""Stage 5, look: ways to see the events and the report — the Kibana saved-search bundle\n'
     '(kibana.py), the report rendered as a table, JSON, CSV, Markdown or HTML (render/), and the demo.\n'
     'Reads the schema and the analyzer; imports no later stage."""\n\n'
     '#: The report\'s output formats, defined once (this module imports nothing, so the CLI can use it\n'
     '#: without loading DuckDB).\n'
     + FORMATS_LINE + '\n\n__all__ = ["FORMATS"]',
     "look/ now holds the HTML report; FORMATS defined once"),
    ("logkit/look/render/__init__.py", FORMATS_LINE, "from .. import FORMATS  # defined once, in logkit.look",
     "FORMATS once"),  # applied after the import rewriting: relative to the new place
    ("logkit/cli/options.py", FORMATS_LINE, "from ..look import FORMATS", "FORMATS once"),
    ("logkit/cli/_output.py", FORMATS_LINE, "from ..look import FORMATS", "FORMATS once"),
    ("logkit/es/__init__.py",
     '"""Stage 3, store: where events live — Elasticsearch (templates, data streams, pipelines) and,\n'
     'for the analyzer, DuckDB. Imports emit and schema, never a later stage."""',
     '"""Stage 2, es: the Elasticsearch side — one client, and the templates, data streams and\n'
     'pipelines ``logkit es`` sets up (the DuckDB side is logkit.analyze.store). Imports emit and schema,\n'
     'never a later stage."""',
     "the Elasticsearch package named for what it is"),
    ("logkit/analyze/__init__.py",
     '\n\ndef demo(*args, **kwargs):\n    from .demo import demo as _demo\n    return _demo(*args, **kwargs)\n',
     '\n',
     "demo moved to look (a later stage): analyze no longer offers it"),
    ("logkit/analyze/__init__.py", '"query", "patterns", "demo", ', '"query", "patterns", ', "demo left analyze"),
    ("logkit/analyze/__init__.py",
     "- :func:`demo` — a day of logs of a made-up deployment, through logkit's own emitters, and its report.\n",
     "", "demo left analyze"),
]

TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".toml", ".yml", ".yaml", ".sh", ".cfg", ".txt", ".ini", ".json"}
SCAN_DIRS = ["logkit", "tests", "benchmarks", "scripts", "notebooks", "docs", ".ci"]
SCAN_FILES = ["README.md", "pyproject.toml"]

warnings: list[str] = []


def warn(msg: str) -> None:
    warnings.append(msg)
    print(f"WARNING: {msg}", file=sys.stderr)


def git(*args: str, dry: bool) -> None:
    print("git " + " ".join(args))
    if not dry:
        subprocess.run(["git", *args], cwd=ROOT, check=True)


def tracked(path: Path) -> bool:
    r = subprocess.run(["git", "ls-files", "--error-unmatch", str(path.relative_to(ROOT))], cwd=ROOT,
                       capture_output=True)
    return r.returncode == 0


def mv(old: str, new: str, moved: dict[str, str], dry: bool) -> None:
    """git mv one file; records new -> old for the relative-import rewriting."""
    src, dst = ROOT / old, ROOT / new
    if not src.exists():
        return
    if dst.exists():
        warn(f"{old} and {new} both exist: merge them by hand")
        return
    if not dry:
        dst.parent.mkdir(parents=True, exist_ok=True)
    if tracked(src):
        git("mv", old, new, dry=dry)
    else:
        print(f"mv {old} {new}  (untracked)")
        if not dry:
            src.rename(dst)
    moved[new] = old


# --- module names ------------------------------------------------------------------------------
def module_of(path: str) -> str:
    p = Path(path).with_suffix("")
    parts = list(p.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: str) -> bool:
    return Path(path).name == "__init__.py"


_RENAME_RE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(MODULE_RENAMES, key=len,
                                                                                  reverse=True)) + r")(?!\w)")


def rename_module(name: str) -> str:
    """The new dotted name of an old one (``logkit.store.client`` -> ``logkit.es.client``)."""
    return _RENAME_RE.sub(lambda m: MODULE_RENAMES[m.group(1)], name)


def _relative(from_pkg: str, target: str) -> tuple[int, str]:
    a, b = from_pkg.split("."), target.split(".")
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    return len(a) - common + 1, ".".join(b[common:])


def _defined_in(package: str, name: str) -> bool:
    """``name`` is a function, class or variable of ``package``'s ``__init__`` (so ``from package
    import name`` means it, not a submodule: ``from logkit.analyze import patterns`` is a function)."""
    init = ROOT.joinpath(*package.split(".")) / "__init__.py"
    if not init.exists():
        return False
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
    return False


def _exists_module(name: str) -> bool:
    p = ROOT.joinpath(*name.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def rewrite_imports(path: Path, old_path: str | None, text: str) -> str:
    """Every ``from X import a, b`` of a logkit module whose target moved (or, for a moved file,
    whose relative form changed), re-rendered; absolute dotted names elsewhere in the text too."""
    rel = path.relative_to(ROOT).as_posix()
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        warn(f"{rel}: not parsed ({e}); imports not rewritten")
        return text
    new_mod = module_of(rel)
    new_pkg = new_mod if is_package(rel) else new_mod.rpartition(".")[0]
    old_mod = module_of(old_path or rel)
    old_pkg = old_mod if is_package(old_path or rel) else old_mod.rpartition(".")[0]
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = old_pkg.split(".")[: len(old_pkg.split(".")) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if not (target == "logkit" or target.startswith("logkit.")):
            continue
        groups: dict[str, list[str]] = {}
        changed = False
        for a in node.names:
            sub = f"{target}.{a.name}"
            new_sub = rename_module(sub)
            if a.name != "*" and new_sub != sub and _exists_module(new_sub) \
                    and not _defined_in(rename_module(target), a.name):
                frm, _, name = new_sub.rpartition(".")
                alias = a.asname or (a.name if name != a.name else None)
                changed = True
            else:
                frm, name, alias = rename_module(target), a.name, a.asname
                changed |= frm != target
            groups.setdefault(frm, []).append(f"{name} as {alias}" if alias and alias != name else name)
        if not changed and not (node.level and old_path):
            continue
        out = []
        for frm, names in groups.items():
            if node.level and frm.startswith("logkit"):
                level, mod = _relative(new_pkg, frm)
                src = "." * level + mod
            else:
                src = frm
            out.append(_wrap(f"from {src} import ", names, node.col_offset))
        indent = " " * node.col_offset
        new_stmt = ("\n" + indent).join(out)
        old_stmt = "".join(lines[node.lineno - 1:node.end_lineno])[node.col_offset:]
        old_stmt = old_stmt[: len(old_stmt) - (len(lines[node.end_lineno - 1]) - node.end_col_offset)]
        if _same_import(old_stmt, new_stmt):
            continue
        edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, new_stmt))
    for l0, c0, l1, c1, stmt in sorted(edits, reverse=True):
        head = lines[l0 - 1][:c0]
        tail = lines[l1 - 1][c1:]
        lines[l0 - 1:l1] = [head + stmt + tail]
    text = "".join(lines)
    return text


def _wrap(head: str, names: list[str], indent: int, width: int = 115) -> str:
    one = head + ", ".join(names)
    if indent + len(one) <= width:
        return one
    lines, cur = [], head + "("
    for i, n in enumerate(names):
        piece = n + (", " if i < len(names) - 1 else ")")
        if indent + len(cur) + len(piece.rstrip()) > width and cur.strip() not in (head.strip() + " (", "("):
            lines.append(cur.rstrip())
            cur = " " * len(head + "(")
        cur += piece
    lines.append(cur)
    return ("\n" + " " * indent).join(lines)


def _same_import(a: str, b: str) -> bool:
    norm = lambda s: re.sub(r"[\s()\\]+", " ", re.sub(r"#[^\n]*", "", s)).replace(" ,", ",").strip()  # noqa: E731
    return norm(a) == norm(b)


def rewrite_names_and_paths(text: str, path_map: dict[str, str]) -> str:
    text = _RENAME_RE.sub(lambda m: MODULE_RENAMES[m.group(1)], text)
    if path_map:
        rx = re.compile(r"(?<![\w/.-])(" + "|".join(re.escape(k) for k in sorted(path_map, key=len, reverse=True))
                        + r")(?![\w-])")
        text = rx.sub(lambda m: path_map[m.group(1)], text)
    return text


# --- tests ------------------------------------------------------------------------------------
def test_folder(name: str) -> str | None:
    for prefix, folder in sorted(TEST_FOLDERS, key=lambda p: -len(p[0])):
        if name.startswith(prefix):
            return folder
    return None


_FILE_PATTERNS = [  # one level deeper: what each __file__ expression of a moved test file becomes
    (re.compile(r"os\.path\.dirname\(os\.path\.abspath\(__file__\)\)"),
     "os.path.dirname(os.path.dirname(os.path.abspath(__file__)))"),
    (re.compile(r"os\.path\.dirname\(__file__\)"), "os.path.dirname(os.path.dirname(os.path.abspath(__file__)))"),
    (re.compile(r"Path\(__file__\)\.resolve\(\)\.parents\[(\d+)\]"),
     lambda m: f"Path(__file__).resolve().parents[{int(m.group(1)) + 1}]"),
    (re.compile(r"Path\(__file__\)\.parents\[(\d+)\]"), lambda m: f"Path(__file__).parents[{int(m.group(1)) + 1}]"),
    (re.compile(r"Path\(__file__\)\.resolve\(\)\.parent\b"), "Path(__file__).resolve().parent.parent"),
    (re.compile(r"Path\(__file__\)\.parent\b"), "Path(__file__).parent.parent"),
]
_FILE_OK = re.compile(r"str\(Path\(__file__\)\)|LogRecord\([^)]*__file__")


def deepen_file_refs(rel: str, text: str) -> str:
    """A test file moved one folder down keeps finding the repo, fixtures and sites."""
    out = []
    for line in text.splitlines(keepends=True):
        if "__file__" in line and not _FILE_OK.search(line):
            new = line
            for rx, rep in _FILE_PATTERNS:
                new, n = rx.subn(rep, new)
                if n:
                    break
            else:
                warn(f"{rel}: a use of __file__ not rewritten (the file moved one folder down): {line.strip()}")
            line = new
        out.append(line)
    return "".join(out)


def plan_tests() -> tuple[list[tuple[str, str]], list[str]]:
    """(old, new) test-file moves and the helper module names that go to tests/support/."""
    moves: list[tuple[str, str]] = []
    # helpers moved by an earlier run too: a branch merged since may still import them by old name
    helpers = sorted(p.stem for p in (ROOT / "tests" / "support").glob("*.py") if p.stem not in ("__init__", "env"))
    for p in sorted((ROOT / "tests").glob("*.py")):
        stem = p.stem
        if stem in TEST_APPS:
            continue
        if stem.startswith("test_"):
            folder = test_folder(stem)
            if folder is None:
                warn(f"tests/{p.name}: no folder for this name (add a prefix to TEST_FOLDERS); left in place")
                continue
            moves.append((f"tests/{p.name}", f"tests/{folder}/{p.name}"))
        else:
            helpers.append(stem)
            moves.append((f"tests/{p.name}", f"tests/support/{p.name}"))
    return moves, helpers


def rewrite_helper_imports(text: str, helpers: list[str]) -> str:
    for h in helpers:
        text = re.sub(rf"^(\s*)from {h} import ", rf"\1from support.{h} import ", text, flags=re.M)
        text = re.sub(rf"^(\s*)import {h}( as \w+)?\s*$", lambda m: f"{m.group(1)}from support import {h}"
                      f"{m.group(2) or ''}", text, flags=re.M)
    text = re.sub(r"^(\s*)from conftest import require_env\b", r"\1from support.env import require_env", text,
                  flags=re.M)
    if re.search(r"^\s*from conftest import", text, flags=re.M):
        warn("a test imports from conftest something other than require_env: move it to tests/support/")
    return text


SUPPORT_ENV = '''"""Environment the tests get from scripts/test.sh (ports and URLs of the real components)."""
from __future__ import annotations

import os

import pytest


'''


def split_require_env(dry: bool) -> None:
    """require_env moves from tests/conftest.py to tests/support/env.py (importable by name:
    with a conftest.py per folder, ``from conftest import`` would find whichever was loaded last)."""
    conf, env = ROOT / "tests" / "conftest.py", ROOT / "tests" / "support" / "env.py"
    if env.exists():
        return
    text = conf.read_text(encoding="utf-8")
    tree = ast.parse(text)
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "require_env"), None)
    if fn is None:
        warn("tests/conftest.py has no require_env: tests/support/env.py not made")
        return
    lines = text.splitlines(keepends=True)
    src = "".join(lines[fn.lineno - 1:fn.end_lineno])
    print("tests/conftest.py: require_env -> tests/support/env.py")
    if dry:
        return
    env.parent.mkdir(parents=True, exist_ok=True)
    env.write_text(SUPPORT_ENV + src, encoding="utf-8")
    lines[fn.lineno - 1:fn.end_lineno] = ["from support.env import require_env  # noqa: E402,F401 (tests import it)\n"]
    conf.write_text("".join(lines), encoding="utf-8")


# --- the render package's own cycle ---------------------------------------------------------------
RENDER = "logkit/look/render"
RENDER_COMMON_DOC = ('"""What the renderers share: short headers, values as people read them, the window line '
                     '(imported by\nthe package and by table.py and html.py, which the package imports in turn)."""\n')


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {t.id for t in targets if isinstance(t, ast.Name)}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def split_render_common(dry: bool) -> None:
    """table.py and html.py import helpers from the package, which imports them (lazily) back: move
    those helpers (and what they use) to render/common.py, so the lazy imports stay for speed only."""
    init, common = ROOT / RENDER / "__init__.py", ROOT / RENDER / "common.py"
    if common.exists() or not init.exists():
        return
    wanted: set[str] = set()
    users = []
    for name in ("table.py", "html.py"):
        p = ROOT / RENDER / name
        if not p.exists():
            continue
        for node in ast.parse(p.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module:
                helpers = {a.name for a in node.names if not (ROOT / RENDER / f"{a.name}.py").exists()}
                if not helpers:
                    continue  # `from . import svg`: a sibling module, not a helper of the package
                if len(helpers) < len(node.names):
                    warn(f"{p.relative_to(ROOT)}:{node.lineno}: imports helpers and modules in one statement; "
                         f"split it, then run again")
                    return
                wanted |= helpers
                users.append((p, node))
    if not wanted:
        return
    text = init.read_text(encoding="utf-8")
    tree = ast.parse(text)
    defs = {n: node for node in tree.body if not isinstance(node, (ast.Import, ast.ImportFrom))
            for n in _bound_names(node)}
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    missing = sorted(w for w in wanted if w not in defs)
    if missing:
        warn(f"{RENDER}/__init__.py: {', '.join(missing)} not defined at its top level; render/common.py not made")
        return
    # the wanted definitions and every top-level definition they use, transitively
    take: list[ast.stmt] = []
    todo = list(wanted)
    seen: set[str] = set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        node = defs[n]
        if node not in take:
            take.append(node)
        used = {x.id for x in ast.walk(node) if isinstance(x, ast.Name)}
        todo += [u for u in used if u in defs and u not in seen]
    take.sort(key=lambda n: n.lineno)
    moved_names = set().union(*(_bound_names(n) for n in take))
    # a moved definition must not use one that stays (it would need the package back: a cycle again)
    used_all = {x.id for n in take for x in ast.walk(n) if isinstance(x, ast.Name)}
    lines = text.splitlines(keepends=True)
    need_imports = [imp for imp in imports if _bound_names(imp) & used_all or
                    (isinstance(imp, ast.ImportFrom) and imp.module == "__future__")]

    def seg(node: ast.stmt) -> str:
        start = node.lineno - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#:"):  # keep "#:" doc comments
            start -= 1
        return "".join(lines[start:node.end_lineno])

    body = RENDER_COMMON_DOC + "".join(seg(i) + ("\n" if getattr(i, "level", 0) else "") for i in need_imports) + "\n\n" + "\n\n".join(seg(n).rstrip() + "\n"
                                                                                       for n in take)
    # what the package keeps using: public names as they are, private ones through a public alias
    aliases = {}
    for node in take:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            for t in node.targets:
                if isinstance(t, ast.Name) and not t.id.startswith("_"):
                    aliases[node.value.id] = t.id
    names = []
    for n in sorted(moved_names):
        if not n.startswith("_"):
            names.append(n)
        elif n in aliases:
            names.append(f"{aliases[n]} as {n}")
        else:
            warn(f"{RENDER}: private {n} moves to common.py without a public name; the package keeps a copy")
    print(f"{RENDER}/common.py: {', '.join(sorted(moved_names))}")
    if dry:
        return
    common.write_text(body, encoding="utf-8")
    for node in sorted(take, key=lambda n: -n.lineno):
        start = node.lineno - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#:"):
            start -= 1
        end = node.end_lineno
        while end < len(lines) and not lines[end].strip():
            end += 1
        del lines[start:end]
    last_import = max(i.end_lineno for i in imports)
    lines.insert(last_import, "# Shared with table.py and html.py (common.py); the public names are re-exported for callers.\n"
                 + _wrap("from .common import ", names, 0) + "  # noqa: F401\n\n")
    init.write_text("".join(lines), encoding="utf-8")
    for p, node in users:
        t = p.read_text(encoding="utf-8")
        t_lines = t.splitlines(keepends=True)
        old = "".join(t_lines[node.lineno - 1:node.end_lineno])
        t = t.replace(old, old.replace("from . import", "from .common import", 1), 1)
        p.write_text(t, encoding="utf-8")


def drop_known_cycle(package: str) -> None:
    """The cycle inside ``package`` is gone: its KNOWN_CYCLES entry in scripts/architecture.py goes too."""
    p = ROOT / "scripts" / "architecture.py"
    text = p.read_text(encoding="utf-8")
    rx = re.compile(r'\n    frozenset\(\{"' + re.escape(package) + r'"[^}]*\}\):\n\s+"[^"]*",')
    new, n = rx.subn("", text)
    if n:
        print(f"scripts/architecture.py: the {package} cycle is gone from KNOWN_CYCLES")
        p.write_text(new, encoding="utf-8")


# --- main -----------------------------------------------------------------------------------------
def ensure_file(rel: str, text: str, dry: bool) -> None:
    p = ROOT / rel
    if p.exists():
        return
    print(f"create {rel}")
    if not dry:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def ensure_pythonpath(dry: bool) -> None:
    pp = ROOT / "pyproject.toml"
    text = pp.read_text(encoding="utf-8")
    if re.search(r"^pythonpath\s*=", text, flags=re.M):
        if '"tests"' not in text.split("pythonpath", 1)[1].split("\n", 1)[0]:
            warn("pyproject.toml has a pytest pythonpath without tests/: add \".\" and \"tests\" to it")
        return
    new, n = re.subn(r'^(testpaths = \["tests"\]\n)', r'\1# tests/support/ helpers and the benchmarks package import by name.\n'
                     r'pythonpath = [".", "tests"]\n', text, flags=re.M)
    if not n:
        warn("pyproject.toml: no `testpaths = [\"tests\"]` line; add pythonpath = [\".\", \"tests\"] by hand")
        return
    print("pyproject.toml: pytest pythonpath = [\".\", \"tests\"]")
    if not dry:
        pp.write_text(new, encoding="utf-8")


def apply_text_edits(dry: bool, phase: str) -> None:
    for rel, old, new, why in TEXT_EDITS:
        # Removals first (before imports are rewritten, so they still match); edits that insert an
        # import after (so the import rewriting does not read them from the file's old place).
        if (phase == "before") != (new.strip() == "" or "import" not in new):
            continue
        p = ROOT / rel
        if not p.exists():
            warn(f"{rel}: missing; edit not made ({why})")
            continue
        text = p.read_text(encoding="utf-8")
        if old in text:
            print(f"edit {rel}: {why}")
            if not dry:
                p.write_text(text.replace(old, new, 1), encoding="utf-8")
        elif new and new in text:
            continue
        elif not new:
            continue  # a removal already made
        else:
            warn(f"{rel}: the text to replace was not found ({why}); do it by hand")


def files_to_scan() -> list[Path]:
    out = []
    for d in SCAN_DIRS:
        base = ROOT / d
        if base.exists():
            out += [p for p in base.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES
                    and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts]
    out += [ROOT / f for f in SCAN_FILES if (ROOT / f).exists()]
    return sorted(p for p in set(out) if p.name != "restructure_moves.py")  # its tables name the old paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args(argv)
    dry = a.dry_run
    moved: dict[str, str] = {}   # new path -> old path (moves made in this run)

    # 1. package moves
    for old_dir, new_dir in DIR_MOVES:
        src = ROOT / old_dir
        if not src.exists():
            continue
        for p in sorted(src.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                rel = p.relative_to(ROOT).as_posix()
                mv(rel, new_dir + rel[len(old_dir):], moved, dry)
    for old, new in FILE_MOVES:
        if (ROOT / old).exists():
            mv(old, new, moved, dry)
    # a file moved twice (store/elasticsearch.py -> es/elasticsearch.py -> es/setup.py): keep the first path
    for new, old in list(moved.items()):
        while old in moved:
            old = moved.pop(old)
        moved[new] = old
    ensure_file("benchmarks/__init__.py", '"""Benchmarks and their data generators: run as ``python -m '
                'benchmarks.NAME`` from the repository root."""\n', dry)

    # 2. tests
    test_moves, helpers = plan_tests()
    for old, new in test_moves:
        mv(old, new, moved, dry)
    if test_moves or (ROOT / "tests" / "support").exists():
        ensure_file("tests/support/__init__.py", '"""Helpers shared by the tests (fixtures of real components, '
                    'event readers); imported as ``support.NAME``."""\n', dry)
        split_require_env(dry)
    for folder in sorted({new.split("/")[1] for _, new in test_moves if new.count("/") == 2} - {"support"}):
        ensure_file(f"tests/{folder}/conftest.py", f'"""Fixtures for the tests of {FOLDER_DOCS.get(folder, folder)}. '
                    f'Shared ones are in tests/conftest.py and tests/support/."""\n', dry)
    if dry:
        print("\n(dry run: no file rewritten)")
        return 0

    # 3. text edits that finish the moves (removals; inserted imports come after step 4)
    apply_text_edits(dry, "before")
    ensure_pythonpath(dry)

    # 4. imports and names everywhere
    path_map = {old: new for new, old in moved.items()}
    for old_dir, new_dir in DIR_MOVES:
        path_map[old_dir + "/"] = new_dir + "/"
    moved_tests = {new for new, old in moved.items() if old.startswith("tests/") and new.count("/") == 2}
    for p in files_to_scan():
        rel = p.relative_to(ROOT).as_posix()
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = text
        if p.name == "test_restructure_moves.py":  # its expectations name the old paths on purpose
            new = deepen_file_refs(rel, new) if rel in moved_tests else new
        elif p.suffix == ".py":
            new = rewrite_imports(p, moved.get(rel), new)
            if rel.startswith("tests/"):
                new = rewrite_helper_imports(new, helpers)
            if rel in moved_tests:
                new = deepen_file_refs(rel, new)
            new = rewrite_names_and_paths(new, path_map)
        else:
            new = rewrite_names_and_paths(new, path_map)
        if new != text:
            print(f"rewrite {rel}")
            p.write_text(new, encoding="utf-8")

    apply_text_edits(dry, "after")
    split_render_common(dry)
    if (ROOT / RENDER / "common.py").exists():
        drop_known_cycle("logkit.look.render")

    # 5. the generated page follows the layout
    r = subprocess.run([sys.executable, "scripts/architecture.py", "--write"], cwd=ROOT)
    if r.returncode:
        warn("scripts/architecture.py --write failed")
    r = subprocess.run([sys.executable, "scripts/architecture.py", "--check"], cwd=ROOT, capture_output=True,
                       text=True)
    if r.returncode:
        warn("layering check after the moves:\n" + r.stdout)
    print(f"\ndone: {len(moved)} file(s) moved, {len(warnings)} warning(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
