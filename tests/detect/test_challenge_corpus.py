"""The real-page corpus (tests/fixtures/challenges/real/): its records, and the detector's figures on it.

The scoring is benchmarks/challenge_corpus.py's, so the test and the figures in docs/challenges.md
are the same computation.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "challenges" / "real"

_spec = importlib.util.spec_from_file_location("challenge_corpus", ROOT / "benchmarks" / "challenge_corpus.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["challenge_corpus"] = bench
_spec.loader.exec_module(bench)

LICENCES = ("MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause")
SIDECARS = sorted(CORPUS.glob("*/*.json"))


@pytest.mark.parametrize("sidecar", SIDECARS, ids=[f"{p.parent.name}/{p.stem}" for p in SIDECARS])
def test_every_page_records_its_source_licence_and_truth(sidecar):
    meta = json.loads(sidecar.read_text())
    assert sidecar.parent.name in bench.SPLITS
    assert (sidecar.parent / meta["body"]).is_file()
    assert meta["expect"]["kind"] in ("captcha", "block", None)
    assert meta["expect"]["vendor"] is None or meta["expect"]["kind"] is not None
    assert meta["licence"].startswith(LICENCES)
    src = meta["source"]
    if "repo" in src:
        assert src["path"] and len(src["commit"]) == 40 and src["url"].startswith("https://github.com/")
        assert src["commit"] in src["url"] and src["url"].endswith(src["path"])
    else:
        assert src["debian_package"] and src["version"] and src["path"]
    assert meta["status"] is None or 100 <= meta["status"] <= 599
    assert all(isinstance(n, str) and isinstance(v, str) for n, v in meta["headers"])
    assert meta["note"]


def test_every_body_file_has_a_sidecar_and_splits_do_not_share_pages():
    bodies = {}
    for split in bench.SPLITS:
        files = {p.name for p in (CORPUS / split).iterdir() if p.suffix != ".json"}
        named = {json.loads(p.read_text())["body"] for p in (CORPUS / split).glob("*.json")}
        assert files == named, split
        bodies[split] = {(CORPUS / split / f).read_bytes() for f in files}
    assert not bodies["tune"] & bodies["holdout"]


@pytest.fixture(scope="module")
def figures():
    out = {}
    for split in bench.SPLITS:
        pages = bench.load(split)
        out[split] = (pages, [bench.run_logkit(p) for p in pages])
    return out


def test_tune_pages_all_right(figures):
    pages, results = figures["tune"]
    assert bench.misses(pages, results) == []


def test_holdout_targets(figures):
    pages, results = figures["holdout"]
    s = bench.score(pages, results)
    assert s["kinds"]["captcha"]["recall"] >= 0.95, bench.misses(pages, results)
    assert s["normal_called_captcha"] == 0 and s["normal_called_block"] == 0
    assert s["vendor_accuracy"] >= 0.95
    # Block recall on the holdout is below its 0.9 target (docs/challenges.md says which pages and
    # why); what is asserted is that nothing that is not a block is called one.
    assert s["kinds"]["block"]["precision"] == 1.0


def test_score_counts_what_it_says():
    pages = [{"expect": {"kind": "captcha", "vendor": "cloudflare"}, "split": "x", "name": "a"},
             {"expect": {"kind": "block", "vendor": "akamai"}, "split": "x", "name": "b"},
             {"expect": {"kind": None, "vendor": None}, "split": "x", "name": "c"}]
    s = bench.score(pages, [("captcha", "cloudflare"), ("captcha", "akamai"), ("captcha", None)])
    assert s["kinds"]["captcha"] == {"expected": 1, "tp": 1, "fp": 2, "fn": 0, "precision": 0.333, "recall": 1.0}
    assert s["kinds"]["block"]["recall"] == 0.0
    assert s["normal_called_captcha"] == 1 and s["vendor_right"] == 2 and s["vendor_accuracy"] == 1.0
    assert len(bench.misses(pages, [("captcha", "cloudflare"), ("captcha", "akamai"), ("captcha", None)])) == 2
