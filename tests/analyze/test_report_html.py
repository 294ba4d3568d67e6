"""The HTML report in a real browser: headless Chromium (Debian's, through Playwright; no browser
download). It renders without console errors, makes no request besides the file itself, its SVG
charts have a size, and a <script>/<img onerror> planted in the logs never runs."""
from __future__ import annotations

import json
import os

import pytest

from support.env import require_env
from logkit.analyze import analyze
from logkit.look.render import render

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "analyze")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    chromium = require_env("LOGKIT_TEST_CHROMIUM")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


def _hostile(tmp_path) -> str:
    evs = []
    for i, dom in enumerate(['<img src=x onerror="window.__pwned=2">.example', "ok.example"]):
        for j, (action, status) in enumerate([("page.fetched", 500), ("captcha.detected", 403), ("page.fetched", 200)]):
            evs.append({"@timestamp": f"2026-11-24T1{i}:0{j}:00.000Z", "log.level": "error",
                        "message": "<script>window.__pwned=1</script>", "url": {"domain": dom},
                        "event": {"action": action, "outcome": "failure" if status >= 400 else "success"},
                        "http": {"response": {"status_code": status}},
                        "scrapy": {"challenge": {"vendor": "<svg onload=window.__pwned=3>"}},
                        "service": {"name": "s</title><script>window.__pwned=4</script>"}})
    p = tmp_path / "hostile.ndjson"
    p.write_text("\n".join(json.dumps(e) for e in evs) + "\n")
    return str(p)


def test_report_renders_in_chromium(browser, tmp_path):
    rep = analyze([FIX, _hostile(tmp_path)], by="1h")
    html_path = tmp_path / "report.html"
    with open(html_path, "w") as f:
        render(rep, "html", f)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html_path.as_uri())
    page.wait_for_load_state("load")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert errors == []
    assert requests == [html_path.as_uri()]
    sizes = page.evaluate("Array.from(document.querySelectorAll('svg.chart')).map(s => "
                          "{const r = s.getBoundingClientRect(); return [s.getAttribute('aria-label'), r.width, r.height]})")
    labels = [s[0] for s in sizes]
    assert labels == ["Errors per domain", "Events over time by outcome", "CAPTCHAs per domain",
                      "Task runtime percentiles"]
    assert all(w > 100 and h > 40 for _, w, h in sizes)
    assert page.evaluate("window.__pwned === undefined")
    assert page.evaluate("document.scripts.length") == 0
    # the planted markup is shown as text
    assert "<script>window.__pwned=1</script>" in page.inner_text("body")
    page.close()


def test_charts_accept_events_without_a_domain(tmp_path):
    """A CAPTCHA or failed download with no url.domain must not break the HTML report."""
    from logkit.analyze import analyze
    from logkit.look.render import render
    import io
    from logkit.emit import Renderer
    r = Renderer("spiders", "scrapy")
    f = tmp_path / "x.ndjson"
    lines = [r.render("challenge", "warning", "s", 1_764_000_000 + i, {"event.action": "captcha.detected",
             "scrapy.challenge.vendor": "cloudflare", "scrapy.challenge.signal": "x",
             **({"url.domain": "a.example", "url.full": "https://a.example/"} if i % 2 else {})})
             for i in range(4)]
    lines.append(r.render("failed", "error", "s", 1_764_000_010, {"event.action": "download.failed",
                                                                    "error.type": "TimeoutError"}))
    f.write_bytes(b"\n".join(lines) + b"\n")
    out = io.StringIO()
    render(analyze([str(f)]), "html", out)
    html = out.getvalue()
    assert "(no domain)" in html and "a.example" in html


_WORDS_FIT = """
() => {
  const ctx = document.createElement('canvas').getContext('2d');
  const bad = [];
  for (const el of document.querySelectorAll('th, td')) {
    const cs = getComputedStyle(el);
    ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const inner = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    for (const w of el.innerText.split(/\\s+/)) {
      // words of a few dozen characters (URLs, paths) may break; words people read may not
      if (!w || w.length > 30) continue;
      const need = ctx.measureText(w).width;
      if (need > inner + 1) bad.push([el.tagName, w, need, inner]);
    }
  }
  return bad;
}
"""


@pytest.mark.parametrize("width", [1280, 800])
def test_report_layout_in_chromium(browser, tmp_path, width):
    """Issue 15: no header or cell word broken mid-word ('succeede d'), no raw Markdown in the
    section definitions, the legend for stale rows, and the charts' axes in whole numbers."""
    from test_usability import _events
    from logkit.look.render.html import render_html
    rep = analyze([FIX, _events(tmp_path)], by="1h")
    html_path = tmp_path / "report.html"
    html_path.write_text(render_html(rep, stale_after=1800))
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(html_path.as_uri())
    page.wait_for_load_state("load")
    shot = tmp_path / f"layout-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert page.evaluate(_WORDS_FIT) == []
    headers = page.evaluate("Array.from(document.querySelectorAll('th')).map(t => t.innerText)")
    assert "succeeded" in headers and "5xx %" in headers and "finish reason" in headers
    defs = page.evaluate("Array.from(document.querySelectorAll('p.def')).map(p => p.innerText)")
    assert defs and not [d for d in defs if "**" in d or "`" in d]
    assert page.locator("p.legend").count() == 1 and "highlighted" in page.inner_text("p.legend")
    ticks = page.evaluate("Array.from(document.querySelectorAll('svg text.tick')).map(t => t.textContent)")
    assert ticks and all(t.replace(",", "").isdigit() for t in ticks), ticks
    sections = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.id)")
    for s in ("django_routes", "spiders", "page_failures"):
        assert s in sections
    page.close()
