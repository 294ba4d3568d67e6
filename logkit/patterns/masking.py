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
_HTTP_METHOD = r"(?:GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH)"

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
    # Not an HTTP request line (`"GET /path HTTP/1.1"`, the common/combined access-log
    # format): its method names the event, and its path and version are masked piece by
    # piece like any other token.
    r"(?<!\w)\"(?!" + _HTTP_METHOD + r" )[^\"\n]{0,256}\s[^\"\n]{0,256}\"",
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
    if masked.count(WILDCARD) > 1:
        masked = _RUN_RE.sub(WILDCARD, masked)
    return masked


# -- the same masking, token by token, with caches --------------------------------------
#
# `TokenMasker.tokens(message)` returns exactly ``tuple(mask(message).split())``, but
# without running the big regex on every message:
#
# * Digit normalization. Every character class of MASK_RE either holds all of 1-9 or none
#   of them, and the only digit written literally is the 0 of ``0x``. So replacing each
#   digit by 1 (and also each 0 when the text has no ``0x``/``0X``) changes neither where
#   the regex matches nor what it replaces: ``mask(N(s)) == N(mask(s))``. When the masked
#   result holds no digit at all, it is therefore the same for every text with the same
#   normalized form, and the normalized text is a valid cache key. `blk_-3544583377289625738`
#   and `blk_7503483334202473044` share the key `blk_-1111111111111111111`.
# * Token locality. No alternative of MASK_RE matches whitespace, except four that span
#   tokens: sizes with a space before the unit (`3.5 KB`, `2034 bytes (1.98 KB)`), dates
#   with month names, an ISO date followed by a space and a time, and quoted strings with
#   whitespace. Each such match holds a "sensitive" token (a unit word, `(` + number, a
#   month name at the end of a token, an ISO date at the end of a token, a quote that opens
#   and does not close in its token) and lies within a few tokens of it. Elsewhere the
#   regex result for a message is the per-token result, and only the run-collapse
#   (`<*> <*>` -> `<*>`) crosses tokens. So a message is masked token by token from a
#   cache, and only the small window around a sensitive token goes through the regex,
#   cached by its normalized text too.
#
# Caches are per instance, bounded (each is cleared when it reaches `max_entries`), and
# only speed things up: the result never depends on what they hold.

# The translation runs on the UTF-8 bytes (ten times faster than str.translate); an ASCII
# digit byte is only ever an ASCII digit in UTF-8, so the result is the same.
_N_ALL = bytes.maketrans(b"0123456789", b"1111111111")
_N_KEEP0 = bytes.maketrans(b"23456789", b"11111111")
_ASCII_DIGITS = frozenset("0123456789")

_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# Sensitive tokens (see above), tested on the normalized token. Kinds: u = unit word at
# the start, p = "(" + number at the start, m = month name at the end, i = ISO date at the
# end, and a quote character for a quote that opens a string not closed in the token.
_KIND_RE = {
    "u": re.compile(rf"{_UNITS}(?![\w.])"),
    "p": re.compile(r"\([-+]?\d"),
    "m": re.compile(rf"(?<!\w){_MONTHS}[a-z]*$"),
    "i": re.compile(r"\d{4}-\d{2}-\d{2}$"),
}
_ANY_KIND_RE = re.compile(
    rf"^{_UNITS}(?![\w.])|^\([-+]?\d|(?<!\w){_MONTHS}[a-z]*$|\d{{4}}-\d{{2}}-\d{{2}}$|[\"']"
)
_FIRST_OF_KIND = frozenset("KMGTPkBbnuµmshd(")
# Tokens of ASCII letters, digits and underscores: the regex either masks all of such a
# token (when it has a digit) or nothing, except a short word with one final digit.
_KEEP_WORD_RE = re.compile(r"[A-Za-z]{2,}\d")


def normalize_bytes(text: str) -> bytes:
    """The cache key of `text`, UTF-8: digits replaced by 1 (a 0 is kept if it has 0x)."""
    return text.encode("utf-8", "surrogatepass").translate(
        _N_KEEP0 if "0x" in text or "0X" in text else _N_ALL
    )


def normalize(text: str) -> str:
    """`normalize_bytes` as text."""
    return normalize_bytes(text).decode("utf-8", "surrogatepass")


def has_ascii_digit(text: str) -> bool:
    return not _ASCII_DIGITS.isdisjoint(text)


def masks_like_normal_form(message: str) -> bool:
    """True when every text with the same `normalize` form masks exactly like `message`
    (its masked form keeps no digit; see the comment above `normalize`): such texts may be
    counted together before mining."""
    return not has_ascii_digit(mask(message))


def _address(token: str) -> bool:
    """True when `token` is all one IPv4 address (`/1.2.3.4`, `1.2.3.4:80`) or all one
    host with a port (`proxy.example.com:5070`, first character a letter): then
    ``mask(token) == "<*>"``. At the token's start no alternative of MASK_RE before those
    two can match such a token: URLs need `://`, e-mails `@`, calendar dates a space, ISO
    dates and UUIDs a `-` after 4 or 8 hex digits (excluded below), IPv6 three colons or
    `::`. False when unsure; the caller then runs the regex."""
    host, sep, port = token.rpartition(":")
    if sep:
        if not (port.isdigit() and len(port) <= 5 and port.isascii()):
            return False
    else:
        host = token
    if ":" in host:
        return False
    if host[:1] == "/":
        host = host[1:]
    parts = host.split(".")
    first = host[:1]
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and p.isascii() for p in parts):
        return True  # IPv4, optionally after "/" and with a port
    if not sep or not ("a" <= first <= "z" or "A" <= first <= "Z") or token[:1] == "/":
        return False
    if len(parts) < 2 or "-" in parts[0][:9]:
        return False  # (a leading `-` could make a UUID or, after a unit word, a size)
    for p in parts:
        if not p or not p.replace("-", "").isalnum() or not p.isascii():
            return False
    return True


def mask_token(token: str) -> str:
    """``mask(token)`` for one whitespace-free token, with shortcuts for the common shapes."""
    if token.isascii():
        if not has_ascii_digit(token):
            # No digit: only URLs, e-mails, paths, IPv6 (3+ colons), UUIDs (36 chars) and
            # the wildcard itself can match without one.
            if (
                "/" not in token
                and "@" not in token
                and "\\" not in token
                and "<" not in token
                and token.count(":") < 3
                and (len(token) < 36 or "-" not in token)
            ):
                return token
        elif token.isalnum() or token.replace("_", "").isalnum():
            # Letters, digits and underscores: the regex masks the whole token, except a
            # short word with one final digit (ssh2, md5), which it keeps.
            if token.isdigit() or _KEEP_WORD_RE.fullmatch(token) is None:
                return WILDCARD
            return token
        elif ("." in token or ":" in token) and _address(token):
            return WILDCARD
    return mask(token)


# Every string that `_UNITS` matches (its alternatives are finite), ASCII ones only.
_UNIT_WORDS = frozenset(
    [p + i + "B" for p in "KMGTP" for i in ("", "i")]
    + [p + "b" for p in "kKMGTP"]
    + "B byte bytes ns us ms s sec secs second seconds min mins minute minutes".split()
    + "h hr hrs hour hours day days".split()
)
_MONTH3 = frozenset("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())


def is_plain_word(ntoken: str) -> bool:
    """True for an ASCII token of letters, digits and underscores that is not sensitive.

    Such a token is all word characters, so of the sensitive kinds only two can hold: the
    whole token is a unit word (`KB`, `sec`), or the whole token is a month name followed
    by lowercase letters (`Jun`, `June`). Both have letters only. Letters-only tokens that
    are units or start with a month abbreviation go through `sensitivity`; the rest, and
    every such token with a digit or an underscore, are not sensitive.
    """
    if not ntoken.isascii():
        return False
    if ntoken.isalpha():
        return ntoken not in _UNIT_WORDS and ntoken[:3] not in _MONTH3
    return ntoken.isalnum() or ntoken.replace("_", "").isalnum()


def sensitivity(ntoken: str) -> str:
    """Kinds of token-spanning match this (normalized) token may take part in; "" if none."""
    # Cheap tests first: the first character of a unit word or "(", a lowercase last
    # letter (month names), a final digit (ISO dates) or a quote anywhere.
    last = ntoken[-1:]
    if (
        ntoken[:1] not in _FIRST_OF_KIND
        and not ("a" <= last <= "z" or "0" <= last <= "9")
        and '"' not in ntoken
        and "'" not in ntoken
    ) or _ANY_KIND_RE.search(ntoken) is None:
        return ""
    kinds = ""
    for kind in "up":
        if _KIND_RE[kind].match(ntoken):
            kinds += kind
    for kind in "mi":
        if _KIND_RE[kind].search(ntoken):
            kinds += kind
    for q in ('"', "'"):
        pos = ntoken.find(q)
        while pos != -1:
            nxt = ntoken.find(q, pos + 1)
            before = ntoken[pos - 1] if pos else " "
            if nxt == -1 and not (before.isalnum() or before == "_"):
                kinds += q
                break
            pos = nxt
    return kinds


def collapse(tokens) -> tuple[str, ...]:
    """Masked tokens -> the tokens of the masked message: a run of variables is one."""
    if len(tokens) > 1:
        text = " ".join(tokens)
        if text.count(WILDCARD) > 1:
            merged = _RUN_RE.sub(WILDCARD, text)
            if len(merged) != len(text):
                return tuple(merged.split())
    return tuple(tokens)


def marker(ntoken: str, kinds: str) -> tuple:
    """What the windows of a message need to know about a sensitive token: its kinds,
    whether it starts with "(" and whether it holds each kind of quote. Never a str."""
    return (kinds, ntoken[:1] == "(", "'" in ntoken, '"' in ntoken)


def _plan(key: tuple) -> tuple[tuple[int, int], ...]:
    """The merged windows of a per-token key (`TokenMasker.windowed`): the same spans as
    `TokenMasker._windows` computes from the tokens themselves."""
    n = len(key)

    def paren(j):
        x = key[j]
        return x[1] if type(x) is tuple else x.startswith("(")

    def quoted(j, q):
        x = key[j]
        return (x[2] if q == "'" else x[3]) if type(x) is tuple else q in x

    spans = []
    for i, x in enumerate(key):
        if type(x) is not tuple:
            continue
        lo = hi = i
        for k in x[0]:
            if k == "u":
                lo = min(lo, i - 1)
                hi = max(hi, i + 2 if i + 1 < n and paren(i + 1) else i)
            elif k == "p":
                lo, hi = min(lo, i - 2), max(hi, i + 1)
            elif k == "m":
                lo, hi = min(lo, i - 1), max(hi, i + 4)
            elif k == "i":
                hi = max(hi, i + 1)
            else:
                j = i + 1
                while j < n and not quoted(j, k):
                    j += 1
                if j < n:
                    hi = max(hi, j)
        spans.append((max(lo, 0), min(hi, n - 1)))
    return _merge_spans(spans)


class TokenMasker:
    """``tokens(message) == tuple(mask(message).split())``, computed token by token from
    bounded caches (see the comment above `normalize`). One per miner: not thread-safe."""

    def __init__(self, max_entries: int = 50_000):
        self.max_entries = max(16, max_entries)
        self.tok: dict[str, str] = {}  # normalized token -> masked (no digit in it)
        self.raw: dict[str, str] = {}  # raw token -> masked, when the mask keeps digits
        self.kinds: dict[str, str] = {}  # normalized token -> sensitivity ("" = none)
        self.regions: dict[str, tuple[str, ...]] = {}  # normalized window -> masked tokens
        # After `pieces`: (start, end) of the tokens whose masked form keeps a digit
        # (`ssh2`), or None when a digit was kept elsewhere (a window, odd whitespace).
        self.kept: list[tuple[int, int]] | None = None
        # normalized sensitive token -> its marker (see `marker`), and a per-token key with
        # markers -> its merged windows (see `windowed`).
        self.sens: dict[str, tuple] = {}
        self.plans: dict[tuple, tuple[tuple[int, int], ...]] = {}

    def _store(self, cache: dict, key, value) -> None:
        if len(cache) >= self.max_entries:
            cache.clear()
        cache[key] = value

    def tokens(self, message: str, norm: str | None = None) -> tuple[str, ...]:
        return collapse(self.pieces(message, normalize(message) if norm is None else norm))

    def pieces(self, message: str, norm: str) -> list[str]:
        """Masked tokens of `message` before the run-collapse (`norm` = normalize(message))."""
        rtoks = message.split()
        ntoks = norm.split()
        out: list[str] = []
        sensitive = None
        kept = None
        tok_get, raw_get, kinds_get = self.tok.get, self.raw.get, self.kinds.get
        for i, ntok in enumerate(ntoks):
            masked = tok_get(ntok)
            if masked is None:
                rtok = rtoks[i]
                masked = raw_get(rtok)
                if masked is not None:
                    if kept is None:
                        kept = []
                    kept.append(i)
                else:
                    kinds = kinds_get(ntok)
                    if kinds is None:
                        if is_plain_word(ntok):
                            kinds = ""  # never sensitive, and cached below in tok or raw
                        else:
                            kinds = sensitivity(ntok)
                            self._store(self.kinds, ntok, kinds)
                    if kinds:
                        if ntok not in self.sens:
                            self._store(self.sens, ntok, marker(ntok, kinds))
                        if sensitive is None:
                            sensitive = []
                        sensitive.append((i, kinds))
                        masked = ""
                    else:
                        masked = mask_token(rtok)
                        if has_ascii_digit(masked):
                            self._store(self.raw, rtok, masked)
                            if kept is None:
                                kept = []
                            kept.append(i)
                        else:
                            self._store(self.tok, ntok, masked)
            out.append(masked)
        self.kept = None
        if sensitive is not None:
            # (A digit kept next to a window gets no kept-digit key: too rare to matter.)
            return self._windows(message, rtoks, ntoks, out, sensitive)
        if kept is not None and " ".join(rtoks) == message:
            # The masked message is a function of the normalized text and of these raw
            # tokens (every other token's mask, and every window's, has no digit).
            spans = []
            for i in kept:
                start = sum(map(len, rtoks[:i])) + i
                spans.append((start, start + len(rtoks[i])))
            self.kept = spans
        return out

    def learn(self, ntoks: list[str], message: str) -> bool:
        """Classify the tokens of a message that neither `tok` nor `sens` knows, as `pieces`
        would, without the rest of its work (the known tokens, the windows). False when a
        token's mask keeps a digit (`ssh2`) or the raw tokens do not line up with `ntoks`: the
        caller then takes `tokens`, which also notes where the kept digits are."""
        rtoks = message.split()
        if len(rtoks) != len(ntoks):
            return False
        tok, sens, kinds_get = self.tok, self.sens, self.kinds.get
        for ntok, rtok in zip(ntoks, rtoks):
            if ntok in tok or ntok in sens:
                continue
            kinds = kinds_get(ntok)
            if kinds is None:
                if is_plain_word(ntok):
                    kinds = ""
                else:
                    kinds = sensitivity(ntok)
                    self._store(self.kinds, ntok, kinds)
            if kinds:
                self._store(sens, ntok, marker(ntok, kinds))
                continue
            masked = mask_token(rtok)
            if has_ascii_digit(masked):
                return False
            self._store(tok, ntok, masked)
        return True

    def windowed(self, key: tuple, ntoks: list[str], norm: str) -> tuple[str, ...] | None:
        """``tokens(message)`` from `key`, the per-token key of the message: the masked
        token (`tok`) of every token that is not sensitive, the `marker` of every one that
        is. None when it cannot tell (odd whitespace, a window not in `regions`).

        The windows `_windows` would mask depend only on the positions and kinds of the
        sensitive tokens, on which tokens start with "(" and on which hold a quote, and a
        token's mask keeps its first "(" and its quotes (no rule starts at "(", and within
        one token no rule matches a quote). So `key` fixes the windows; each window is
        masked from `regions`, by its normalized text, and every other token is its `tok`.
        """
        if " ".join(ntoks) != norm:
            return None
        plan = self.plans.get(key)
        if plan is None:
            plan = _plan(key)
            self._store(self.plans, key, plan)
        regions_get = self.regions.get
        out: list = []
        pos = 0
        for lo, hi in plan:
            masked = regions_get(" ".join(ntoks[lo : hi + 1]))
            if masked is None:
                return None
            out += key[pos:lo]
            out += masked
            pos = hi + 1
        out += key[pos:]
        self.kept = None
        return collapse(out)

    def _windows(self, message, rtoks, ntoks, out, sensitive) -> list[str]:
        n = len(rtoks)
        if " ".join(rtoks) != message:
            # Unusual whitespace (tabs, double spaces) matters to the spanning rules: mask
            # the whole message, exactly.
            return mask(message).split()
        spans = []
        for i, kinds in sensitive:
            lo = hi = i
            for k in kinds:
                if k == "u":  # `3.5 KB`, `2034 bytes (1.98 KB)`
                    lo = min(lo, i - 1)
                    hi = max(hi, i + 2 if i + 1 < n and rtoks[i + 1].startswith("(") else i)
                elif k == "p":  # the `(1.98 KB)` part after `2034 bytes` or `2034bytes`
                    lo, hi = min(lo, i - 2), max(hi, i + 1)
                elif k == "m":  # `Sat Jun 18 02:08:11 2005`, `Jun 18, 2005`
                    lo, hi = min(lo, i - 1), max(hi, i + 4)
                elif k == "i":  # `2005-06-18 02:08:11`
                    hi = max(hi, i + 1)
                else:  # a quote: up to the token holding the next quote of that kind
                    j = i + 1
                    while j < n and k not in rtoks[j]:
                        j += 1
                    if j < n:
                        hi = max(hi, j)
            spans.append((max(lo, 0), min(hi, n - 1)))
        merged = _merge_spans(spans)
        result: list[str] = []
        pos = 0
        for lo, hi in merged:
            result.extend(out[pos:lo])
            key = " ".join(ntoks[lo : hi + 1])
            masked = self.regions.get(key)
            if masked is None:
                masked = tuple(mask(" ".join(rtoks[lo : hi + 1])).split())
                if not has_ascii_digit(" ".join(masked)):
                    self._store(self.regions, key, masked)
            result.extend(masked)
            pos = hi + 1
        result.extend(out[pos:])
        return result


def _merge_spans(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Overlapping or touching (lo, hi) token ranges merged, in order."""
    if not spans:
        return ()
    spans = sorted(spans)
    merged = [list(spans[0])]
    for lo, hi in spans[1:]:
        if lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)
