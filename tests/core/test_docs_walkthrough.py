"""Docs walked through as written (issue 15): the README's emit snippet, run verbatim but for the
log file's path, writes the line it shows; docs/analyze.md's "Try it" commands run as printed
(the demo with fewer events, to keep the test short) and report something."""
from __future__ import annotations

import os
import re
import shlex

import orjson
from click.testing import CliRunner

from logkit.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _blocks(path: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", open(os.path.join(ROOT, path)).read(), re.S)


def test_readme_emit_snippet(tmp_path):
    [code] = [b for b in _blocks("README.md", "python") if "logging_config" in b]
    log = tmp_path / "crawler.log"
    assert '"/var/log/crawler.log"' in code
    code = code.replace('"/var/log/crawler.log"', repr(str(log)))
    exec(compile(code, "README.md", "exec"), {"request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                                             "url": "https://example.com/a", "domain": "example.com"})
    import logging
    for h in logging.getLogger().handlers:
        h.flush()
    lines = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    assert len(lines) == 2
    [shown] = [orjson.loads(b) for b in _blocks("README.md", "json")]
    fetched, slow = lines
    assert list(fetched)[:3] == ["@timestamp", "log.level", "message"] == list(shown)[:3]
    for key in ("ecs.version", "service", "event", "url", "http", "trace", "log"):
        assert key in fetched and key in shown
    assert fetched["url"] == shown["url"] and fetched["trace"] == shown["trace"]
    assert fetched["event"]["action"] == "page.fetched" and slow["url"]["domain"] == "example.com"
    r = CliRunner().invoke(main, ["validate", str(log)])
    assert r.exit_code == 0, r.output


def test_analyze_doc_try_it(tmp_path, monkeypatch):
    text = open(os.path.join(ROOT, "docs", "analyze.md")).read()
    block = text.split("## Try it\n", 1)[1].split("\n`logkit demo [", 1)[0]
    cmds = [line.split("#")[0].strip() for line in block.splitlines() if line.strip().startswith("logkit ")]
    assert cmds[0] == "logkit demo --out demo" and len(cmds) == 3
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, shlex.split(cmds[0])[1:] + ["--events", "3000"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, shlex.split(cmds[1])[1:])
    assert r.exit_code == 0 and "## Per domain" in r.output and "none in the window" not in r.output, r.output
    r = CliRunner().invoke(main, shlex.split(cmds[2])[1:])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
