"""Escaping for each output medium. Log content is attacker-controlled (URLs, messages, exception
text, domains): every value that came from a log goes through one of these before it is written.

- :func:`terminal` — no control characters (ANSI escape sequences, carriage returns, bidi
  overrides) reach the terminal: each is shown as a visible ``\\xNN``/``\\uNNNN`` escape. Tables are
  rendered from rich ``Text`` objects, so ``[bold]`` in a log line is not rich markup either.
- :func:`markdown` — a table cell: no pipe ends the cell, no newline ends the row, no HTML, link,
  autolink, emphasis or code span can form (CommonMark backslash escapes; ``<``/``>``/``&`` as entities).
- :func:`csv_cell` — no spreadsheet formula: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab
  or carriage return gets a leading ``'`` (OWASP's advice for CSV injection); and, whether the CSV
  goes to a file or a terminal, no control character: each is written as a visible ``\\xNN`` /
  ``\\uNNNN`` (as :func:`terminal`). CSV has no escape of its own for them, and a CSV is read in
  terminals (``cat``, ``less -r``, ``column``) as often as in spreadsheets; a newline in a cell
  would be legal CSV but splits the row for every line-based tool.
- :func:`json_text` — JSON output keeps every value exactly, but the characters a JSON encoder
  leaves raw (DEL, C1 controls such as CSI ``\\x9b``, bidi overrides such as U+202E, line
  separators) are written as ``\\uNNNN`` escapes: the same JSON value, inert in a terminal. Always,
  not only on a terminal: it costs nothing and the bytes are the same wherever they end up.
- :func:`html` — text and attribute values: ``& < > " '`` as entities, control characters dropped.
  The HTML report also carries a Content-Security-Policy that forbids every script and every
  network fetch, so even a mistake here could not run code or call out.
"""
from __future__ import annotations

import html as _html
import re

# C0 controls (tab/newline included: a cell is one line), DEL, C1 controls, bidi controls and
# other invisible format characters that can disguise text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
                      "\ufeff\ufff9-\ufffb]")


def _visible(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal(s: object) -> str:
    return _CONTROL.sub(_visible, str(s))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~])")
# GFM turns bare URLs and www. names into links: break the pattern without changing the text.
_AUTOLINK = re.compile(r"(?i)(://|www\.)")


def markdown(s: object) -> str:
    t = _CONTROL.sub(lambda m: " " if m.group() in "\r\n\t" else _visible(m), str(s))
    t = _MD_SPECIAL.sub(r"\\\1", t)
    t = _AUTOLINK.sub(lambda m: "\\:\\/\\/" if m.group(1) == "://" else m.group(1)[:3] + "\\.", t)
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v: object) -> object:
    if isinstance(v, str):
        if v.startswith(_FORMULA_START):
            v = "'" + v
        return _CONTROL.sub(_visible, v)
    return v


# What a JSON encoder leaves raw (it escapes C0 itself; the layout's newlines must stay).
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")


def json_text(s: str) -> str:
    """Encoded JSON text with the characters in :data:`_CONTROL` that the encoder left raw written as
    ``\\uNNNN`` (they can only occur inside strings: JSON's own syntax is ASCII)."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", s)


def html(s: object) -> str:
    t = _CONTROL.sub(lambda m: " " if m.group() in "\r\n\t" else _visible(m), str(s))
    return _html.escape(t, quote=True)
