"""notebooks/explore_demo.ipynb runs top to bottom (nbclient, the venv's python3 kernel)."""
from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

NB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "notebooks", "explore_demo.ipynb")


def test_explore_demo_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGKIT_NOTEBOOK_EVENTS", "4000")
    nb = nbformat.read(NB, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert any("<svg" in o["data"]["text/html"] for o in html)
