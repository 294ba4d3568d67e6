"""Accuracy of logkit.detect_challenge on REAL captured pages, and wafw00f's on the same pages.

    python -m benchmarks.challenge_corpus [--split tune|holdout|all] [--wafw00f VENV_PYTHON] [--json OUT]

Pages: tests/fixtures/challenges/real/{tune,holdout}/ (each page with a sidecar naming its
source repository, path, commit, licence, the expected kind and vendor, and the status and
headers when the capture kept them; a page whose capture kept no status is evaluated as a
200 with no headers, the hardest case). The split was made by source before any result was
looked at; see that folder's README.

Figures, per split:

* per kind (captcha, block): precision and recall of the kind;
* normal pages called captcha / block (false positives);
* vendor right: among pages with an expected vendor that the detector flagged at all,
  how many got that vendor (the figure the issue tracks, "48 of 50");
* per vendor: precision and recall of "flagged, with this vendor".

``--wafw00f PY`` also runs wafw00f (from PyPI, in its own venv: ``PY`` is that venv's python)
on every page, offline: each page is served as captured (status, headers, body) by a server
on 127.0.0.1 that answers every request wafw00f makes with that same response, and wafw00f
is pointed at it. wafw00f names a WAF vendor, not a kind, so only its vendor figures are
comparable; its names are mapped to logkit's (``_WAFW00F_NAMES``).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from logkit.detect import detect_challenge

CORPUS = ROOT / "tests" / "fixtures" / "challenges" / "real"
SPLITS = ("tune", "holdout")
KINDS = ("captcha", "block")


def load(split: str) -> list[dict]:
    pages = []
    for sidecar in sorted((CORPUS / split).glob("*.json")):
        meta = json.loads(sidecar.read_text())
        meta["name"] = sidecar.stem
        meta["split"] = split
        meta["body_bytes"] = (sidecar.parent / meta["body"]).read_bytes()
        pages.append(meta)
    return pages


def run_logkit(page: dict) -> tuple[str | None, str | None]:
    got = detect_challenge(page["status"] or 200, page["headers"], page["body_bytes"])
    return got.kind, got.vendor


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def score(pages: list[dict], results: list[tuple[str | None, str | None]]) -> dict:
    """Per-kind and per-vendor precision/recall for one detector's (kind, vendor) answers."""
    out: dict = {"pages": len(pages), "kinds": {}, "vendors": {}}
    for kind in KINDS:
        tp = sum(1 for p, r in zip(pages, results) if p["expect"]["kind"] == kind and r[0] == kind)
        fp = sum(1 for p, r in zip(pages, results) if p["expect"]["kind"] != kind and r[0] == kind)
        fn = sum(1 for p, r in zip(pages, results) if p["expect"]["kind"] == kind and r[0] != kind)
        out["kinds"][kind] = {"expected": tp + fn, "tp": tp, "fp": fp, "fn": fn,
                              "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn)}
    normal = [r for p, r in zip(pages, results) if p["expect"]["kind"] is None]
    out["normal_pages"] = len(normal)
    out["normal_called_captcha"] = sum(1 for r in normal if r[0] == "captcha")
    out["normal_called_block"] = sum(1 for r in normal if r[0] == "block")
    flagged = [(p, r) for p, r in zip(pages, results) if p["expect"]["vendor"] and r[0] is not None]
    out["vendor_right"] = sum(1 for p, r in flagged if r[1] == p["expect"]["vendor"])
    out["vendor_flagged"] = len(flagged)
    out["vendor_accuracy"] = _ratio(out["vendor_right"], len(flagged))
    vendors = sorted({p["expect"]["vendor"] for p in pages if p["expect"]["vendor"]})
    for v in vendors:
        tp = sum(1 for p, r in zip(pages, results) if p["expect"]["vendor"] == v and r[0] and r[1] == v)
        fp = sum(1 for p, r in zip(pages, results) if p["expect"]["vendor"] != v and r[0] and r[1] == v)
        exp = sum(1 for p in pages if p["expect"]["vendor"] == v)
        out["vendors"][v] = {"expected": exp, "tp": tp, "fp": fp, "precision": _ratio(tp, tp + fp),
                             "recall": _ratio(tp, exp)}
    return out


def misses(pages: list[dict], results: list[tuple[str | None, str | None]]) -> list[str]:
    return [f"{p['split']}/{p['name']}: expected {p['expect']['kind']}/{p['expect']['vendor']}, got {r[0]}/{r[1]}"
            for p, r in zip(pages, results) if (r[0], r[1] if r[0] else None) != (p["expect"]["kind"],
                                                                                   p["expect"]["vendor"] if p["expect"]["kind"] else None)]


# --- wafw00f, offline ----------------------------------------------------------------------------
_WAFW00F_NAMES = {
    "cloudflare": "cloudflare", "sucuri": "sucuri", "incapsula": "imperva", "imperva": "imperva",
    "distil": "imperva", "akamai": "akamai", "kona": "akamai", "perimeterx": "perimeterx",
    "datadome": "datadome", "aws": "aws-waf", "amazon": "aws-waf", "bigip": "f5", "big-ip": "f5",
    "f5": "f5", "kasada": "kasada",
}


def _map_wafw00f(name: str | None) -> str | None:
    if not name:
        return None
    low = name.lower()
    for needle, vendor in _WAFW00F_NAMES.items():
        if needle in low:
            return vendor
    return "other:" + name


class _Replay:
    """Serves one captured response to every request, on 127.0.0.1."""

    def __init__(self) -> None:
        self.page: dict | None = None
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                page = replay.page
                body = page["body_bytes"] if self.command != "HEAD" else b""
                self.send_response(page["status"] or 200)
                names = set()
                for name, value in page["headers"]:
                    if name.lower() in ("content-length", "transfer-encoding", "content-encoding",
                                        "connection"):
                        continue
                    names.add(name.lower())
                    self.send_header(name, value)
                if "content-type" not in names:
                    self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page["body_bytes"])))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


_WAFW00F_DRIVER = r"""
import json, sys
from wafw00f.main import WAFW00F
w = WAFW00F(sys.argv[1], debuglevel=0, followredirect=False, timeout=5)
names, trigger = w.identwaf(findall=False)
print(json.dumps(names[0] if names else None))
"""


def run_wafw00f(py: str, pages: list[dict]) -> list[tuple[str | None, str | None]]:
    replay = _Replay()
    out = []
    try:
        for page in pages:
            replay.page = page
            proc = subprocess.run([py, "-c", _WAFW00F_DRIVER, f"http://127.0.0.1:{replay.port}/"],
                                  capture_output=True, text=True, timeout=120)
            name = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 and proc.stdout.strip() else None
            vendor = _map_wafw00f(name)
            # wafw00f names a WAF, not a kind: count any detection as "flagged".
            out.append(("waf" if vendor else None, vendor))
    finally:
        replay.close()
    return out


def vendor_only(pages: list[dict], results: list[tuple[str | None, str | None]]) -> dict:
    """Vendor figures only (what wafw00f can be compared on)."""
    flagged = [(p, r) for p, r in zip(pages, results) if p["expect"]["vendor"]]
    right = sum(1 for p, r in flagged if r[1] == p["expect"]["vendor"])
    normal = [r for p, r in zip(pages, results) if p["expect"]["kind"] is None]
    return {"vendor_pages": len(flagged), "vendor_right": right, "vendor_recall": _ratio(right, len(flagged)),
            "normal_pages": len(normal), "normal_flagged": sum(1 for r in normal if r[1])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    ap.add_argument("--wafw00f", metavar="PYTHON", help="python of a venv with wafw00f installed")
    ap.add_argument("--json", metavar="OUT")
    a = ap.parse_args()
    report = {}
    for split in (SPLITS if a.split == "all" else (a.split,)):
        pages = load(split)
        res = [run_logkit(p) for p in pages]
        entry = {"logkit": score(pages, res), "logkit_vendor_only": vendor_only(pages, res),
                 "logkit_misses": misses(pages, res)}
        if a.wafw00f:
            wres = run_wafw00f(a.wafw00f, pages)
            entry["wafw00f_vendor_only"] = vendor_only(pages, wres)
            entry["wafw00f_answers"] = {p["name"]: r[1] for p, r in zip(pages, wres)}
        report[split] = entry
    text = json.dumps(report, indent=1)
    if a.json:
        Path(a.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
