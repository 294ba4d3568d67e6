"""The pieces of scripts/restructure_moves.py that decide what an import or a path becomes (the
whole script is run by the lead on the merged tree; it was tried on a clone, see its docstring)."""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("restructure_moves", ROOT / "scripts" / "restructure_moves.py")
rm = sys.modules["restructure_moves"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rm)


def test_module_renames_whole_components_only():
    assert rm.rename_module("logkit.store.elasticsearch") == "logkit.es.setup"
    assert rm.rename_module("logkit.store.client") == "logkit.es.client"
    assert rm.rename_module("logkit.analyze.render.html") == "logkit.look.render.html"
    assert rm.rename_module("logkit.analyze.renderer") == "logkit.analyze.renderer"
    assert rm.rename_module("mylogkit.store") == "mylogkit.store"
    assert rm.rename_module("logkit.metrics.synth") == "benchmarks.synth"


def test_relative_imports_follow_a_moved_file():
    text = "from .. import escape\nfrom ..report import Report\nfrom . import svg\n" \
           "def f():\n    from ..patterns import failure_patterns  # why\n"
    out = rm.rewrite_imports(ROOT / "logkit/look/render/html.py", "logkit/analyze/render/html.py", text)
    assert out == ("from ...analyze import escape\nfrom ...analyze.report import Report\nfrom . import svg\n"
                   "def f():\n    from ...analyze.failures import failure_patterns  # why\n")


def test_imports_of_moved_modules_in_files_that_stay():
    text = ("from logkit.store import elasticsearch as les\nfrom ..store.client import es_client\n"
            "from ..analyze import NothingToRead, patterns as run\n")
    out = rm.rewrite_imports(ROOT / "logkit/cli/x.py", None, text)
    assert "from ..es.client import es_client" in out
    # `patterns` is a function of logkit.analyze, not the old submodule: unchanged
    assert "from ..analyze import NothingToRead, patterns as run" in out


def test_names_and_paths_in_text():
    s = "see logkit/store/elasticsearch.py, logkit.analyze.demo and tests/test_emit.py"
    out = rm.rewrite_names_and_paths(s, {"logkit/store/elasticsearch.py": "logkit/es/setup.py",
                                         "tests/test_emit.py": "tests/emit/test_emit.py"})
    assert out == "see logkit/es/setup.py, logkit.look.demo and tests/emit/test_emit.py"


def test_test_files_find_their_folder_or_stay():
    assert rm.test_folder("test_emit_properties") == "emit"
    assert rm.test_folder("test_event_source") == "analyze"
    assert rm.test_folder("test_es_setup") == "es" and rm.test_folder("test_estypes") == "es"
    assert rm.test_folder("test_something_new") is None


def test_moved_test_files_still_find_the_repository():
    # F, not the name itself: the script rewrites this very file's own uses when it moves it.
    F = "__fi" + "le__"
    src = (f'ROOT = Path({F}).resolve().parent.parent\nFIX = os.path.join(os.path.dirname({F}), "f")\n'
           f'R2 = Path({F}).resolve().parents[1]\nargs = [sys.executable, str(Path({F})), "writer"]\n')
    out = rm.deepen_file_refs("tests/x/test_y.py", src)
    assert f"ROOT = Path({F}).resolve().parent.parent.parent\n" in out
    assert f'os.path.dirname(os.path.dirname(os.path.abspath({F}))), "f"' in out
    assert "parents[2]" in out and f"str(Path({F}))" in out


def test_helper_imports():
    src = "from es_fixtures import es_url\nimport emit_support\n    from conftest import require_env\n"
    out = rm.rewrite_helper_imports(src, ["es_fixtures", "emit_support"])
    assert out == ("from support.es_fixtures import es_url\nfrom support import emit_support\n"
                   "    from support.env import require_env\n")


def test_long_imports_are_wrapped():
    names = ["FORMAT_OPTION", "OUTPUT_OPTION", "fail", "open_output", "progress_wanted", "window_options", "x" * 30]
    out = rm._wrap("from .options import ", names, 0)
    assert all(len(line) <= 115 for line in out.splitlines()) and out.endswith(")")
    assert out.replace("\n", "").replace(" ", "") == "from.optionsimport(" + ",".join(names) + ")"
