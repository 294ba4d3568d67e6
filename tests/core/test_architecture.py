"""docs/architecture.md is generated from the code and current; the layering rules hold."""
import importlib.util
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("architecture", ROOT / "scripts" / "architecture.py")
arch = sys.modules["architecture"] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(arch)


def test_docs_architecture_is_current():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert page == arch.render(), "docs/architecture.md is stale: run python scripts/architecture.py --write"


def test_every_module_has_a_line():
    page = arch.render()
    for p in (ROOT / "logkit").rglob("*.py"):
        assert f"| `{p.relative_to(ROOT).as_posix()}` |" in page


def test_layering():
    problems = arch.check()
    assert problems == [], "\n".join(problems)


def _tree(tmp_path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return tmp_path


def test_the_checker_catches_each_kind_of_violation(tmp_path):
    # A small package with one of each problem: the check must name every one.
    root = _tree(tmp_path, {
        "logkit/__init__.py": '"""top."""\n',
        "logkit/schema.py": '"""schema."""\n',
        "logkit/emit/__init__.py": '"""emit."""\nfrom ..analyze import report\n',            # earlier -> later
        "logkit/emit/context.py": '"""ctx."""\n_context = 1\n',
        "logkit/analyze/__init__.py": '"""analyze."""\n',
        "logkit/analyze/report.py": '"""report."""\nfrom ..emit.context import _context\n'  # private name
                                    'from ..alert import x\n',                                  # 3 -> 4
        "logkit/alert/__init__.py": '"""alert."""\ndef f():\n    from ..analyze import report\n',
        "logkit/alert/x.py": '"""x."""\nfrom ..emit import _helpers\n',                           # private module
        "logkit/emit/_helpers.py": '"""h."""\n',
        "logkit/newthing.py": "x = 1\n",                                                         # no stage, no doc
    })
    probs = "\n".join(arch.check(root))
    assert "logkit.emit (stage 1 emit) imports logkit.analyze.report (later stage 3 analyze)" in probs
    assert "imports the private name _context of logkit.emit.context" in probs
    assert "imports the private module logkit.emit._helpers" in probs
    assert "logkit.newthing is in no stage" in probs and "newthing.py: no module docstring" in probs
    assert "import cycle between subpackages: alert <-> analyze" in probs or \
           "import cycle between subpackages: analyze <-> alert" in probs


def test_every_public_package_lists_its_api():
    """A package whose __init__ defines or imports anything lists it in __all__, and every listed name
    exists (lazy ones through the package's __getattr__)."""
    import ast
    import importlib

    for init in sorted((ROOT / "logkit").rglob("__init__.py")):
        rel = init.relative_to(ROOT).parent
        name = ".".join(rel.parts)
        tree = ast.parse(init.read_text(encoding="utf-8"))
        public = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.ImportFrom))
                  and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")
                  and not getattr(n, "name", "").startswith("_")]
        if not public:
            continue
        mod = importlib.import_module(name)
        assert hasattr(mod, "__all__"), f"{name} has public names but no __all__"
        for n in mod.__all__:
            assert getattr(mod, n, None) is not None, f"{name}.__all__ lists {n}, which it lacks"
