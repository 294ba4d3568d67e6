"""The Filebeat configs in filebeat/ run unchanged (settings through their environment variables)
with both real Filebeat builds — 7.17.29 and the 9.0 snapshot — against the Elasticsearch test
node set up by `logkit es setup`:

- `filebeat test config` accepts each of them;
- each ships logkit events (written by logkit's renderer; current and rotated file, a .gz that
  must be skipped, a line of the wrong type, a line that is not JSON) into
  logs-logkit.<service>-<namespace>: every event once, `_id` == `event.id`, `event.id` kept in
  `_source`, `@timestamp` from the line, the fields nested exactly as logkit's event (after
  dropping Filebeat's own fields: tests/support/es_compare.py); the wrong-typed event lands in the dead
  letter data stream with the reason; the non-JSON line is kept with error.message;
- the traps: the ndjson parser's `document_id` takes event.id out of `_source`; with
  fingerprint file identity (9.x) a file under 1 KiB is not read until it grows.

Every Filebeat runs under `timeout -k`, with its own --path.home/data/logs, and is stopped with
SIGTERM (then SIGKILL); documents are awaited by polling `_count`.
"""
from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from support.es_compare import compare, expected_documents, fetch_all
from logkit.emit import Renderer
from logkit.es import setup as les

ROOT = Path(__file__).resolve().parent.parent.parent
CONFIGS = {svc: ROOT / "filebeat" / f"{svc}.yml" for svc in ("django", "celery", "scrapy")}
BUILDS = {"7": ("LOGKIT_TEST_FILEBEAT_7", "7.17.29"), "9": ("LOGKIT_TEST_FILEBEAT_9", "9.0.0")}
T0 = 1_780_000_000.0


@pytest.fixture(params=sorted(BUILDS), ids=lambda v: f"filebeat{v}")
def filebeat(request) -> tuple[str, str]:
    var, version = BUILDS[request.param]
    path = os.environ.get(var, "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{var} is not set to a Filebeat binary: run the tests through scripts/test.sh "
                    f"(scripts/components/30-filebeat.sh builds them)", pytrace=False)
    return path, version


def _paths(tmp: Path) -> list[str]:
    args = []
    for name in ("home", "data", "logs"):
        (tmp / name).mkdir(exist_ok=True)
        args.append(f"--path.{name}={tmp / name}")
    return args


def _run(cmd: list[str], env: dict | None = None, secs: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["timeout", "-k", "5", str(secs), *cmd], capture_output=True, text=True,
                          timeout=secs + 15, stdin=subprocess.DEVNULL, env=env)


def _env(**values: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGKIT_")}
    env.update(values)
    return env


class Filebeat:
    """One Filebeat process on a config, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, binary: str, config: Path, tmp: Path, env: dict, secs: int = 180,
                 extra_args: tuple[str, ...] = ()):
        self.tmp = tmp
        self.out_path = tmp / "filebeat.out"
        self._out = self.out_path.open("w")
        # flush the queue quickly: the configs keep Filebeat's defaults (seconds of batching)
        self.proc = subprocess.Popen(
            ["timeout", "-k", "5", str(secs), binary, "-e", "-c", str(config), *_paths(tmp),
             "-E", "queue.mem.flush.timeout=0.2s", *extra_args],
            stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env)

    def log(self, tail: int = 6000) -> str:
        self._out.flush()
        return self.out_path.read_text(errors="replace")[-tail:]

    def wait_for(self, condition, timeout: float = 120) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if self.proc.poll() is not None:
                return condition()
            time.sleep(0.3)
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._out.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _count(client, index: str) -> int:
    if not client.indices.exists(index=index):
        return 0
    client.indices.refresh(index=index)
    return client.count(index=index)["count"]


# --- sample files written by logkit's renderer --------------------------------------------------
def _events(svc: str, start: float, n: int) -> list[bytes]:
    r = Renderer(f"{svc}-svc", svc, environment="test", version="1.2.3")
    lines = []
    for i in range(n):
        t = start + i * 0.5
        if svc == "django":
            fields = {"event.action": "http.request", "http.request.method": "GET",
                      "http.response.status_code": 200 if i % 4 else 500, "event.duration": 1_200_000 * (i + 1),
                      "django.route": "articles/<int:pk>/", "url.path": f"/articles/{i}/",
                      "client.ip": "198.51.100.7", "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)",
                      "trace.id": f"{i:032x}", "user.id": "42"}
            lines.append(r.render(f"GET /articles/{i}/ — é ✓", "info" if i % 4 else "error",
                                  "django.request", t, fields=fields))
        elif svc == "celery":
            action = ("task.sent", "task.started", "task.succeeded", "task.failed", "task.retried")[i % 5]
            fields = {"event.action": action, "celery.task.name": "crawl.fetch", "celery.task.id": f"task-{i}",
                      "celery.task.queue": "crawl", "celery.worker.hostname": "celery@w1",
                      "celery.task.retries": i % 3}
            if action in ("task.succeeded", "task.failed"):
                fields["celery.task.runtime"] = 0.25 * (i + 1)
            if action == "task.failed":
                fields["error.type"] = "TimeLimitExceeded"
            lines.append(r.render(f"{action} crawl.fetch", "error" if action == "task.failed" else "info",
                                  "celery.app.trace", t, fields=fields))
        else:
            if i % 3 == 2:
                fields = {"event.action": "captcha.detected", "url.full": f"https://shop.example/p/{i}",
                          "url.domain": "shop.example", "scrapy.challenge.vendor": "cloudflare",
                          "scrapy.challenge.signal": "title", "http.response.status_code": 403,
                          "scrapy.spider": "shop"}
            else:
                fields = {"event.action": "page.fetched", "url.full": f"https://shop.example/p/{i}",
                          "url.domain": "shop.example", "http.response.status_code": 200,
                          "event.duration": 350_000_000, "scrapy.spider": "shop",
                          "scrapy.stats": {"downloader/request_count": i}, "shop_sku": f"SKU-{i}"}
            lines.append(r.render(f"page {i}", "warning" if i % 3 == 2 else "info", "scrapy.core", t,
                                  fields=fields))
    return lines


def write_samples(d: Path, svc: str) -> dict:
    """app.log.1 (rotated), app.log (current, with a wrong-typed line and a non-JSON line) and
    app.log.2.gz (must be skipped). Returns what must arrive where."""
    rotated, current, old = _events(svc, T0, 6), _events(svc, T0 + 100, 8), _events(svc, T0 - 100, 3)
    bad_id = f"bad-type-{svc}"
    bad = orjson.dumps({"@timestamp": "2026-05-28T21:00:00.000Z", "log.level": "info", "message": "wrong type",
                        "ecs.version": "8.11.0", "event": {"id": bad_id, "dataset": f"logkit.{svc}"},
                        "http": {"response": {"status_code": "two hundred"}}})
    (d / "app.log.1").write_bytes(b"\n".join(rotated) + b"\n")
    (d / "app.log").write_bytes(b"\n".join(current[:4] + [bad, b"this line is not JSON"] + current[4:]) + b"\n")
    (d / "app.log.2.gz").write_bytes(gzip.compress(b"\n".join(old) + b"\n"))
    for name in ("app.log", "app.log.1"):
        assert (d / name).stat().st_size > 1024  # see the fingerprint trap below
    return {"expected": expected_documents(rotated + current), "bad_id": bad_id,
            "gz_ids": set(expected_documents(old))}


def _setup_namespace(es_client, es_index: str) -> str:
    ns = re.sub(r"[^a-z0-9]", "", es_index.replace("logkit-t-", ""))[:50]
    les.setup(es_client, ns, name=es_index, pattern=f"logs-logkit.*-{ns}", priority=250)
    return ns


# --- test config ---------------------------------------------------------------------------------
@pytest.mark.parametrize("svc", sorted(CONFIGS))
def test_config_check(filebeat, svc, tmp_path):
    binary, _ = filebeat
    cfg = CONFIGS[svc]
    assert not cfg.stat().st_mode & 0o022, f"{cfg} must not be group/world-writable (Filebeat refuses it)"
    r = _run([binary, "test", "config", "-c", str(cfg), *_paths(tmp_path)],
             env=_env(**{f"LOGKIT_{svc.upper()}_LOGS": str(tmp_path / "app.log*")}))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Config OK" in r.stdout


def test_config_check_does_not_check_inputs(filebeat, tmp_path):
    """Why the end-to-end runs exist: a misspelled parser passes `test config`."""
    binary, _ = filebeat
    bad = tmp_path / "bad.yml"
    bad.write_text(CONFIGS["scrapy"].read_text().replace("- ndjson:", "- ndjsonn:"))
    bad.chmod(0o600)
    r = _run([binary, "test", "config", "-c", str(bad), *_paths(tmp_path)])
    assert r.returncode == 0 and "Config OK" in r.stdout, r.stdout + r.stderr


# --- end to end ----------------------------------------------------------------------------------
@pytest.mark.es
@pytest.mark.slow
@pytest.mark.parametrize("svc", sorted(CONFIGS))
def test_ships_logkit_events(filebeat, svc, tmp_path, es_client, es_url, es_index):
    binary, version = filebeat
    ns = _setup_namespace(es_client, es_index)
    logs = tmp_path / "logs-in"
    logs.mkdir()
    sample = write_samples(logs, svc)
    expected = sample["expected"]
    stream = les.data_stream_name(f"logkit.{svc}", ns)
    dead = les.data_stream_name("logkit.dead_letter", ns)
    env = _env(**{f"LOGKIT_{svc.upper()}_LOGS": str(logs / "app.log*"), "LOGKIT_ES_URL": es_url,
                  "LOGKIT_NAMESPACE": ns})
    with Filebeat(binary, CONFIGS[svc], tmp_path, env) as fb:
        done = fb.wait_for(lambda: _count(es_client, stream) >= len(expected) + 1
                           and _count(es_client, dead) >= 1)
        log = fb.log()
    assert done, (f"{_count(es_client, stream)}/{len(expected) + 1} in {stream}, "
                  f"{_count(es_client, dead)}/1 in {dead}; filebeat {version}:\n{log}")

    docs = fetch_all(es_client, stream)
    events = {i: s for i, s in docs.items() if (s.get("event") or {}).get("id")}
    others = {i: s for i, s in docs.items() if i not in events}
    # every logkit event once, _id == event.id, event.id kept in _source
    assert sorted(events) == sorted(expected), log
    assert all(src["event"]["id"] == doc_id for doc_id, src in events.items())
    assert not set(events) & sample["gz_ids"]  # .gz excluded
    # @timestamp from the line, fields nested as logkit's, nothing else but Filebeat's own fields
    diff = compare(events, expected)
    assert diff.same, diff.report()
    some = next(iter(events.values()))
    assert some["agent"]["version"] == version and some["input"]["type"] == "filestream"
    assert "level" in some["log"] and "ecs" in some  # dotted keys expanded
    # the non-JSON line is kept, flagged, and gets the service's dataset
    assert len(others) == 1, others
    other = next(iter(others.values()))
    assert other["message"] == "this line is not JSON"
    assert other["error"]["type"] == "json" and "JSON" in other["error"]["message"]
    assert other["event"]["dataset"] == f"logkit.{svc}" and other["service"]["type"] == svc
    # the wrong-typed event went to the dead letter data stream, with the reason and its _id
    dl = fetch_all(es_client, dead)
    assert list(dl) == [sample["bad_id"]], dl
    entry = dl[sample["bad_id"]]
    assert str(entry["error"]["type"] if "error" in entry else entry["error.type"]) == "400"
    reason = entry["error"]["message"] if "error" in entry else entry["error.message"]
    assert "http.response.status_code" in reason
    assert "two hundred" in entry["message"]


@pytest.mark.es
@pytest.mark.slow
def test_document_id_trap(filebeat, tmp_path, es_client, es_url, es_index):
    """The ndjson parser's `document_id` sets _id but REMOVES event.id from the event: what the
    shipped configs avoid by copying event.id to @metadata._id in a processor instead."""
    binary, version = filebeat
    ns = _setup_namespace(es_client, es_index)
    logs = tmp_path / "logs-in"
    logs.mkdir()
    lines = _events("scrapy", T0, 6)
    (logs / "app.log").write_bytes(b"\n".join(lines) + b"\n")
    text = CONFIGS["scrapy"].read_text()
    text = re.sub(r"    processors:\n(?:      .*\n|            .*\n)+", "", text)  # no script processor
    text = text.replace("add_error_key: true\n", 'add_error_key: true\n          document_id: "event.id"\n')
    assert "document_id: \"event.id\"" in text and "script" not in text.split("output.elasticsearch")[0]
    cfg = tmp_path / "trap.yml"
    cfg.write_text(text)
    cfg.chmod(0o600)
    stream = les.data_stream_name("logkit.scrapy", ns)
    env = _env(LOGKIT_SCRAPY_LOGS=str(logs / "app.log*"), LOGKIT_ES_URL=es_url, LOGKIT_NAMESPACE=ns)
    with Filebeat(binary, cfg, tmp_path, env) as fb:
        done = fb.wait_for(lambda: _count(es_client, stream) >= len(lines))
        log = fb.log()
    assert done, log
    docs = fetch_all(es_client, stream)
    expected = expected_documents(lines)
    assert sorted(docs) == sorted(expected)  # _id is event.id ...
    assert all("id" not in (src.get("event") or {}) for src in docs.values())  # ... but it left _source
    diff = compare(docs, expected)
    assert {f for fields in diff.different.values() for f, _, _ in fields} == {"event.id"}


@pytest.mark.es
@pytest.mark.slow
def test_fingerprint_identity_skips_small_files(tmp_path, es_client, es_url, es_index):
    """9.x filestream with fingerprint file identity (the default from 9.0 on; opt-in in this
    snapshot) reads a file only once it holds 1 KiB (the fingerprint's length)."""
    binary = os.environ.get(BUILDS["9"][0], "")
    if not binary:
        pytest.fail(f"{BUILDS['9'][0]} is not set: run the tests through scripts/test.sh", pytrace=False)
    ns = _setup_namespace(es_client, es_index)
    logs = tmp_path / "logs-in"
    logs.mkdir()
    big = _events("celery", T0, 6)
    small = _events("celery", T0 + 50, 1)
    more = _events("celery", T0 + 60, 4)
    (logs / "app.log").write_bytes(b"\n".join(big) + b"\n")
    (logs / "small.log").write_bytes(small[0] + b"\n")
    assert (logs / "small.log").stat().st_size < 1024 < (logs / "app.log").stat().st_size
    text = CONFIGS["celery"].read_text().replace(
        "    prospector.scanner.exclude_files:",
        "    prospector.scanner.fingerprint.enabled: true\n"
        "    prospector.scanner.check_interval: 0.5s\n"
        "    file_identity.fingerprint: {}\n"
        "    prospector.scanner.exclude_files:")
    cfg = tmp_path / "fingerprint.yml"
    cfg.write_text(text)
    cfg.chmod(0o600)
    stream = les.data_stream_name("logkit.celery", ns)
    env = _env(LOGKIT_CELERY_LOGS=str(logs / "*.log"), LOGKIT_ES_URL=es_url, LOGKIT_NAMESPACE=ns)
    small_id = orjson.loads(small[0])["event"]["id"]
    # -d scanner: the scanner says at debug level why it skips a file
    with Filebeat(binary, cfg, tmp_path, env, extra_args=("-d", "scanner")) as fb:
        assert fb.wait_for(lambda: _count(es_client, stream) >= len(big)), fb.log()
        # the scanner has seen small.log several times over (check_interval 0.5s) and refused it
        assert fb.wait_for(lambda: "expected at least 1024 bytes for fingerprinting" in fb.log(10**6),
                           timeout=30), fb.log()
        assert small_id not in fetch_all(es_client, stream)
        with (logs / "small.log").open("ab") as f:  # grows past 1 KiB: now it is read, from the start
            f.write(b"\n".join(more) + b"\n")
        assert fb.wait_for(lambda: _count(es_client, stream) >= len(big) + 1 + len(more)), fb.log()
    assert set(fetch_all(es_client, stream)) == set(expected_documents(big + small + more))


@pytest.mark.es
@pytest.mark.slow
def test_copy_fields_to_metadata_id_needs_filebeat_8(filebeat, tmp_path, es_client, es_url, es_index):
    """Why the configs use a script processor: `copy_fields` to `@metadata._id` sets the id in
    the 9.0 build, but 7.17's copy_fields writes a literal `@metadata` object into the document
    (and the id is Elasticsearch's)."""
    binary, version = filebeat
    ns = _setup_namespace(es_client, es_index)
    logs = tmp_path / "logs-in"
    logs.mkdir()
    lines = _events("scrapy", T0, 4)
    (logs / "app.log").write_bytes(b"\n".join(lines) + b"\n")
    text = re.sub(r"    processors:\n(?:      .*\n|            .*\n)+",
                  '    processors:\n      - copy_fields:\n          fields: [{from: event.id, to: "@metadata._id"}]\n',
                  CONFIGS["scrapy"].read_text())
    assert "copy_fields" in text and "script" not in text
    cfg = tmp_path / "copy.yml"
    cfg.write_text(text)
    cfg.chmod(0o600)
    stream = les.data_stream_name("logkit.scrapy", ns)
    env = _env(LOGKIT_SCRAPY_LOGS=str(logs / "app.log*"), LOGKIT_ES_URL=es_url, LOGKIT_NAMESPACE=ns)
    with Filebeat(binary, cfg, tmp_path, env) as fb:
        done = fb.wait_for(lambda: _count(es_client, stream) >= len(lines))
        log = fb.log()
    assert done, log
    docs = fetch_all(es_client, stream)
    expected = expected_documents(lines)
    if version.startswith("7."):
        assert not set(docs) & set(expected)
        assert all(src["@metadata"]["_id"] == src["event"]["id"] for src in docs.values())
    else:
        assert sorted(docs) == sorted(expected)
        assert compare(docs, expected).same


@pytest.mark.es
@pytest.mark.slow
def test_filebeat_and_logkit_ship_store_the_same_documents(filebeat, tmp_path, es_client, es_url, es_index):
    """The two shipping paths agree: same _ids (event.id), same fields (Filebeat's own dropped)."""
    import sys

    binary, version = filebeat
    ns = _setup_namespace(es_client, es_index)
    logs = tmp_path / "logs-in"
    logs.mkdir()
    lines = _events("scrapy", T0, 40)
    (logs / "app.log").write_bytes(b"\n".join(lines) + b"\n")
    stream_fb = les.data_stream_name("logkit.scrapy", ns)
    env = _env(LOGKIT_SCRAPY_LOGS=str(logs / "app.log*"), LOGKIT_ES_URL=es_url, LOGKIT_NAMESPACE=ns)
    with Filebeat(binary, CONFIGS["scrapy"], tmp_path, env) as fb:
        done = fb.wait_for(lambda: _count(es_client, stream_fb) >= len(lines))
        log = fb.log()
    assert done, log
    # logkit ship, same file, into the same kind of data stream in a second namespace
    ns2 = ns[:40] + "ship"
    les.setup(es_client, ns2, name=es_index + "-ship", pattern=f"logs-logkit.*-{ns2}", priority=251)
    stream_ship = les.data_stream_name("logkit.scrapy", ns2)
    r = subprocess.run([sys.executable, "-m", "logkit", "ship", str(logs / "app.log"), "--es", es_url,
                        "--data-stream", stream_ship, "--registry", str(tmp_path / "reg.json"),
                        "--dead-letter", str(tmp_path / "dead.ndjson"), "--once"],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    via_filebeat, via_ship = fetch_all(es_client, stream_fb), fetch_all(es_client, stream_ship)
    assert len(via_ship) == len(lines) and sorted(via_filebeat) == sorted(via_ship)
    diff = compare(via_filebeat, via_ship)
    assert diff.same, f"filebeat {version} vs logkit ship:\n{diff.report()}"
