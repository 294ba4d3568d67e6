"""Tell a CAPTCHA / bot-challenge interstitial or a bot block from a real page.

``detect_challenge(status, headers, body, content_encoding=None)`` looks at the
status, the response headers and a bounded window of the body (its first
:data:`PREFIX_BYTES` and last :data:`TAIL_BYTES` bytes), and returns a
:class:`Challenge` whose ``kind`` is ``"captcha"`` (the page asks the visitor
to solve something or to wait while a script proves it is a browser: CAPTCHA,
JS/proof-of-work interstitial, press-and-hold, cookie-setting JS challenge),
``"block"`` (a flat denial with nothing to solve) or ``None``.

A raw body (as read off the wire) is decoded first when ``content_encoding``
is given, with a bound on the decoded size (see :mod:`logkit.detect.decode`).

The hard part is not finding vendor strings but *not* flagging the many
ordinary pages that carry them: login and contact forms embed reCAPTCHA,
hCaptcha or Turnstile widgets, Cloudflare injects ``/cdn-cgi/challenge-platform``
scripts into normal pages, DataDome and PerimeterX sensors load on every page,
Imperva injects ``_Incapsula_Resource`` scripts.  So evidence comes in tiers:

* structural evidence -- the markup of a challenge itself (Cloudflare's
  ``challenge-form`` and ``_cf_chl_opt = {...}``, its challenge endpoints,
  Sucuri's ``sucuri_cloudproxy_js`` cookie script, an Imperva iframe to
  ``_Incapsula_Resource``) decides on any page, whatever its layout: it is
  markup, not prose, so a page that merely *quotes* a marker does not have it;
* tier A ("definitive") strings exist only on challenge/block pages; they
  decide unless the page is plainly a content page (navigation, many links,
  a password field), which is where a blog post quoting them would land;
* tier B (vendor widgets) decides only on an interstitial-shaped page: a
  challenge status (401/403/405/429/503), a challenge-like ``<title>`` or a
  small body -- and only when the page has no user-facing form field
  (text/email/select/textarea), which every real login/contact/signup form
  has.  Vendor *scripts* (``_Incapsula_Resource``, ``awswaf``) count only on
  a page whose every external script is that vendor's;
* tier C (generic phrases such as "verify you are human") counts only on an
  interstitial-shaped page with little visible text.  A word in a ``<title>``
  never decides anything by itself.

See docs/challenges.md for the vendor signals and the corpus benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .decode import DecodeError, decode_body, split_encodings

__all__ = ["DECODE_LIMIT", "LARGE_PAGE_BYTES", "PREFIX_BYTES", "SMALL_PAGE_BYTES", "TAIL_BYTES", "Challenge",
           "detect_challenge"]

#: The first this-many bytes of the body are examined.  Every vendor
#: interstitial we know puts its markers in its first few KiB; 32 KiB leaves
#: room for inline CSS/SVG while keeping the cost of a 200 KB page flat.
PREFIX_BYTES = 32 * 1024

#: ... and the last this-many bytes, when the body is longer than the prefix.
#: Challenges embedded in a site's own error-page layout (Cloudflare's custom
#: challenge pages, branded "checking your browser" pages with inline images)
#: put the challenge form and script at the end of a page of 100-450 KB.
TAIL_BYTES = 32 * 1024

#: A body at most this long (whole body, not prefix) counts as interstitial-
#: shaped even with status 200: challenge pages are small, real pages are not.
SMALL_PAGE_BYTES = 16 * 1024

#: A body longer than this under a status that is not a challenge status
#: (anything but 401/403/405/429/503) is not examined at all: every vendor
#: interstitial served with 200 (Amazon's robot check, Imperva's JS check) is a
#: few KiB, and the ordinary pages that dominate crawl traffic are far larger.
LARGE_PAGE_BYTES = 64 * 1024

#: At most this many bytes are ever decoded from a compressed body (under a
#: challenge status; otherwise LARGE_PAGE_BYTES + 1, all the rules need).  A
#: decompression bomb costs at most this much memory and time.
DECODE_LIMIT = 2 * 1024 * 1024

# 401 is here because DataDome answers blocked hits with 401 or 403, 405 because
# that is AWS WAF's CAPTCHA status.  Neither is a plain block on its own.
_SHAPE_STATUSES = frozenset({401, 403, 405, 429, 503})
_BLOCK_STATUSES = frozenset({403, 429, 503})
_DATADOME_STATUSES = frozenset({401, 403, 429})

# Threshold chosen well above what any interstitial carries (0-3 links) and
# well below the link count of any page with navigation.
_CONTENT_LINKS = 12

# Generic phrases count only on a page with at most this much visible text:
# interstitials say a sentence or two (the largest we know, Distil's and
# Cloudflare's, carry ~1500 characters of explanation), while a page *about*
# captchas or blocking carries paragraphs.
_SHORT_TEXT = 2000


@dataclass(frozen=True, slots=True)
class Challenge:
    """Result of :func:`detect_challenge`; falsy when nothing was detected."""

    kind: str | None = None
    vendor: str | None = None
    signal: str | None = None

    def __bool__(self) -> bool:
        return self.kind is not None


_NONE = Challenge()

_CAPTCHA = "captcha"
_BLOCK = "block"

# --- structural evidence -------------------------------------------------------------------
# Rows: (needle, regex, kind, vendor, signal, unless).  The plain needle (C-speed
# ``in``) gates the regex, which requires markup context: an attribute, an
# assignment, a URL path -- what a page quoting the marker in prose does not have.
# ``unless`` names a needle whose presence hands the page to the tier-A rows.
_Struct = tuple[bytes, "re.Pattern[bytes]", str, "str | None", str, "bytes | None"]


def _st(needle: bytes, regex: bytes, kind: str, vendor: str | None, signal: str,
        unless: bytes | None = None) -> _Struct:
    return (needle, re.compile(regex), kind, vendor, signal, unless)


_STRUCT: tuple[_Struct, ...] = (
    _st(b"_cf_chl_opt", rb"_cf_chl_opt\s*=\s*\{", _CAPTCHA, "cloudflare", "body _cf_chl_opt"),
    _st(b"challenge-form", rb"<form\b[^>]*\bid\s*=\s*[\"']?challenge-form\b", _CAPTCHA, "cloudflare",
        "body cloudflare challenge form"),
    _st(b"cf-browser-verification", rb"class\s*=\s*[\"'][^\"']*\bcf-browser-verification\b", _CAPTCHA,
        "cloudflare", "body cloudflare challenge form"),
    _st(b"jschl", rb"name\s*=\s*[\"']?jschl_(?:vc|answer)\b|/cdn-cgi/l/chk_jschl", _CAPTCHA, "cloudflare",
        "body cloudflare challenge form"),
    _st(b"cdn-cgi/l/chk_captcha", rb"/cdn-cgi/l/chk_captcha", _CAPTCHA, "cloudflare",
        "body cloudflare challenge form"),
    _st(b"__cf_chl_", rb"__cf_chl_(?:jschl|captcha|f|rt|managed)_tk__?=", _CAPTCHA, "cloudflare",
        "body cloudflare challenge form"),
    # The orchestrate script is served only to challenge pages; ordinary pages get .../scripts/jsd/main.js.
    _st(b"challenge-platform", rb"/cdn-cgi/challenge-platform/(?:h/[a-z]/)?orchestrate/", _CAPTCHA,
        "cloudflare", "body cloudflare challenge script"),
    _st(b"sucuri_cloudproxy_js", rb"sucuri_cloudproxy_js\s*=", _CAPTCHA, "sucuri",
        "body sucuri cloudproxy js challenge"),
    _st(b"_incapsula_resource", rb"<iframe\b[^>]*\bsrc\s*=\s*[\"']?/_incapsula_resource\?", _CAPTCHA,
        "imperva", "body imperva challenge iframe", unless=b"incapsula incident id"),
    _st(b"kpsdk", rb"window\.kpsdk\s*=|\bkpsdk\.(?:now|start|configure)\b", _CAPTCHA, "kasada",
        "body kasada challenge script"),
)

# --- tier A / B / C text markers ------------------------------------------------------------
# Rows: (needles, regex, kind, vendor, tier, signal).  A row can only match
# if one of its plain ``needles`` occurs in the lowercased window; ``regex``
# (or None when the needle is the whole marker) then confirms it.  Plain
# ``in`` tests run at C speed, where one big alternation regex measured about
# 0.45 us per byte -- 15 ms for a 32 KiB prefix.  Order is priority in a tier.
_Row = tuple[tuple[bytes, ...], "re.Pattern[bytes] | None", str, "str | None", str, str]


def _row(needles, regex, kind, vendor, tier, signal) -> _Row:  # type: ignore[no-untyped-def]
    if isinstance(needles, bytes):
        needles = (needles,)
    return (needles, re.compile(regex) if regex else None, kind, vendor, tier, signal)


_MARKERS: tuple[_Row, ...] = (
    # --- tier A, captcha -------------------------------------------------
    _row(b"just a moment", rb"<title>\s*just a moment\.\.\.", _CAPTCHA, "cloudflare", "A",
         "title 'just a moment...'"),
    _row(b"_cf_chl_opt", None, _CAPTCHA, "cloudflare", "A", "body _cf_chl_opt"),
    _row((b"cf-browser-verification", b"cf-challenge-running", b"cf_captcha_kind"), None,
         _CAPTCHA, "cloudflare", "A", "body cloudflare challenge form"),
    _row(b"detected unusual traffic from your computer network", None, _CAPTCHA, "google", "A",
         "body google 'unusual traffic'"),
    _row(b"google.com/sorry/", None, _CAPTCHA, "google", "A", "body google /sorry/ page"),
    _row(b"captcha-delivery.com", None, _CAPTCHA, "datadome", "A", "body captcha-delivery.com"),
    _row((b"px-captcha", b"_pxcaptcha", b"captcha.px-cdn.net"), None, _CAPTCHA, "perimeterx", "A",
         "body px-captcha"),
    _row((b"sec-if-cpt", b"sec-cpt-", b"sec_cpt", b"/_sec/cp_challenge"), None, _CAPTCHA, "akamai", "A",
         "body akamai sec-cpt"),
    _row((b"bm-verify", b"/_sec/verify?provider=interstitial"), None, _CAPTCHA, "akamai", "A",
         "body akamai bm-verify"),
    _row(b"pardon our interruption", None, _CAPTCHA, "imperva", "A", "body 'pardon our interruption'"),
    _row(b"gokuprops", None, _CAPTCHA, "aws-waf", "A", "body aws waf gokuProps"),
    _row(b"/errors/validatecaptcha", None, _CAPTCHA, "amazon", "A", "body /errors/validateCaptcha"),
    _row(b"enter the characters you see below", None, _CAPTCHA, "amazon", "A",
         "body 'enter the characters you see below'"),
    # --- tier A, block ---------------------------------------------------
    # 1xxx codes that mean "refused" (IP/country/UA ban, rate limit, firewall
    # rule); 1000-1004, 1014, 1016 are DNS/config errors, not blocks.
    _row((b"cf-error-code", b"error code", b"cf-code-label"),
         rb"(?:cf-error-code|error code|cf-code-label)[^0-9<]{0,24}(?:<[^>]{0,80}>[^0-9<]{0,24}){0,3}"
         rb"(?:100[5-9]|101[0125]|1020)\b", _BLOCK, "cloudflare", "A", "body cloudflare error 10xx"),
    _row(b"used cloudflare to restrict access", None, _BLOCK, "cloudflare", "A",
         "body cloudflare access denied"),
    _row(b"using a security service to protect itself from online attacks", None, _BLOCK, "cloudflare",
         "A", "body cloudflare waf block"),
    # Akamai writes this line with HTML entities: "Reference&#32;&#35;18&#46;...".
    _row(b"reference", rb"reference(?:\s|&#32;)*(?:#|&#35;|&#x23;)\s*[0-9]{1,3}(?:\.|&#46;)[0-9a-f]{4,}",
         _BLOCK, "akamai", "A", "body akamai reference #"),
    _row((b"errors.edgesuite.net", b"errors&#46;edgesuite&#46;net"), None, _BLOCK, "akamai", "A",
         "body errors.edgesuite.net"),
    _row(b"incapsula incident id", None, _BLOCK, "imperva", "A", "body incapsula incident id"),
    _row(b"the requested url was rejected. please consult with your administrator", None, _BLOCK, "f5",
         "A", "body f5 request rejected"),
    _row(b"sucuri website firewall", None, _BLOCK, "sucuri", "A", "body sucuri firewall"),
    # --- tier B: vendor widgets, also found on ordinary pages' forms -------
    _row(b"cf-chl-", None, _CAPTCHA, "cloudflare", "B", "body cf-chl- marker"),
    _row((b"cf-turnstile", b"challenges.cloudflare.com/turnstile"), None, _CAPTCHA, "cloudflare", "B",
         "body turnstile on interstitial"),
    _row((b"g-recaptcha", b"google.com/recaptcha/", b"recaptcha.net/recaptcha/"), None, _CAPTCHA,
         "recaptcha", "B", "body recaptcha on interstitial"),
    _row((b"h-captcha", b"hcaptcha.com/1/api"), None, _CAPTCHA, "hcaptcha", "B",
         "body hcaptcha on interstitial"),
    _row((b"static.geetest.com", b"initgeetest", b"geetest_"), None, _CAPTCHA, "geetest", "B",
         "body geetest on interstitial"),
    _row((b"press & hold", b"press &amp; hold"), None, _CAPTCHA, "perimeterx", "B", "body 'press & hold'"),
    # --- tier C: generic phrases -------------------------------------------
    _row((b"are you a robot", b"are you a bot"), None, _CAPTCHA, None, "C", "body 'are you a robot'"),
    _row((b"you are human", b"you are a human", b"you're human", b"you're a human"),
         rb"verify(?:ing)? (?:that )?you(?: are|'re) (?:a )?human", _CAPTCHA, None, "C",
         "body 'verify you are human'"),
    _row(b"not a robot", None, _CAPTCHA, None, "C", "body 'not a robot'"),
    _row(b"unusual traffic", None, _CAPTCHA, None, "C", "body 'unusual traffic'"),
    _row((b"complete the security check", b"checking your browser", b"human verification"), None,
         _CAPTCHA, None, "C", "body security check"),
    _row(b"captcha", None, _CAPTCHA, None, "C", "body 'captcha'"),
    _row((b"you have been blocked", b"has been blocked", b"has been temporarily blocked",
          b"request blocked"), None, _BLOCK, None, "C", "body 'you have been blocked'"),
)

# Vendor scripts that also load on every ordinary page of a protected site:
# (needle in a script src, vendor, signal).  They count only on a page that
# loads nothing else (see _only_vendor_scripts).
_VENDOR_SCRIPTS = (
    (b"_incapsula_resource", "imperva", "body _Incapsula_Resource interstitial"),
    (b"awswaf", "aws-waf", "body awswaf script on interstitial"),
)

_A_ROWS = tuple(r for r in _MARKERS if r[4] == "A" and r[2] == _CAPTCHA) + tuple(
    r for r in _MARKERS if r[4] == "A" and r[2] == _BLOCK
)
_B_ROWS = tuple(r for r in _MARKERS if r[4] == "B")
_C_CAPTCHA_ROWS = tuple(r for r in _MARKERS if r[4] == "C" and r[2] == _CAPTCHA)
_C_BLOCK_ROWS = tuple(r for r in _MARKERS if r[4] == "C" and r[2] == _BLOCK)

_HUBS = (b"captcha", b"cf", b"cpt", b"_sec/", b"geetest", b"incapsula", b"human", b"robot",
         b"blocked", b"unusual traffic", b"press &", b"cloudflare", b"google.com/")
_HUB_OF = {
    needle: next((h for h in _HUBS if h in needle and h != needle), None)
    for row in _MARKERS
    for needle in row[0]
}
_HUB_OF = {k: v for k, v in _HUB_OF.items() if v is not None}

# DataDome puts t=bv in the captcha URL when the IP is banned outright: nothing
# to solve there.
_DATADOME_BANNED_RE = re.compile(rb"[\"']t[\"']\s*:\s*[\"']bv[\"']|[?&]t=bv\b")

_TITLE_RE = re.compile(rb"<title[^>]*>([^<]{0,200})")
_TITLE_ELEMENT_RE = re.compile(rb"<title\b[^>]*>[^<]{0,2000}(?:</title\s*>)?")
# Words in a title make a page interstitial-shaped (so a widget on it counts);
# they never decide on their own.  \b keeps "blocked" in a domain such as
# unblocked-games.example from counting.
_TITLE_SHAPE_RE = re.compile(
    rb"\b(?:just a moment|attention required|robot check|are you a (?:ro)?bot|captcha|security check"
    rb"|human verification|verify you are human|one more step|checking your browser|ddos protection"
    rb"|bot protection|unusual traffic|access denied|access to this page has been denied|blocked"
    rb"|forbidden|request rejected|too many requests|rate limited)\b"
)

# A user-facing field: any select, a textarea other than the response field
# reCAPTCHA/hCaptcha render in their <noscript> fallback, or an input whose
# type is not one that interstitials use for their own plumbing.
_USER_FIELD_RE = re.compile(
    rb"<select\b|<textarea\b(?![^>]*(?:g-recaptcha-response|h-captcha-response))"
    rb"|<input\b(?![^>]*\btype\s*=\s*[\"']?(?:hidden|submit|button|image|checkbox|reset)\b)"
)

_SCRIPT_SRC_RE = re.compile(rb"<script\b[^>]*\bsrc\s*=\s*[\"']?([^\"'\s>]+)")
_INVISIBLE_RE = re.compile(rb"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>",
                           re.DOTALL)
_SPACE_RE = re.compile(rb"\s+")

_STATUS_RE = re.compile(r"\s*(\d{3})")


def detect_challenge(status: object, headers: object = None, body: object = None, *,
                     content_encoding: object = None) -> Challenge:
    """Classify one HTTP response; never raises.

    ``status``: int (or anything ``int()`` accepts, or a string starting with a
    three-digit code). ``headers``: any mapping (looked up case-insensitively),
    a list of ``(name, value)`` pairs, Scrapy ``Headers`` (values are lists of
    bytes) or a raw header block; names and values may be bytes.
    ``body``: bytes, bytearray, memoryview, str or None; only its first
    :data:`PREFIX_BYTES` and last :data:`TAIL_BYTES` bytes are read.
    ``content_encoding``: the response's ``Content-Encoding`` when ``body`` is
    the raw bytes as received (``"gzip"``, ``"br"``, ``"gzip, br"``...): the
    body is decoded first, at most :data:`DECODE_LIMIT` bytes of it.  Leave it
    None for a body that is already decoded (what ``requests``, ``httpx`` and
    Scrapy's ``response.body`` after HttpCompressionMiddleware hold).  A body
    that does not decode is treated as absent (status and headers still count).
    """
    st = _coerce_status(status)
    hdrs = _normalize_headers(headers)

    found = _from_action_headers(hdrs)
    if found is not None:
        return found

    low, total = _window(body, st, content_encoding)
    if low:
        found = _from_body(st, low, total, hdrs)
        if found is not None:
            return found

    return _from_status(st, hdrs)


# --------------------------------------------------------------------------
# decisions


def _from_action_headers(hdrs: dict[str, list[str]]) -> Challenge | None:
    # These headers are each vendor's documented, machine-readable statement
    # that this response is a challenge; nothing in the body can outweigh them.
    for value in hdrs.get("cf-mitigated", ()):
        if value == "challenge":
            return Challenge(_CAPTCHA, "cloudflare", "header cf-mitigated: challenge")
    for value in hdrs.get("x-amzn-waf-action", ()):
        if value in ("captcha", "challenge"):
            return Challenge(_CAPTCHA, "aws-waf", f"header x-amzn-waf-action: {value}")
    for value in hdrs.get("x-vercel-mitigated", ()):
        if value == "challenge":
            return Challenge(_CAPTCHA, "vercel", "header x-vercel-mitigated: challenge")
    return None


class _Scan:
    """Substring tests over one window, sharing "hub" tests between needles.

    Each ``in`` test is a full pass over the window when it fails, which is
    the usual outcome; testing a hub such as ``captcha`` once rules out the
    eleven needles that contain it.
    """

    __slots__ = ("low", "hub")

    def __init__(self, low: bytes) -> None:
        self.low = low
        self.hub: dict[bytes, bool] = {}

    def row(self, row: _Row) -> bool:
        low = self.low
        for needle in row[0]:
            hub = _HUB_OF.get(needle)
            if hub is not None:
                seen = self.hub.get(hub)
                if seen is None:
                    seen = self.hub[hub] = hub in low
                if not seen:
                    continue
            if needle in low:
                return row[1] is None or row[1].search(low) is not None
        return False


def _from_body(st: int | None, low: bytes, total: int, hdrs: dict[str, list[str]]) -> Challenge | None:
    for needle, regex, kind, vendor, signal, unless in _STRUCT:
        if needle in low and (unless is None or unless not in low) and regex.search(low):
            return Challenge(kind, vendor, signal)

    if _is_content_page(low):
        return None

    scan = _Scan(low)
    for row in _A_ROWS:
        if scan.row(row):
            kind, vendor, signal = row[2], row[3], row[5]
            if vendor == "datadome" and _DATADOME_BANNED_RE.search(low):
                return Challenge(_BLOCK, vendor, "body captcha-delivery.com t=bv (banned)")
            return Challenge(kind, vendor, signal)

    titled = False
    t = low.find(b"<title")
    if t >= 0:
        tm = _TITLE_RE.match(low, t)
        titled = tm is not None and _TITLE_SHAPE_RE.search(tm.group(1)) is not None

    shaped = st in _SHAPE_STATUSES or titled or total <= SMALL_PAGE_BYTES
    if not shaped or _USER_FIELD_RE.search(low):
        return None

    for row in _B_ROWS:
        if scan.row(row):
            return Challenge(_CAPTCHA, row[3], row[5])
    for needle, vendor, signal in _VENDOR_SCRIPTS:
        if needle in low and _only_vendor_scripts(low, needle):
            return Challenge(_CAPTCHA, vendor, signal)

    # Generic phrases count in the page's text, never in its <title> alone.
    text_scan = _Scan(_TITLE_ELEMENT_RE.sub(b" ", low)) if titled or b"<title" in low else scan
    short: bool | None = None
    for row in _C_CAPTCHA_ROWS:
        if text_scan.row(row):
            short = _visible_text_len(low) <= _SHORT_TEXT
            if short:
                return Challenge(_CAPTCHA, _header_vendor(hdrs), row[5])
            break
    if st in _BLOCK_STATUSES:
        # The status already says "block"; let _from_status word it plainly.
        return None
    for row in _C_BLOCK_ROWS:
        if text_scan.row(row):
            if short is None:
                short = _visible_text_len(low) <= _SHORT_TEXT
            if short:
                return Challenge(_BLOCK, _header_vendor(hdrs), row[5])
            break
    return None


def _from_status(st: int | None, hdrs: dict[str, list[str]]) -> Challenge:
    if st in _DATADOME_STATUSES and ("x-datadome" in hdrs or "x-dd-b" in hdrs):
        # DataDome only sets these on hits it processed; paired with its block
        # statuses they mean its captcha/device-check page was served.
        name = "x-datadome" if "x-datadome" in hdrs else "x-dd-b"
        return Challenge(_CAPTCHA, "datadome", f"header {name} + status {st}")
    if st in _BLOCK_STATUSES:
        vendor = _header_vendor(hdrs)
        if vendor is None:
            return Challenge(_BLOCK, None, f"status {st}")
        return Challenge(_BLOCK, vendor, f"status {st} ({vendor} headers)")
    return _NONE


def _is_content_page(low: bytes) -> bool:
    # Plain substring tests (C speed) rather than one regex: this runs on every
    # page, including the 200 KB ordinary ones that dominate real traffic.
    if b"<nav" in low or b"<article" in low:
        return True
    if b'type="password"' in low or b"type='password'" in low or b"type=password" in low:
        return True
    return low.count(b"<a ") + low.count(b"<a\n") >= _CONTENT_LINKS


def _only_vendor_scripts(low: bytes, needle: bytes) -> bool:
    """The page loads external scripts, and every one of them is the vendor's.

    Imperva's JS check and AWS WAF's challenge page load nothing but the
    vendor's script; an ordinary page protected by the same vendor loads the
    same script *and* the site's own.
    """
    srcs = _SCRIPT_SRC_RE.findall(low)
    return bool(srcs) and all(needle in src for src in srcs)


def _visible_text_len(low: bytes) -> int:
    return len(_SPACE_RE.sub(b" ", _INVISIBLE_RE.sub(b" ", low)).strip())


_SERVER_VENDORS = (
    ("akamaighost", "akamai"),
    ("akamainetstorage", "akamai"),
    ("cloudflare", "cloudflare"),
    ("sucuri", "sucuri"),
    ("cloudfront", "cloudfront"),
    ("vercel", "vercel"),
)
_COOKIE_VENDORS = (
    ("datadome=", "datadome"),
    ("incap_ses_", "imperva"),
    ("visid_incap_", "imperva"),
    ("_px3=", "perimeterx"),
    ("_pxhd=", "perimeterx"),
    ("_abck=", "akamai"),
    ("ak_bmsc=", "akamai"),
    ("bm_sz=", "akamai"),
    ("aws-waf-token=", "aws-waf"),
    ("__cf_bm=", "cloudflare"),
)


def _header_vendor(hdrs: dict[str, list[str]]) -> str | None:
    """The bot-defence/CDN vendor the headers name, bot-specific vendors first."""
    if "x-datadome" in hdrs or "x-dd-b" in hdrs or "x-datadome-cid" in hdrs:
        return "datadome"
    if "x-iinfo" in hdrs or any("incapsula" in v or "imperva" in v for v in hdrs.get("x-cdn", ())):
        return "imperva"
    if "x-amzn-waf-action" in hdrs:
        return "aws-waf"
    if "akamai-grn" in hdrs or any(k.startswith("x-akamai") for k in hdrs):
        return "akamai"
    for value in hdrs.get("server", ()):
        for needle, vendor in _SERVER_VENDORS:
            if needle in value:
                return vendor
    cookies = hdrs.get("set-cookie")
    if cookies:
        joined = " ".join(cookies)
        for needle, vendor in _COOKIE_VENDORS:
            if needle in joined:
                return vendor
    if "cf-ray" in hdrs:
        return "cloudflare"
    if "x-sucuri-id" in hdrs:
        return "sucuri"
    if "x-amz-cf-id" in hdrs:
        return "cloudfront"
    if "x-vercel-id" in hdrs:
        return "vercel"
    return None


# --------------------------------------------------------------------------
# input coercion: every branch is defensive because the caller's objects come
# from arbitrary HTTP clients and a detector must never break a crawl.


def _coerce_status(status: object) -> int | None:
    if status is None or isinstance(status, bool):
        return None
    if isinstance(status, int):
        return status
    if isinstance(status, (bytes, bytearray)):
        status = bytes(status).decode("latin-1")
    if isinstance(status, str):
        m = _STATUS_RE.match(status)
        return int(m.group(1)) if m else None
    try:
        return int(status)  # type: ignore[call-overload]
    except Exception:
        return None


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    if value is None:
        return ""
    return str(value)


def _normalize_headers(headers: object) -> dict[str, list[str]]:
    """name (lowercase) -> list of lowercase values."""
    out: dict[str, list[str]] = {}
    if headers is None:
        return out
    try:
        if isinstance(headers, (str, bytes, bytearray)):
            items: object = (
                line.partition(":")[::2] for line in _text(headers).splitlines() if ":" in line
            )
        elif isinstance(headers, Mapping) or hasattr(headers, "items"):
            items = headers.items()  # type: ignore[union-attr]
        else:
            items = headers
        for item in items:  # type: ignore[union-attr]
            try:
                name, value = item
            except (TypeError, ValueError):
                continue
            key = _text(name).strip().lower()
            if not key:
                continue
            values = value if isinstance(value, (list, tuple)) else (value,)
            bucket = out.setdefault(key, [])
            for v in values:
                bucket.append(_text(v).strip().lower())
    except Exception:
        # A half-read header object still gives us what was read so far.
        pass
    return out


def _window(body: object, st: int | None, content_encoding: object) -> tuple[bytes, int]:
    """(lowercased window, total decoded body length).

    The window is the first PREFIX_BYTES bytes, plus -- for a longer body -- a
    newline and the last TAIL_BYTES bytes.  Returns no bytes at all for a
    large body under a non-challenge status, so the ordinary pages that make
    up most traffic cost a length check.
    """
    if body is None:
        return b"", 0
    try:
        if isinstance(body, (bytearray, memoryview)):
            body = bytes(memoryview(body).cast("B")) if content_encoding is not None else memoryview(body).cast("B")
        elif not isinstance(body, (bytes, str)):
            return b"", 0
        if content_encoding is not None and not isinstance(body, str):
            codings = [c for c in split_encodings(content_encoding) if c != "identity"]
            if codings:
                limit = DECODE_LIMIT if st in _SHAPE_STATUSES else LARGE_PAGE_BYTES + 1
                try:
                    body, _ = decode_body(bytes(body), codings, limit)
                except DecodeError:
                    # A caller that passed the header of an already-decoded body: use
                    # the body if it is plainly markup, else nothing (never the raw bytes).
                    if not bytes(body[:64]).lstrip()[:1] in (b"<", b"{"):
                        return b"", 0
        total = body.nbytes if isinstance(body, memoryview) else len(body)
        if total > LARGE_PAGE_BYTES and st not in _SHAPE_STATUSES:
            return b"", total
        if isinstance(body, str):
            # Slicing characters first bounds the encode cost; re-cut in bytes
            # because non-ASCII text grows when encoded.
            head = body[:PREFIX_BYTES].encode("utf-8", "replace")[:PREFIX_BYTES]
            if total <= PREFIX_BYTES:
                return head.lower(), total
            tail = body[max(PREFIX_BYTES, total - TAIL_BYTES):].encode("utf-8", "replace")[-TAIL_BYTES:]
        else:
            head = bytes(body[:PREFIX_BYTES])
            if total <= PREFIX_BYTES:
                return head.lower(), total
            tail = bytes(body[max(PREFIX_BYTES, total - TAIL_BYTES):])
        return head.lower() + b"\n" + tail.lower(), total
    except (TypeError, ValueError):
        # memoryview.cast refuses non-contiguous or multi-dimensional views.
        return b"", 0
