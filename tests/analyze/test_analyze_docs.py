"""docs/analyze.md carries every report definition exactly as queries.py has it."""
from __future__ import annotations

import os

from logkit.analyze.queries import QUERIES, reference_markdown
from logkit.analyze.report import SECTIONS

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs", "analyze.md")


def test_docs_definitions_match_the_queries():
    text = open(DOC).read()
    block = text.split("<!-- BEGIN GENERATED: queries -->\n")[1].split("<!-- END GENERATED: queries -->")[0]
    assert block == reference_markdown(), "regenerate: python -c 'from logkit.analyze.queries import reference_markdown; print(reference_markdown())'"
    for name in SECTIONS:
        assert name in QUERIES and f"`{name}`" in block
