"""Template miner, masking, exception keys, pipe mode and the Loghub benchmark script."""
from __future__ import annotations

import importlib.util
import io
import json
import random
import string
from pathlib import Path

import pytest
from click.testing import CliRunner

from logkit.patterns import TemplateMiner, exception_key, mask, pipe, stack_fingerprint, template_id

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "loghub_mini"


# -- masking -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message, expected",
    [
        ("retry 3 of 5", "retry <*> of <*>"),
        ("took -12 steps, ratio 0.75", "took <*> steps, ratio <*>"),
        ("bad pointer 0x7ffde3a1 freed", "bad pointer <*> freed"),
        ("task 3f2b1c9e-0d4a-4b8e-9f1a-2c3d4e5f6a7b failed", "task <*> failed"),
        ("peer 192.168.1.20:8080 closed", "peer <*> closed"),
        ("peer 2001:db8:85a3::8a2e:370:7334 closed", "peer <*> closed"),
        ("peer fe80::1 closed", "peer <*> closed"),
        ("GET https://shop.example.com/item?id=7&x=y failed", "GET <*> failed"),
        ("cannot open /var/log/app/worker.log", "cannot open <*>"),
        ("cannot open C:\\logs\\app.log now", "cannot open <*> now"),
        ("mail to jane.doe+x@example.co.uk bounced", "mail to <*> bounced"),
        ("login failed for 'John Smith' today", "login failed for <*> today"),
        ('title "Big Sale 2024" parsed', "title <*> parsed"),
        ("request took 12ms", "request took <*>"),
        ("body is 3.5KB", "body is <*>"),
        ("body is 3.5 KB long", "body is <*> long"),
        ("sent 2034 bytes (1.98 KB) ok", "sent <*> ok"),
        ("lifetime <1 sec", "lifetime <*>"),
        ("at 17:41:44 ok", "at <*> ok"),
        ("started Sat Jun 18 02:08:11 2005 here", "started <*> here"),
        ("uid=0 euid=0 ruser= tty=ssh", "uid=<*> euid=<*> ruser= tty=ssh"),
        ("delete blk_1 blk_2 blk_3 blk_4 now", "delete <*> now"),
    ],
)
def test_mask_kinds(message, expected):
    assert mask(message) == expected


def test_mask_collapses_runs_whatever_the_whitespace():
    assert mask("ids 1  2\t3 done") == "ids <*> done"


# The token-by-token masker must give exactly `mask(message).split()`: tokens that take
# part in a match across whitespace (sizes, month dates, ISO date + time, quoted strings),
# digit normalization (0x keeps its 0) and the run-collapse across tokens.
_TRICKY = [
    "Jun", "Sat", "Sat,", "Dec", "Decision", "18", "18,", "2005", "02:08:11", "KB", "KB)", "bytes",
    "sec", "sec,", "s", "ms.", "(1.98", "(1.98KB)", "<1", "12ms", "3.5", "0x1F", "0x1f-a", "1x5",
    "10.0.0.1:80", "/10.0.0.1", "1.2.3.4.5", "2005-06-18", "'John", "Smith'", "'a'", '"Big', 'Sale"',
    "it's", "'", "ssh2", "md5", "<*>", "uid=0", "audit(1122.4:7):", "foo::bar", "fe80::1",
    "user@example.com", "http://x.y/1", "/var/log/a1", "C:\\x\\1", "blk_-123", "x", "word", "-12",
    "second(s).", "00:02", "MB", "µs", "days", "é1", "\u0661\u0662",
]


def test_token_masker_equals_mask():
    from logkit.patterns.masking import TokenMasker

    rng = random.Random(3)
    masker = TokenMasker(max_entries=16)  # tiny: the caches are cleared again and again
    for _ in range(4000):
        words = [rng.choice(_TRICKY) + (rng.choice(_TRICKY) if rng.random() < 0.2 else "")
                 for _ in range(rng.randint(0, 8))]
        message = "".join(w + rng.choice([" "] * 8 + ["  ", "\t"]) for w in words).rstrip()
        assert masker.tokens(message) == tuple(mask(message).split()), message
    for cache in (masker.tok, masker.raw, masker.kinds, masker.regions):
        assert len(cache) <= 16


def test_caches_change_nothing():
    rng = random.Random(8)
    lines = [
        rng.choice([
            f"proxy{rng.randint(1, 9)}.example.com:{rng.randint(1, 65535)} close, {rng.randint(0, 10**6)} bytes "
            f"({rng.randint(1, 999)}.{rng.randint(0, 9)} KB) sent, lifetime <1 sec",
            f"Failed password for {rng.choice(['root', 'bob', 'x1'])} from 10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)} "
            f"port {rng.randint(1, 65535)} ssh2",
            f"session {rng.randint(1, 10**9):x} opened at Jun {rng.randint(1, 28)} 02:0{rng.randint(0, 9)}:11 2005",
            f"job 0x{rng.randint(1, 10**6):x} moved from {rng.choice(['QUEUED', 'RUNNING'])} to DONE",
        ])
        for _ in range(3000)
    ]
    reference = TemplateMiner()
    expected_stream = [reference.add(x) for x in lines]
    expected = [(t.id, t.template, t.count, t.example) for t in reference.templates()]
    expected_final = [reference.final_id(x) for x in lines]
    tiny = TemplateMiner()
    tiny._cache_max = 8
    tiny._masker.max_entries = 16
    assert [tiny.add(x) for x in lines] == expected_stream
    assert [(t.id, t.template, t.count, t.example) for t in tiny.templates()] == expected
    assert len(tiny._by_text) <= 8 and len(tiny._alias) <= 8
    # mine() takes the same path as add() and gives the same final ids.
    assert [tid for tid, _ in TemplateMiner().mine(lines)] == expected_final
    assert len(set(expected_final)) >= 4


def test_mask_keeps_constants():
    # Plain words, a protocol name with one digit and a C++ scope are not variables.
    assert mask("Failed password for root port 22 ssh2") == "Failed password for root port <*> ssh2"
    assert mask("std::vector grew") == "std::vector grew"
    assert mask("Couldn't authenticate user 'admin'") == "Couldn't authenticate user 'admin'"


# -- ids, determinism, known templates -----------------------------------------------------

LINES = [
    "user alice logged in from 10.0.0.1",
    "user bob logged in from 10.0.0.2",
    "disk full on /var/log",
    "user carol logged in from 10.0.0.3",
    "user dave logged in from 10.0.0.4",
    "user erin logged in from 10.0.0.5",
    "session opened for user root",
    "session closed for user root",
    "session opened for user root",
    "session closed for user root",
    "task 17 moved from QUEUED to RUNNING",
    "task 18 moved from RUNNING to DONE",
    "task 19 moved from QUEUED to RUNNING",
]


def _final(lines, miner=None):
    miner = miner or TemplateMiner()
    return miner, miner.mine(lines)


def test_same_template_same_id_across_instances_and_dump_load():
    _, a = _final(LINES)
    _, b = _final(LINES)
    assert a == b
    ids = {t for t, _ in a}
    # Ids are the hash of the template text: recomputable anywhere.
    for tid, text in a:
        assert tid == template_id(text)
    assert a[0][1] == "user <*> logged in from <*>"
    # Enumerated constants split, a variable with many values does not.
    assert a[6][0] != a[7][0]
    assert a[10][0] != a[11][0] and a[10][0] == a[12][0]
    assert len(ids) == 6

    first, _ = _final(LINES)
    second = TemplateMiner()
    second.load(first.dump())
    _, again = _final(LINES, second)
    assert again == a
    assert not any(t.is_new for t in second.templates())


def test_deterministic_output():
    rng = random.Random(5)
    lines = [f"job {rng.randint(1, 10**6)} on host-{rng.choice('abc')} took {rng.randint(1, 99)}ms"
             for _ in range(300)] + LINES
    runs = []
    for _ in range(2):
        m = TemplateMiner()
        stream = [m.add(x).template_id for x in lines]
        runs.append((stream, m.mine([]), [(t.id, t.template, t.count, t.example) for t in m.templates()]))
    assert runs[0] == runs[1]


def test_streaming_ids_and_is_new():
    m = TemplateMiner()
    first = m.add("worker 1 started")
    again = m.add("worker 2 started")
    assert first.is_new and not again.is_new
    assert first.template_id == again.template_id
    assert first.template == "worker <*> started"


def test_new_pattern_comparison_against_known_set():
    yesterday = TemplateMiner()
    yesterday.mine(LINES)
    known = yesterday.dump()
    today = TemplateMiner()
    today.load(known)
    today.mine(LINES + ["payment gateway timeout after 30s", "payment gateway timeout after 7s"])
    new = [t for t in today.templates() if t.is_new]
    assert [t.template for t in new] == ["payment gateway timeout after <*>"]
    assert {t.id for t in today.templates() if not t.is_new} <= {tid for tid, _ in known}


def test_generalized_template_keeps_known_id():
    day1 = TemplateMiner()
    day1.mine(["cache miss for key alpha"] * 5)
    (old_id, old_text), = day1.dump()
    assert old_text == "cache miss for key alpha"
    day2 = TemplateMiner()
    day2.load([(old_id, old_text), ("zzzzzzzzzzzz", "cache miss for key beta")])
    keys = ["alpha"] * 3 + ["beta", "gamma", "delta", "epsilon", "zeta"]
    result = day2.mine([f"cache miss for key {k}" for k in keys])
    # The text widened, the id stayed: the known template with most messages wins.
    assert {r for r in result} == {(old_id, "cache miss for key <*>")}
    # A known wider template absorbs narrower final ones with its own id and text.
    day3 = TemplateMiner()
    day3.load([("abcabcabcabc", "cache miss for key <*>")])
    assert set(day3.mine(["cache miss for key alpha"] * 2)) == {("abcabcabcabc", "cache miss for key <*>")}


def test_bounded_memory_with_distinct_random_messages():
    rng = random.Random(11)
    cap = 200
    m = TemplateMiner(max_templates=cap, max_sequences=2000, max_tokens=8)

    def word():
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))

    for _ in range(50_000):
        m.add(" ".join(word() for _ in range(rng.randint(1, 12))))
    assert len(m._clusters) <= cap + 1
    assert len(m._seqs) <= 2000
    # The speed-up caches are bounded too.
    assert len(m._by_text) <= m._cache_max and len(m._alias) <= m._cache_max
    for cache in (m._masker.tok, m._masker.raw, m._masker.kinds, m._masker.regions):
        assert len(cache) <= m._masker.max_entries
    assert all(len(s) <= 8 for s in m._seqs)
    templates = m.templates()
    assert len(templates) <= cap
    assert sum(t.count for t in templates) == 50_000


# -- exceptions ------------------------------------------------------------------------------

TRACE = """Traceback (most recent call last):
  File "/srv/app/shop/tasks.py", line {a}, in fetch_page
    resp = client.get(url)
  File "/usr/lib/python3.11/site-packages/requests/api.py", line 73, in get
    return request("get", url, params=params, **kwargs)
  File "/usr/lib/python3.11/http/client.py", line 1286, in request
    self._send_request(method, url, body, headers, encode_chunked)
  File "/srv/app/shop/parsers.py", line {b}, in parse_price
    raise ValueError(f"bad price {{raw!r}}")
ValueError: bad price '12,99 EUR'
"""


def test_exception_key_groups_by_type_and_message_template():
    k1, _ = exception_key("ValueError", "bad price '12,99 EUR' for item 42", TRACE.format(a=10, b=20))
    k2, _ = exception_key("ValueError", "bad price '7 EUR' for item 1043", TRACE.format(a=10, b=20))
    k3, _ = exception_key("KeyError", "bad price '7 EUR' for item 1043", TRACE.format(a=10, b=20))
    assert k1 == k2 == "ValueError: bad price <*> for item <*>"
    assert k3 != k1


def test_stack_fingerprint_ignores_line_numbers_and_library_frames():
    base = stack_fingerprint(TRACE.format(a=10, b=20))
    assert stack_fingerprint(TRACE.format(a=99, b=250)) == base
    # Another library in between, or another library version: same fingerprint.
    other_lib = TRACE.format(a=10, b=20).replace(
        "site-packages/requests/api.py\", line 73, in get",
        "dist-packages/httpx/_client.py\", line 900, in send",
    )
    assert stack_fingerprint(other_lib) == base
    # Another application function: another fingerprint.
    assert stack_fingerprint(TRACE.format(a=10, b=20).replace("parse_price", "parse_title")) != base
    assert stack_fingerprint(TRACE.format(a=10, b=20).replace("shop/tasks.py", "shop/jobs.py")) != base
    # Deployed elsewhere: the folder above the package does not matter.
    assert stack_fingerprint(TRACE.format(a=1, b=2).replace("/srv/app/", "/home/ci/build/")) == base
    assert len(base) == 12


# -- pipe mode -------------------------------------------------------------------------------


def test_pipe_function_streaming_and_final():
    out = io.StringIO()
    pipe([line + "\n" for line in LINES], out, streaming=True)
    streamed = out.getvalue().splitlines()
    out = io.StringIO()
    pipe([line + "\r\n" for line in LINES], out, streaming=False)
    final = out.getvalue().splitlines()
    assert len(streamed) == len(final) == len(LINES)
    assert final == [tid for tid, _ in TemplateMiner().mine(LINES)]


def test_cli_pipe_modes_and_table():
    from logkit.cli import main

    runner = CliRunner()
    data = "".join(line + "\n" for line in LINES)
    streamed = runner.invoke(main, ["patterns", "--pipe"], input=data)
    final = runner.invoke(main, ["patterns", "--pipe", "--final"], input=data)
    assert streamed.exit_code == 0, streamed.output
    assert final.exit_code == 0, final.output
    ids = final.output.split()
    assert len(ids) == len(LINES) == len(streamed.output.split())
    assert ids[0] == ids[1] == ids[3] and ids[0] != ids[2]
    assert ids == [tid for tid, _ in TemplateMiner().mine(LINES)]

    table = runner.invoke(main, ["patterns", "--text", "--format", "json"], input=data + "evil \x1b[31mred\x1b[0m 1\n")
    assert table.exit_code == 0, table.output
    assert "user <*> logged in from <*>" in table.output
    assert "\x1b" not in table.output
    bad = runner.invoke(main, ["patterns", "--final"], input=data)
    assert bad.exit_code == 2


# -- benchmark script ------------------------------------------------------------------------


def _bench():
    spec = importlib.util.spec_from_file_location("loghub_patterns", ROOT / "benchmarks" / "loghub_patterns.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_script_on_fixture(tmp_path, capsys):
    bench = _bench()
    assert bench.grouping_accuracy([1, 1, 2, 3], ["a", "a", "b", "b"]) == 0.5
    results = {}
    for labels in ("corrected", "original"):
        out = tmp_path / f"{labels}.json"
        assert bench.main(["--data", str(FIXTURE), "--repeat", "1", "--labels", labels, "--json", str(out)]) == 0
        results[labels] = json.loads(out.read_text())
    table = capsys.readouterr().out
    assert "| Crawler |" in table and "| WebShop |" in table and "**average**" in table
    corrected = {r["system"]: r for r in results["corrected"]["systems"]}
    original = {r["system"]: r for r in results["original"]["systems"]}
    assert corrected["Crawler"]["labels"].endswith("_structured_corrected.csv")
    assert corrected["WebShop"]["labels"].endswith("_structured.csv")
    assert original["Crawler"]["labels"].endswith("_structured.csv")
    # WebShop has a user-name column with three values in four lines: the miner takes
    # so few values for an enumerated constant (the known weakness, docs/patterns.md).
    assert 0.85 <= original["WebShop"]["logkit"]["ga"] < 1.0
    # The corrected Crawler labels join two messages of different lengths: GA drops.
    assert corrected["Crawler"]["logkit"]["ga"] < original["Crawler"]["logkit"]["ga"]
    assert corrected["WebShop"]["logkit"]["ga"] == original["WebShop"]["logkit"]["ga"]
    for r in corrected.values():
        for miner in ("logkit", "drain3_default"):
            assert 0.0 <= r[miner]["ga"] <= 1.0 and r[miner]["msgs_per_s"] > 0
        assert "drain3_benchmark" not in r  # no published settings for invented systems


def test_benchmark_script_missing_data(tmp_path, capsys):
    assert _bench().main(["--data", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err


def test_miner_sequences_equal_mask_with_every_cache_path():
    # Repeated messages with kept digits (`ssh2`) use the kept-digit key, sensitive tokens
    # the windowed key path; tiny caches are cleared again and again.
    from logkit.patterns.miner import _truncate

    rng = random.Random(21)
    pool = []
    for _ in range(300):
        words = [rng.choice(_TRICKY) + (rng.choice(_TRICKY) if rng.random() < 0.2 else "")
                 for _ in range(rng.randint(1, 8))]
        pool.append("".join(w + rng.choice([" "] * 10 + ["  ", "\t"]) for w in words).rstrip())
    for cache_max, entries in ((8, 16), (20_000, 20_000)):
        m = TemplateMiner()
        m._cache_max = cache_max
        m._masker.max_entries = entries
        for _ in range(3000):
            message = rng.choice(pool)
            message = "".join(str(rng.randint(0, 9)) if c.isdigit() else c for c in message)
            _, seq, _ = m._add(message)
            assert seq.tokens == _truncate(tuple(mask(message).split()), m.max_tokens), message


def test_token_shortcuts_equal_regex():
    from logkit.patterns.masking import is_plain_word, mask_token, sensitivity

    rng = random.Random(4)
    tokens = list(_TRICKY)
    for _ in range(20_000):
        tokens.append("".join(rng.choice("ab1.:-/xKsJun0f9_B") for _ in range(rng.randint(1, 14))))
        tokens.append(".".join(str(rng.randint(0, 1500)) for _ in range(rng.randint(3, 5)))
                      + rng.choice(["", f":{rng.randint(0, 999_999)}", ":"]))
        tokens.append(rng.choice(["", "/", "-", "s-", "a"])
                      + rng.choice(["abcdef12-1234-1234-1234-123456789012", "x.y", "a1.b", "s.x",
                                    "Jun.x", "2005-06-18.x", "KB", "June", "secs", "a_1"])
                      + rng.choice(["", f":{rng.randint(0, 999_999)}", ":"]))
    for tok in tokens:
        assert mask_token(tok) == mask(tok), tok
        if is_plain_word(tok):
            assert sensitivity(tok) == "", tok


# -- closed sets of words: what splits and what merges in the final pass ----------------------


def test_http_request_line_keeps_its_method():
    assert mask('10.1.1.1 "GET /v2/a1b2/servers/detail HTTP/1.1" status: 200') == \
        '<*> "GET <*> HTTP/<*>" status: <*>'
    # Other quoted strings with whitespace are still one variable.
    assert mask('title "Get 2 items now" parsed') == "title <*> parsed"
    lines = [f'10.1.1.{i % 7} "{verb} /v2/{i:x}/servers HTTP/1.1" status: 200 len: {i * 13} time: 0.{i}'
             for i, verb in enumerate(["GET"] * 30 + ["POST"] * 6 + ["DELETE"] * 3)]
    ids = [tid for tid, _ in TemplateMiner().mine(lines)]
    assert len(set(ids[:30])) == len(set(ids[30:36])) == len(set(ids[36:])) == 1
    assert len(set(ids)) == 3


def test_recurring_alphabetic_states_split_but_names_with_one_offs_do_not():
    rng = random.Random(2)
    states = ["Started"] * 20 + ["Paused"] * 20 + ["Resumed"] * 40 + ["Stopped"] * 20
    rng.shuffle(states)
    lines = [f"[instance: {rng.getrandbits(64):x}] VM {s} (Lifecycle Event)" for s in states]
    final = TemplateMiner().mine(lines)
    assert {t for _, t in final} == {f"[instance: <*>] VM {s} (Lifecycle Event)" for s in set(states)}
    # Five user names, one of them seen once: a variable, one template.
    users = ["cyrus"] * 9 + ["news"] * 9 + ["test"] * 7 + ["games"] * 3 + ["root"]
    final = TemplateMiner().mine([f"session closed for user {u}" for u in users])
    assert {t for _, t in final} == {"session closed for user <*>"}
    # Every name recurs but one dominates (a sample of user names): still a variable.
    users = ["root"] * 40 + ["uucp"] * 3 + ["ftp"] * 2 + ["git"] * 2 + ["mysql"] * 2
    final = TemplateMiner().mine([f"Failed password for {u} from 10.0.0.{i % 9} port {i} ssh2"
                                  for i, u in enumerate(users)])
    assert {t for _, t in final} == {"Failed password for <*> from <*> port <*> ssh2"}


def test_boolean_values_are_variables_even_with_two_values():
    lines = [f"updateClipping isOverlap:{'true' if i % 3 else 'false'}, getTopPadding={i}" for i in range(30)]
    lines += [f"shouldBlockLocation ret:{'true' if i % 5 == 0 else 'false'}" for i in range(30)]
    final = TemplateMiner().mine(lines)
    assert {t for _, t in final} == {"updateClipping <*> getTopPadding=<*>", "shouldBlockLocation <*>"}
    # Plain two-valued words still split (start/stop events).
    final = TemplateMiner().mine([f"service {w} succeeded" for w in ["startup"] * 5 + ["shutdown"] * 3])
    assert len({tid for tid, _ in final}) == 2


def test_benchmark_script_scores_a_heldout_set_separately(tmp_path, capsys):
    tune, held = tmp_path / "tune", tmp_path / "held"
    tune.mkdir()
    held.mkdir()
    (tune / "Crawler").symlink_to(FIXTURE / "Crawler")
    (held / "WebShop").symlink_to(FIXTURE / "WebShop")
    out = tmp_path / "r.json"
    bench = _bench()
    assert bench.main(["--data", str(tune), "--heldout", str(held), "--repeat", "1", "--no-drain3",
                       "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Tuning set" in text and "Held-out set" in text
    doc = json.loads(out.read_text())
    assert [r["system"] for r in doc["sets"]["tuning"]["systems"]] == ["Crawler"]
    assert [r["system"] for r in doc["sets"]["heldout"]["systems"]] == ["WebShop"]
    assert 0.0 <= doc["sets"]["heldout"]["average"]["logkit"]["streaming_ga"] <= 1.0
    # A missing held-out folder is said, on stderr and in the JSON, not skipped silently.
    assert bench.main(["--data", str(tune), "--heldout", str(tmp_path / "nope"), "--repeat", "1",
                       "--no-drain3", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "MISSING" in captured.err and "MISSING" in captured.out
    assert "MISSING" in json.loads(out.read_text())["heldout_note"]
    # The same system in both sets is an error.
    (held / "Crawler").symlink_to(FIXTURE / "Crawler")
    assert bench.main(["--data", str(tune), "--heldout", str(held), "--no-drain3"]) == 2


def test_streaming_ids_stay_stable_when_the_template_widens():
    m = TemplateMiner()
    first = m.add("cache miss for key users")
    widened = m.add("cache miss for key orders")
    assert widened.template_id == first.template_id and widened.template == "cache miss for key <*>"
    assert m.add("cache miss for key users").template_id == first.template_id
    # A message sharing less than the online similarity starts its own cluster.
    other = m.add("cache flushed by admin users")
    assert other.is_new and other.template_id != first.template_id
    # Re-seeded with yesterday's templates, a live tail gives yesterday's ids at once.
    today = TemplateMiner()
    today.load(m.dump())
    final_id = m.templates()[0].id
    assert today.add("cache miss for key carts").template_id == final_id
