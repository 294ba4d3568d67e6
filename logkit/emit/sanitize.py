"""Making any value safe to log: secrets masked, oversized values cut, everything serialisable.

Written by hand because it sits on the hot path of every event: the common case (a flat event of
short strings and numbers) must cost a dictionary lookup per key and a few substring tests per
string. No library masks secrets in log *values* by their shape (``key=value``, JSON and Python
reprs, URL userinfo) in bounded time; provider token formats come from gitleaks' maintained rule
set (rules/README.md), run with RE2 so that no input can make a scan super-linear.

Every scan is bounded: a string is cut to its limit (plus a small overlap, so a secret straddling
the cut is still recognised) *before* any pattern runs, and every pattern is linear-time.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import sys

if sys.version_info >= (3, 11):
    _re = re.compile
else:
    # Possessive quantifiers (``x{1,n}+``) arrived in Python 3.11. Every one here ends a run whose
    # next character cannot be in its class, so the greedy form matches the same text; it only
    # backtracks through the (bounded) run on a failed match, which truncation keeps small.
    _POSSESSIVE = re.compile(r"(\{\d+(?:,\d*)?\})\+")

    def _re(pattern: str, flags: int = 0) -> re.Pattern:
        return re.compile(_POSSESSIVE.sub(r"\1", pattern), flags)

MASK = "[MASKED]"

#: Words that mark a secret when they are one of the words of a key (``X-Api-Key`` → x, api, key;
#: ``mfaCode`` → mfa, code; ``secret.value`` → secret, value), and the compounds matched as
#: substrings of the key with separators removed (``subscriptionkey`` in ``Ocp-Apim-Subscription-Key``).
DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "password", "passwd", "pwd", "pass", "passphrase", "passcode", "secret", "secrets", "token", "apikey",
    "accesskey", "privatekey", "secretkey", "signingkey", "encryptionkey", "masterkey", "subscriptionkey",
    "authorization", "auth", "cookie", "cookies", "setcookie", "session", "sessionid", "sid", "csrf", "xsrf",
    "credential", "credentials", "creds", "signature", "sig", "jwt", "otp", "totp", "mfa", "pin", "ssn",
    "creditcard", "cardnumber", "cvv", "cvc", "bearer", "dsn",
)
#: Fragments at least this long also match as substrings of the joined key.
_SUBSTRING_MIN = 5
#: Keys that contain a secret word but are not secrets.
DEFAULT_ALLOWED_KEYS: tuple[str, ...] = ("author", "authors", "authority", "tokens_used", "session_count",
                                         "token_count", "auth_method", "token_type")

_SEP = _re(r"[^a-z0-9]")
_WORDS = _re(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
#: Longest string (characters) scanned past the cut, so a secret straddling it is still seen.
_OVERLAP = 256

# --- secrets inside text ------------------------------------------------------------------
# A secret word as one word of a key: not preceded by a letter (or at a camelCase boundary), not
# followed by one; then up to three more key parts (secret.value, aws_secret_access_key).
_SECRET_WORDS = (r"(?:csrf|xsrf|auth|access|refresh|api|bearer|session|client|app)tokens?|(?:client|app|api|shared)secrets?|"
                 r"pass(?:word|wd|phrase|code)?|pwd|secrets?|token|api[_-]?key|access[_-]?key|private[_-]?key|"
                 r"subscription[_-]?key|signing[_-]?key|authorization|auth|credentials?|creds|set-?cookie|cookies?|"
                 r"session(?:[_-]?id)?|sid|csrf|xsrf|signature|sig|totp|otp|mfa|jwt|pin|cvv|dsn")
# Long secret words count inside a lower-case compound too (dbpassword, stripesecret, mytoken);
# short ones only as a word of their own (pass but not bypass, pin but not shipping).
_KEY_WORD = (r"(?:(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))(?i:" + _SECRET_WORDS + ")|(?i:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
             r"subscription[_-]?key|signing[_-]?key|credentials?))"
             r"(?-i:(?![a-z])|(?<=[a-z])(?=[A-Z]))"
             # names that contain a secret word but count or describe it: tokens_used, session_count
             r"(?![_.\-]?(?i:count|used|type|length|len|size|name|url|uri|endpoint|file|path|ttl|timeout|enabled|"
             r"version|limit)(?![A-Za-z0-9]))"
             r"(?:[_.\-][A-Za-z0-9]{1,30}+){0,3}")
# key, then an assignment in any of the shapes logs carry: a=b, a: b, a = "b", "a": "b",
# 'a': 'b' (Python reprs), a => b, \"a\": \"b\" (JSON inside a JSON string).
_KV = _re(
    _KEY_WORD + r"""(\\{0,4}["']?[ \t]{0,8}(?:=>|:=|[:=])[ \t]{0,8}(?:(?i:bearer|basic|token|digest|bot)[ \t]+)?b?\\{0,4})"""
    r"""(?!\[MASKED\])(?:"([^"\n\\]{1,4096}+)|'([^'\n\\]{1,4096}+)|([^\s"'\\,;&}\])<>]{1,4096}+))""")
# short names that are secrets only as URL query or fragment parameters: ?code=, &key=, #access_token=
_QUERY = _re(r"(?i)([?&;#](?:code|key|id_token|access_token|refresh_token|"
                    r"x-(?:amz|goog)-(?:signature|credential|security-token)|awsaccesskeyid|policy)=)[^&;\s#\"'<>]{1,4096}+")
_JWT = _re(r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{5,4096}+\.eyJ[A-Za-z0-9_\-]{5,4096}+\.[A-Za-z0-9_\-]{0,4096}+")
# logkit's own token shapes that gitleaks' default set does not carry.
_TOKENS = _re(r"(?<![A-Za-z0-9_\-])(?:whsec_[A-Za-z0-9+/=]{16,200}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,200}|"
                     r"github_pat_[A-Za-z0-9_]{20,255}|gh[pousr]_[A-Za-z0-9]{30,255}|xox[abposre]-[A-Za-z0-9\-]{10,255}|"
                     r"(?:AKIA|ASIA)[0-9A-Z]{16})")
_PEM = _re(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY( BLOCK)?-----[^\x00]*?(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY( BLOCK)?-----|$)")
_URL_END = _re(r"[\s\"'<>`]")
# user:pw@host without a scheme (proxy settings, --proxy arguments): the password runs from a
# colon to an @ that a host name follows. Each colon starts at most one possessive run of
# non-colon characters, so the scan is linear.
_BARE_USERINFO = _re(r"(?<=[A-Za-z0-9_.+\-%~]):(?!//)(?!\[MASKED\]@)([^\s@\"'<>(\[{,;=]{1,256}+)@"
                            r"(?=[A-Za-z0-9\-]{1,63}\.[A-Za-z0-9]|localhost\b|\[[0-9A-Fa-f:])")
# A run of token characters long enough for any provider token: the provider rules run only then.
_TOKEN_RUN = _re(r"[A-Za-z0-9_\-+=]{16}")
_KEEP1 = r"\1" + MASK


def _mask_scheme_urls(s: str) -> str:
    """Userinfo passwords of ``scheme://user:pw@host`` masked, parsed by hand because real
    passwords carry ``/``, ``@`` and ``:`` that URL parsers (rightly) refuse."""
    out, pos, i = [], 0, s.find("://")
    while i >= 0:
        start = i + 3
        m = _URL_END.search(s, start, start + 2048)
        end = m.start() if m else min(len(s), start + 2048)
        tok = s[start:end]
        stop = len(tok)
        at_first = tok.find("@")
        if at_first >= 0:
            for c in "?#":
                q = tok.find(c, at_first)
                if q >= 0:
                    stop = min(stop, q)
            at = tok.rfind("@", 0, stop)
            colon = tok.find(":", 0, at)
            if colon >= 0:
                pw = tok[colon + 1:at]
                slash = pw.find("/")
                # host.example.com:8080/path/@user is a host, a port and a path, not a password
                port_path = slash >= 0 and pw[:slash].isdigit() and len(pw[:slash]) <= 5 and (
                    "." in tok[:colon] or tok[:colon] == "localhost")
                if not port_path and pw and pw != MASK:
                    out.append(s[pos:start + colon + 1])
                    out.append(MASK)
                    pos = start + at
        i = s.find("://", max(end, start))
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


#: Every secret word contains one of these: a string holding none skips the key/value scan.
_KEY_CORES = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "cookie", "session", "sid", "csrf", "xsrf",
              "sig", "otp", "mfa", "jwt", "pin", "cvv", "dsn")


class _Finder:
    """Where a pattern could start: a plain alternation run over the lower-cased text.

    Python's ``re`` is slow at a case-insensitive alternation of forty words tried at every
    position (about 60 ms per 16 KB under load here), and slower still with the full key/value
    pattern's lookbehinds; the same words case-sensitively over ``s.lower()`` cost a seventh of
    that. The full pattern then runs with ``re.match`` only where a word starts, each match
    bounded, and the scan resumes after it: linear in ``len(s)``. (RE2 scans faster but its
    Python binding costs tens of µs per match: slower when a text holds many keys.)
    """

    def __init__(self, pattern: str):
        self.lower = _re(pattern)
        self.anycase = _re("(?i)" + pattern)  # when lower() changes the length (e.g. "İ")

    def positions(self, s: str, ls: str):
        if len(ls) != len(s):  # "İ" is the one character whose lower case is two: keep positions aligned
            ls = s.replace("\u0130", "i").lower()
        if len(ls) == len(s):
            return (m.start() for m in self.lower.finditer(ls))
        return (m.start() for m in self.anycase.finditer(s))


def _mask_at(s: str, ls: str, finder: _Finder, matcher: re.Pattern, span) -> str:
    """Mask ``span(match)`` wherever ``matcher`` matches at a position ``finder`` reports."""
    out, pos = [], 0
    for a in finder.positions(s, ls):
        if a < pos:
            continue
        m = matcher.match(s, a)
        if m is None:
            continue
        x, y = span(m)
        if y <= x or s[x:y] == MASK:
            continue
        out.append(s[pos:x])
        out.append(MASK)
        pos = y
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


def _kv_span(m: re.Match) -> tuple[int, int]:
    for g in (2, 3, 4):
        if m.start(g) >= 0:
            return m.span(g)
    return 0, 0


_KV_FIND = _Finder(_SECRET_WORDS)
_COOKIE_FIND = _Finder(r"(?:set-)?cookie[ \t]*:")
_SCHEME_FIND = _Finder(r"\b(?:bearer|basic|token|apikey|api-key)")
_COOKIE_AT = _re(r"(?i)((?:set-)?cookie[ \t]*:[ \t]*)([^\r\n]{1,4096}+)")
_SCHEME_AT = _re(r"(?i)(bearer|basic|token|apikey|api-key)(\s{1,8}|=|:\s{0,8})[A-Za-z0-9._~+/=\-]{6,4096}+")


# gitleaks ends most rules with "followed by a quote, space, ; or end" (tuned for source code);
# in log text a token is as often followed by ] ) , > or &: any non-token character ends it here.
_GITLEAKS_END = r"""(?:[\x60'"\s;]|\\[nr]|$)"""
_TOKEN_END = r"""(?:[^\w\-]|\\[nr]|$)"""


class _ProviderRules:
    """gitleaks' provider token rules: a keyword prefilter (as gitleaks itself does), then the
    rule's regex compiled on first use with RE2 (linear time, the rules' own syntax)."""

    def __init__(self) -> None:
        path = Path(__file__).parent / "rules" / "gitleaks_rules.json"
        try:
            self.rules = json.loads(path.read_text(encoding="utf-8"))
        except OSError:
            self.rules = []
        by_kw: dict[str, list[int]] = {}
        for i, r in enumerate(self.rules):
            for k in r["keywords"]:
                by_kw.setdefault(k, []).append(i)
        self.by_keyword = tuple(by_kw.items())
        self._compiled: dict[int, Any] = {}
        self._kwset = None
        self._lock = threading.Lock()

    def _regex(self, i: int):
        rx = self._compiled.get(i)
        if rx is None:
            import re2  # google-re2: imported on the first text that could hold a provider token
            with self._lock:
                rx = self._compiled.get(i)
                if rx is None:
                    opts = re2.Options()
                    opts.max_mem = 8 << 20
                    try:
                        rx = re2.compile(self.rules[i]["regex"].replace(_GITLEAKS_END, _TOKEN_END), opts)
                    except Exception:
                        rx = False
                    self._compiled[i] = rx
        return rx

    def _keyword_set(self):
        # One RE2 pass finds which of the ~240 keywords occur (gitleaks uses Aho-Corasick for
        # the same prefilter); testing each keyword with ``in`` costs 240 scans of the text.
        ks = self._kwset
        if ks is None:
            import re2
            with self._lock:
                if self._kwset is None:
                    opts = re2.Options()
                    opts.case_sensitive = False
                    ks = re2.Set.SearchSet(opts)
                    for kw, _ in self.by_keyword:
                        ks.Add(re2.escape(kw))
                    ks.Compile()
                    self._kwset = ks
                ks = self._kwset
        return ks

    def mask(self, s: str) -> str:
        found = self._keyword_set().Match(s)
        if not found:
            return s
        hit: set[int] = set()
        for j in found:
            hit.update(self.by_keyword[j][1])
        for i in sorted(hit):
            rx = self._regex(i)
            if not rx:
                continue
            g = self.rules[i]["group"]
            spans = []
            for m in rx.finditer(s):
                if g is None:
                    g_eff = 1 if m.re.groups >= 1 and m.start(1) >= 0 else 0
                else:
                    g_eff = g
                a, b = m.span(g_eff)
                if b > a and s[a:b] != MASK:
                    spans.append((a, b))
            if spans:
                parts, pos = [], 0
                for a, b in spans:
                    if a < pos:
                        continue
                    parts.append(s[pos:a])
                    parts.append(MASK)
                    pos = b
                parts.append(s[pos:])
                s = "".join(parts)
        return s


_providers = _ProviderRules()
_cache: dict[str, str] = {}
_CACHE_MAX, _CACHE_LEN = 4096, 512


def mask_text(s: str) -> str:
    """``s`` with secrets masked: key/value shapes, URL userinfo, secret query parameters, auth
    schemes, cookie lines, JWTs, PEM keys and provider token formats. Callers cut ``s`` first
    (see :meth:`Sanitizer.text`); every step is linear in ``len(s)``."""
    if len(s) <= _CACHE_LEN:
        hit = _cache.get(s)
        if hit is not None:
            return hit
        key = s
    else:
        key = None
    # URL userinfo first: a password such as ``000000/SECRET:x`` holds a secret word, and the
    # key/value scan would otherwise take ``SECRET:`` for a key and its value past the ``@``,
    # leaving the first part of the password in the line (found by a property test).
    if "@" in s:
        if "://" in s:
            s = _mask_scheme_urls(s)
        if ":" in s:
            s = _BARE_USERINFO.sub(":" + MASK + "@", s)
    if "=" in s or s.count(":") > s.count("://"):
        ls = s.lower()
        if "cookie" in ls:
            s = _mask_at(s, ls, _COOKIE_FIND, _COOKIE_AT, lambda m: m.span(2))
            ls = s.lower()
        for core in _KEY_CORES:
            if core in ls:
                s = _mask_at(s, ls, _KV_FIND, _KV, _kv_span)
                break
        if "=" in s and ("?" in s or "&" in s or "#" in s or ";" in s):
            s = _QUERY.sub(_KEEP1, s)
    ls = s.lower()
    if "bearer" in ls or "basic" in ls or "token" in ls or "apikey" in ls or "api-key" in ls:
        s = _mask_at(s, ls, _SCHEME_FIND, _SCHEME_AT, lambda m: (m.end(2), m.end()))
    if len(s) >= 16 and _TOKEN_RUN.search(s):
        if "eyJ" in s:
            s = _JWT.sub(MASK, s)
        s = _TOKENS.sub(MASK, s)
        s = _providers.mask(s)
    if "PRIVATE KEY" in s:
        s = _PEM.sub(MASK, s)
    if key is not None:
        if len(_cache) >= _CACHE_MAX:  # bounded: values can be attacker-made
            _cache.clear()
        _cache[key] = s
    return s


def truncate(s: str, limit: int) -> str:
    """``s`` cut to ``limit`` characters with a visible marker saying how much was cut."""
    if len(s) <= limit:
        return s
    return f"{s[:limit]}…[truncated {len(s) - limit} chars]"


def clean_text(s: str, limit: int, mask: bool = True) -> str:
    """Cut, then mask: the scan never sees more than ``limit`` + a small overlap."""
    n = len(s)
    if not mask:
        return truncate(s, limit)
    if n <= limit:
        return mask_text(s)
    head = mask_text(s[: limit + _OVERLAP])
    return f"{head[:limit]}…[truncated {n - limit} chars]"


# --- flags for values that had to be replaced ---------------------------------------------
class _Notes(threading.local):
    items: list | None = None  # a class default: reading it costs no call on the hot path


notes_state = _Notes()


def note(reason: str) -> None:
    """Record that a value of the event being built was replaced (read by the renderer)."""
    lst = notes_state.items
    if lst is None:
        lst = notes_state.items = []
    if len(lst) < 20:
        lst.append(reason[:200])


def takenotes_state() -> list[str] | None:
    lst = notes_state.items
    if lst:
        notes_state.items = None
        return lst
    return None


def safe_int(v: int) -> int | str:
    """``v`` if JSON can carry it as a 64-bit number, else its digits as text (or a short
    description when even that is refused: Python limits int→str conversion to 4,300 digits)."""
    if -(2**63) <= v < 2**64:
        return v
    try:
        return str(v)
    except ValueError:
        note(f"int with about {int(v.bit_length() * 0.30103) + 1} digits replaced")
        return f"[int of {v.bit_length()} bits]"


@dataclass
class Sanitizer:
    """Masks secrets by key and by value, truncates, and turns any value into JSON-able data."""

    mask: bool = True
    secret_keys: Iterable[str] = DEFAULT_SECRET_KEYS
    allowed_keys: Iterable[str] = DEFAULT_ALLOWED_KEYS
    max_length: int = 16_384
    max_stack_trace: int = 65_536
    max_items: int = 1_000
    max_depth: int = 10
    max_key_length: int = 256
    #: Characters of text one container (list, dict) may hold before further items are cut, so
    #: a list of many long strings cannot make a line of megabytes (or cost megabytes of scanning).
    max_container_chars: int = 65_536
    _key_cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        norm = lambda k: _SEP.sub("", k.lower())  # noqa: E731
        self._exact = frozenset(norm(k) for k in self.secret_keys)
        self._fragments = tuple(k for k in self._exact if len(k) >= _SUBSTRING_MIN)
        self._allowed = frozenset(norm(k) for k in self.allowed_keys)

    # --- keys ---------------------------------------------------------------------------
    def is_secret_key(self, key: Any) -> bool:
        """Whether a key names a secret: one of its words is a secret word, or its letters
        contain a secret compound; every part of a dotted name counts (``secret.value``)."""
        hit = self._key_cache.get(key)
        if hit is None:
            k = str(key)[:200]
            n = _SEP.sub("", k.lower())
            last = _SEP.sub("", k.rsplit(".", 1)[-1].lower())
            if n in self._allowed or last in self._allowed:
                hit = False
            else:
                hit = n in self._exact or any(f in n for f in self._fragments) or any(
                    w.lower() in self._exact for w in _WORDS.findall(k))
            if len(self._key_cache) < 10_000:  # bounded: keys can come from attacker-made dicts
                self._key_cache[key] = hit
        return hit

    # --- values -------------------------------------------------------------------------
    def text(self, s: str, limit: int | None = None) -> str:
        return clean_text(s, self.max_length if limit is None else limit, self.mask)

    def value(self, v: Any, depth: int = 0) -> Any:
        """A JSON-able copy of ``v``; never raises."""
        t = type(v)
        if t is str:
            return self.text(v)
        if t is int:
            return safe_int(v)
        if t is float or t is bool or v is None:
            return v
        try:
            if isinstance(v, Mapping):  # dict, and Django's HttpHeaders, CaseInsensitiveDict, ...
                if depth >= self.max_depth:
                    return "[max depth]"
                out = {}
                n = size = 0
                for k, x in v.items():
                    if n >= self.max_items or size > self.max_container_chars:
                        out["…"] = f"[{_safe_len(v) - n} more keys cut]"
                        note(f"mapping cut after {n} keys: size limit")
                        break
                    n += 1
                    k = self._key(k)
                    y = out[k] = MASK if self.mask and self.is_secret_key(k) else self.value(x, depth + 1)
                    size += len(k) + (len(y) if type(y) is str else 8 if type(y) is not dict and type(y) is not list else _size(y))
                return out
            if isinstance(v, (list, tuple, set, frozenset)):
                if depth >= self.max_depth:
                    return "[max depth]"
                items = list(v) if not isinstance(v, (set, frozenset)) else sorted(v, key=_safe_repr)
                out = []
                size = 0
                for x in items[: self.max_items]:
                    if size > self.max_container_chars:
                        break
                    y = self.value(x, depth + 1)
                    size += len(y) if type(y) is str else 8 if type(y) is not dict and type(y) is not list else _size(y)
                    out.append(y)
                if len(items) > len(out):
                    note(f"list cut after {len(out)} of {len(items)} items: size limit")
                    out.append(f"…[{len(items) - len(out)} more items cut]")
                return out
            if isinstance(v, (bytes, bytearray, memoryview)):
                b = bytes(v[: self.max_length + _OVERLAP])
                return self.text(b.decode("utf-8", "backslashreplace")
                                 + (f"…[truncated {len(v) - len(b)} bytes]" if len(v) > len(b) else ""))
            if isinstance(v, str):  # str subclasses (e.g. Django's SafeString)
                return self.text(str.__str__(v))
            if isinstance(v, int):
                return safe_int(int(v))
            if isinstance(v, float):
                return float(v)
            if isinstance(v, Decimal):
                return str(v)  # as text, so no precision is lost
            if isinstance(v, BaseException):
                return self.text(f"{type(v).__name__}: {_safe_str(v)}")
            if isinstance(v, (_dt.date, _dt.time)):  # datetime is a date
                return v.isoformat()
            enum_value = getattr(v, "value", _MISSING) if hasattr(type(v), "__members__") else _MISSING
            if enum_value is not _MISSING:
                return self.value(enum_value, depth + 1)
            return self.text(_safe_str(v))
        except Exception as e:  # a hostile __iter__/__str__/tzinfo must not reach the application
            note(f"{type(v).__name__} value replaced: {type(e).__name__}")
            return f"[unloggable {type(v).__name__}]"

    def _key(self, k: Any) -> str:
        k = k if type(k) is str else _safe_str(k)
        return k if len(k) <= self.max_key_length else truncate(k, self.max_key_length)

    def field(self, key: str, v: Any) -> Any:
        """Sanitise the value of a top-level (dotted) field."""
        if self.mask and self.is_secret_key(key):
            return MASK
        return self.value(v)


_MISSING = object()


def _size(v: Any, depth: int = 0) -> int:
    """Rough JSON size of sanitised data (strings count their length)."""
    if type(v) is str:
        return len(v) + 2
    if type(v) is dict:
        return sum(len(k) + 4 + _size(x, depth + 1) for k, x in v.items()) if depth < 12 else 8
    if type(v) is list:
        return sum(_size(x, depth + 1) + 1 for x in v) if depth < 12 else 8
    return 8


def _safe_len(v: Any) -> int:
    try:
        return len(v)
    except Exception:
        return 0


def _safe_repr(v: Any) -> str:
    try:
        return repr(v)
    except Exception:
        return type(v).__name__


def _safe_str(v: Any) -> str:
    try:
        return str(v)
    except Exception:
        try:
            return repr(v)
        except Exception:
            note(f"unprintable {type(v).__name__} replaced")
            return f"[unprintable {type(v).__name__}]"
