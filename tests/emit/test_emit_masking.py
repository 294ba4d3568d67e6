"""Secrets masking on the shapes real applications log, on both emission paths.

The corpus (tests/fixtures/adversarial/secrets.jsonl) plants each secret kind in a template; every
case is logged in several placements (message, free-text field, exception message and traceback,
``%s``/``%r`` of a dict in the arguments, bytes message, ``KeyError({...})``) through stdlib
logging and through structlog, and no part of any secret may reach the file. The property tests
write a fresh set the same way from random keys, shapes and values.
"""
from __future__ import annotations

import json
import logging
import sys
import types
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import logkit
from logkit.emit import Renderer
from logkit.emit.rules import update as rules_update
from logkit.emit.sanitize import MASK, Sanitizer, mask_text

from support.emit_support import configure, read_events

CORPUS = [json.loads(line) for line in
          (Path(__file__).parent.parent / "fixtures" / "adversarial" / "secrets.jsonl").read_text().splitlines() if line]


def _parts(secret: str) -> list[str]:
    return secret.split()


def _log_everywhere(case: dict, path: str) -> None:
    text, key, secret = case["template"], case.get("key"), case["secret"].split()[0]
    if path == "stdlib":
        log = logging.getLogger("corpus")
        log.info(text)
        log.info("detail", extra={"detail": text, "event.reason": text})
        log.info(text.encode())  # bytes message
        try:
            raise RuntimeError(f"upstream said: {text}")
        except RuntimeError:
            log.exception("call failed")
        if key:
            log.info("params %s", {key: secret, "user": "bob"})
            log.info("params %r", {key: secret})
            try:
                raise KeyError({key: secret})
            except KeyError:
                log.exception("lookup failed")
    else:
        slog = logkit.get_logger("corpus")
        slog.info(text)
        slog.info("detail", detail=text, **{"event.reason": text})
        slog.info(text.encode())
        try:
            raise RuntimeError(f"upstream said: {text}")
        except RuntimeError:
            slog.exception("call failed")
        if key:
            slog.info("params %s", {key: secret, "user": "bob"})
            slog.info("params", params={key: secret})
            try:
                raise KeyError({key: secret})
            except KeyError:
                slog.exception("lookup failed")


@pytest.mark.parametrize("path", ["stdlib", "structlog"])
def test_no_planted_secret_of_the_corpus_survives(tmp_path, path):
    log_file = tmp_path / "app.log"
    configure(log_file)
    placed = 0
    survivors = []
    for case in CORPUS:
        before = log_file.stat().st_size if log_file.exists() else 0
        _log_everywhere(case, path)
        for h in logging.getLogger().handlers:
            h.flush()
        new = log_file.read_bytes()[before:]
        n = new.count(b"\n")
        placed += n
        for part in _parts(case["secret"]):
            if part.encode() in new:
                survivors.append((case["kind"], case["template"][:80]))
    assert placed >= 4 * len(CORPUS)
    assert survivors == [], f"{len(survivors)} of {placed} placements leaked: {survivors[:10]}"
    assert len({c["kind"] for c in CORPUS}) >= 80


def test_masking_keeps_what_helps_debugging():
    assert mask_text("postgres://app:pw/with@odd:chars@db.internal:5432/app") == \
        f"postgres://app:{MASK}@db.internal:5432/app"
    assert mask_text("login failed password: hunter2hunter2 user=bob") == f"login failed password: {MASK} user=bob"
    assert mask_text("{'user': 'bob', 'password': 'x1y2z3w4'}") == f"{{'user': 'bob', 'password': '{MASK}'}}"
    assert mask_text("Set-Cookie: sessionid=abc123def456; Path=/") == f"Set-Cookie: {MASK}"
    assert mask_text("https://a.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abcdef0123") == \
        f"https://a.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={MASK}"


@pytest.mark.parametrize("text", [
    "tests PASSED: 5, author: bob, compass=north", "at 12:30:45 mail bob@example.com",
    "GET https://h.example.com:8080/p/@handle 200", "user=bob id=5 status: ok", "https://medium.com/@some.one",
    "shipping=3 design: new bypass=false", "keyboard layout: us", "tokens_used=512 session_count=3",
    "GET /api/v1/items?page=2&sort=asc 200 in 12ms", "Traceback (most recent call last):\n  File \"x.py\", line 3",
])
def test_ordinary_text_is_left_alone(text):
    assert mask_text(text) == text


def test_any_mapping_is_masked_by_key_not_stringified(tmp_path):
    from django.conf import settings as dj
    if not dj.configured:
        dj.configure()
    from django.http.request import HttpHeaders
    from requests.structures import CaseInsensitiveDict

    class Plain:  # a Mapping by registration only
        def __init__(self, d):
            self.d = d

    import collections.abc
    collections.abc.Mapping.register(Plain)
    Plain.items = lambda self: self.d.items()
    Plain.__len__ = lambda self: len(self.d)

    meta = {"HTTP_AUTHORIZATION": "Bearer djangotok123456", "HTTP_X_API_KEY": "djangoapikey1234",
            "HTTP_COOKIE": "sessionid=djcookie12345", "HTTP_ACCEPT": "text/html"}
    values = {
        "django": HttpHeaders(meta),
        "requests": CaseInsensitiveDict({"Authorization": "Basic cmVxdWVzdHM6cHc=", "Ocp-Apim-Subscription-Key": "ocpkey12345678",
                                         "Accept": "text/html"}),
        "proxy": types.MappingProxyType({"password": "proxypw1234567", "user": "bob"}),
        "registered": Plain({"x-auth-token": "plaintok123456", "host": "h"}),
    }
    secrets = ["djangotok123456", "djangoapikey1234", "djcookie12345", "cmVxdWVzdHM6cHc", "ocpkey12345678",
               "proxypw1234567", "plaintok123456"]
    log_file = tmp_path / "m.log"
    configure(log_file)
    for name, v in values.items():
        logging.getLogger("m").info("request", extra={"headers": v, "http.request.headers": v})
        logkit.get_logger("m").info("request", headers=v, nested={"req": {"headers": v}})
    raw = log_file.read_bytes()
    for s in secrets:
        assert s.encode() not in raw, s
    evs = read_events(log_file)
    assert evs[0]["extra"]["headers"]["Accept"] == "text/html"  # a dict, masked by key, not a string
    assert evs[0]["extra"]["headers"]["Authorization"] == MASK
    assert evs[2]["extra"]["headers"]["Ocp-Apim-Subscription-Key"] == MASK


def test_secret_in_a_traceback_source_line(tmp_path):
    mod = tmp_path / "badmod.py"
    mod.write_text('def connect():\n    password = "srcline-pw-123456"\n    db_url = "postgres://svc:srcpw987654@db/x"\n'
                   '    raise ConnectionError("refused")\n')
    sys.path.insert(0, str(tmp_path))
    try:
        import badmod
        log_file = tmp_path / "t.log"
        configure(log_file)
        for log in (logging.getLogger("t"), logkit.get_logger("t")):
            try:
                badmod.connect()
            except ConnectionError:
                log.exception("db down")
        raw = log_file.read_bytes()
        assert b"srcline-pw-123456" not in raw and b"srcpw987654" not in raw
        assert raw.count(b"raise ConnectionError") == 2  # the traceback itself is kept
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("badmod", None)


def test_vendored_rules_match_the_gitleaks_config():
    shipped = json.loads((Path(rules_update.__file__).parent / "gitleaks_rules.json").read_text())
    assert shipped == rules_update.selection()
    assert len(shipped) > 150
    readme = (Path(rules_update.__file__).parent / "README.md").read_text()
    assert "MIT" in readme and "b58d3f102cf3a2c84cb7f923d05c25c9b1aed84b" in readme


# --- a fresh set, written the same way --------------------------------------------------------
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
secret = st.text(alphabet=_ALNUM, min_size=12, max_size=32)
words = st.sampled_from(["password", "passwd", "pass", "passphrase", "secret", "token", "api_key", "apikey",
                         "access_token", "auth_token", "mfa_code", "otp", "pin", "session_id", "csrftoken",
                         "subscription_key", "private_key", "client_secret", "signature", "credentials"])
prefixes = st.sampled_from(["", "db_", "DATABASE_", "x-", "X-", "aws_", "app.", "stripe", "my"])
suffixes = st.sampled_from(["", ".value", "_hash", "-v2", ""])
cases = st.sampled_from(["lower", "upper", "title", "camel"])


def _spell(prefix: str, word: str, suffix: str, case: str) -> str:
    if case == "upper":
        word = word.upper()
    elif case == "title":
        word = "-".join(p.title() for p in word.replace("_", "-").split("-"))
    elif case == "camel" and prefix and prefix[-1].isalpha():
        word = word[0].upper() + word[1:]
    if prefix and prefix[-1].isalpha() and word[0].islower() and word not in ("password", "secret", "token"):
        prefix += "_"  # words run together in lower case ("mypin") are only read as a key for the long words
    return prefix + word + suffix


SHAPES = ["{k}={s}", "{k}: {s}", '{k}="{s}"', "{k} = '{s}'", '{{"{k}": "{s}"}}', "{{'{k}': '{s}'}}",
          "[parameters: {{'{k}': '{s}', 'id': 5}}]", "export {k}='{s}'", "{k}:{s}", "{k} => {s}"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=secret, word=words, prefix=prefixes, suffix=suffixes, case=cases, shape=st.sampled_from(SHAPES),
       before=st.text(alphabet=_ALNUM + " ,;", max_size=20), after=st.text(alphabet=_ALNUM + " ,;", max_size=20))
def test_fresh_key_value_secrets_do_not_survive(s, word, prefix, suffix, case, shape, before, after):
    key = _spell(prefix, word, suffix, case)
    assume(s not in before + after)
    text = before + " " + shape.format(k=key, s=s) + " " + after
    assert s not in mask_text(text), (key, text)
    san = Sanitizer()
    assert san.is_secret_key(key), key
    assert s not in orjson.dumps(san.value({"outer": {key: s}})).decode()


tok = lambda n, al=_ALNUM: st.text(alphabet=al, min_size=n, max_size=n)  # noqa: E731
providers = st.one_of(
    tok(36).map(lambda x: "ghp_" + x), tok(82, _ALNUM + "_").map(lambda x: "github_pat_" + x),
    st.tuples(tok(12, "0123456789"), tok(12, "0123456789"), tok(24)).map(lambda t: "xoxb-%s-%s-%s" % t),
    st.tuples(tok(8, _ALNUM[26:]), tok(8, _ALNUM[26:]), tok(24)).map(
        lambda t: "https://hooks.slack.com/services/T%s/B%s/%s" % t),
    tok(32).map(lambda x: "whsec_" + x), tok(24).map(lambda x: "sk_live_" + x),
    tok(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567").map(lambda x: "AKIA" + x),
    st.tuples(tok(20), tok(30)).map(lambda t: "eyJhbGciOiJIUzI1NiJ9.eyJ%s.%s" % t),
    tok(20, _ALNUM + "-_").map(lambda x: "glpat-" + x), tok(35, _ALNUM + "-_").map(lambda x: "AIza" + x),
    tok(36, "abcdefghijklmnopqrstuvwxyz0123456789").map(lambda x: "npm_" + x),
)
contexts = st.sampled_from(["using {t}", "token {t} expired", "url={t}", "'{t}'", "\"key\": \"{t}\"", "[{t}]",
                            "Authorization: Bearer {t}", "{t}\n", "POST {t} 200"])


@settings(max_examples=300, deadline=None)
@given(t=providers, ctx=contexts)
def test_fresh_provider_tokens_do_not_survive(t, ctx):
    assert t not in mask_text(ctx.format(t=t))


@settings(max_examples=200, deadline=None)
@given(user=st.text(alphabet=_ALNUM, min_size=1, max_size=10),
       pw=st.lists(st.text(alphabet=_ALNUM, min_size=6, max_size=12), min_size=1, max_size=3),
       seps=st.lists(st.sampled_from(["/", "@", ":"]), min_size=2, max_size=2),
       scheme=st.sampled_from(["postgres://", "http://", "redis://", "amqp://", ""]),
       host=st.sampled_from(["db.example.com", "10.0.0.1", "proxy.internal:3128", "localhost"]))
def test_fresh_url_credentials_do_not_survive(user, pw, seps, scheme, host):
    assume(not any(user in p or p in user for p in pw))
    password = pw[0] + "".join(seps[i % 2] + p for i, p in enumerate(pw[1:]))
    if not scheme and "@" in password:
        password = password.replace("@", "/")  # without a scheme an @ ends the password by definition
    msg = orjson.loads(Renderer("p").render(f"connecting to {scheme}{user}:{password}@{host}/x", "info", "l", 0.0))["message"]
    for p in pw:
        assert p not in msg, msg


@settings(max_examples=150, deadline=None)
@given(s=secret, word=words, case=cases, kind=st.sampled_from(["dict", "proxy", "requests", "nested-list"]))
def test_fresh_secrets_in_any_mapping_are_masked_by_key(s, word, case, kind):
    from requests.structures import CaseInsensitiveDict

    key = _spell("x-" if case == "title" else "", word, "", case)
    inner = {key: s, "accept": "text/html"}
    v = {"dict": inner, "proxy": types.MappingProxyType(inner), "requests": CaseInsensitiveDict(inner),
         "nested-list": [{"headers": CaseInsensitiveDict(inner)}]}[kind]
    ev = orjson.loads(Renderer("p").render("m", "info", "l", 0.0, {"ctx": v}))
    assert s not in json.dumps(ev)
    assert "text/html" in json.dumps(ev)  # walked, not replaced wholesale
