"""Masking of the variable parts of a log message before template grouping.

Everything is one compiled regular expression with a fixed replacement, so the whole
masking pass runs inside the C regex engine (no Python callback per match): that is most
of the miner's speed. The alternatives are tried left to right at each position, so the
specific shapes (URL, e-mail, UUID, IP, path, size) win over the generic "piece that
contains a digit" rule at the end.
"""
from __future__ import annotations

import re

WILDCARD = "<*>"

# Characters that separate the "pieces" of one whitespace token: `uid=0` masks to
# `uid=<*>` and `audit(1122.4:7):` to `audit(<*>:<*>):`, keeping the constant key names.
_DELIMS = r"=:,;()\[\]{}<>'\"#|/@"
_PIECE_START = rf"(?<![^\s{_DELIMS}])"
_PIECE_END = rf"(?![^\s{_DELIMS}])"

_UNITS = (
    r"(?:[KMGTP]i?B|[kKMGTP]b|B|bytes?|ns|us|µs|ms|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?)"
)
_NUM = r"[-+]?\d+(?:[.,]\d+)?"

_ALTERNATIVES = [
    # URLs with a scheme, then e-mail addresses.
    r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s\"'<>()\[\]]*[^\s\"'<>()\[\].,;:]",
    r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b",
    # Calendar dates with month names (`Sat Jun 18 02:08:11 2005`, `Jun 18, 2005`) and ISO
    # dates with an optional time.
    r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? +)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
    r" +\d{1,2}(?:,? +\d{4})?(?: +\d{1,2}:\d{2}(?::\d{2})?)?(?: +\d{4})?\b",
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
    # UUIDs.
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    # IPv6: full form (4+ groups, so a clock time never matches) or compressed with `::`
    # (the lookahead demands a digit, so `Foo::bar` in a C++ name stays).
    r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}(?![\w:])",
    r"(?<![\w:])(?=[0-9a-fA-F:]*\d)(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?::"
    r"(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?(?![\w:])",
    # IPv4 with an optional port, optionally after a slash (`/10.0.0.1:80`).
    r"/?\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b",
    # Host or dotted name with a port: `proxy.example.com:5070`.
    r"\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+:\d{1,5}\b",
    # Unix and Windows paths (a slash after a word character is not a path: `TCP/IP`).
    r"(?<![\w.:/~-])~?(?:/[\w.@%+~:,-]+)+/?",
    r"\b[A-Za-z]:\\[^\s\"'<>|]*",
    # Sizes and durations, a value with its unit, with an optional human-readable
    # repetition in parentheses: `12ms`, `3.5 KB`, `<1 sec`, `2034 bytes (1.98 KB)`.
    rf"<?{_PIECE_START}{_NUM} ?{_UNITS}(?: \({_NUM} ?{_UNITS}\))?(?![\w.])",
    # Clock times and hex literals.
    rf"{_PIECE_START}\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d+)?)?{_PIECE_END}",
    r"\b0[xX][0-9a-fA-F]+\b",
    # Quoted strings with whitespace inside: they would otherwise change the token count.
    r"(?<!\w)\"[^\"\n]{0,256}\s[^\"\n]{0,256}\"",
    r"(?<!\w)'[^'\n]{0,256}\s[^'\n]{0,256}'(?!\w)",
    # Numbers with dots (floats, versions, dotted ids) as one variable.
    rf"{_PIECE_START}[-+]?\d+(?:\.\d+)+{_PIECE_END}",
    # Generic rule: any piece of a token that contains a digit, except a short word with
    # one trailing digit (ssh2, ipv6, utf8, md5), which is far more often a constant.
    rf"{_PIECE_START}(?![A-Za-z]{{2,}}\d{_PIECE_END})[^\s{_DELIMS}]*\d[^\s{_DELIMS}]*",
]

MASK_RE = re.compile(r"(?<!\w)(?:" + "|".join(f"(?:{a})" for a in _ALTERNATIVES) + ")")
# A run of variables (`<*> <*> <*>`, `<*><*>`) is one variable: lists of ids have a length
# that changes from line to line, and the template must not depend on it.
_RUN_RE = re.compile(r"<\*>(?:\s*<\*>)+")


def mask(message: str) -> str:
    """Replace the variable parts of `message` (numbers, hex, UUIDs, IPv4/IPv6, URLs,
    paths, e-mails, quoted strings with spaces, sizes and durations) with ``<*>``."""
    masked = MASK_RE.sub(WILDCARD, message)
    if "<*><*>" in masked or "<*> <*>" in masked:
        masked = _RUN_RE.sub(WILDCARD, masked)
    return masked
