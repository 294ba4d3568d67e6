"""Proves the Filebeat builds of scripts/components/30-filebeat.sh: each binary runs, checks a
config, and ships NDJSON into the Elasticsearch test node.

Filebeat can hang on a bad input, so every run is under `timeout -k` and the end-to-end run is
stopped with SIGTERM, then killed. Each run gets its own --path.home/data/logs (otherwise it
reads its own .ndjson logs) and a config file of mode 0600 (Filebeat refuses group/world-writable
ones).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest


# (env var exported by 30-filebeat.sh, the version the binary reports)
BUILDS = {"7": ("LOGKIT_TEST_FILEBEAT_7", "7.17.29"), "9": ("LOGKIT_TEST_FILEBEAT_9", "9.0.0")}


@pytest.fixture(params=sorted(BUILDS), ids=lambda v: f"filebeat{v}")
def filebeat(request):
    var, version = BUILDS[request.param]
    path = os.environ.get(var, "")
    if not path:
        pytest.fail(f"{var} is not set: run the tests through scripts/test.sh (it builds Filebeat "
                    f"with scripts/components/30-filebeat.sh)", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{var}={path} is not an executable: run scripts/components/30-filebeat.sh "
                    f"install", pytrace=False)
    return path, version


def _paths(tmp_path: Path) -> list[str]:
    args = []
    for name in ("home", "data", "logs"):
        (tmp_path / name).mkdir(exist_ok=True)
        args.append(f"--path.{name}={tmp_path / name}")
    return args


def _write_config(tmp_path: Path, text: str) -> Path:
    cfg = tmp_path / "filebeat.yml"
    cfg.write_text(text)
    cfg.chmod(0o600)
    return cfg


def _run(cmd: list[str], secs: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["timeout", "-k", "5", str(secs), *cmd], capture_output=True, text=True,
                          timeout=secs + 15, stdin=subprocess.DEVNULL)


def _config(es_url: str, ndjson: Path, index: str) -> str:
    # 9.0 talks to the 8.19 node without output.elasticsearch.allow_older_versions; with the
    # template disabled, a custom index needs no setup.template.name/pattern
    return f"""\
filebeat.inputs:
  - type: filestream
    id: logkit-fbtest
    paths: [{json.dumps(str(ndjson))}]
    prospector.scanner.check_interval: 0.5s
    parsers:
      - ndjson:
          target: ""
          overwrite_keys: true
          expand_keys: true
          add_error_key: true
output.elasticsearch:
  hosts: [{json.dumps(es_url)}]
  index: {json.dumps(index)}
setup.ilm.enabled: false
setup.template.enabled: false
queue.mem.flush.timeout: 0.2s
logging.level: info
"""


def test_version(filebeat):
    path, version = filebeat
    r = _run([path, "version"], 30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"filebeat version {version} "), r.stdout


def test_config_check(filebeat, tmp_path):
    path, _version = filebeat
    es_url = "http://127.0.0.1:9"  # `test config` does not connect (`test output` would)
    ndjson = tmp_path / "in.ndjson"
    ndjson.write_text("{}\n")
    cfg = _write_config(tmp_path, _config(es_url, ndjson, "logkit-fbtest-config"))
    r = _run([path, "test", "config", "-c", str(cfg), *_paths(tmp_path)], 60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Config OK" in r.stdout

    broken = _write_config(tmp_path, "output.elasticsearch: [\n")
    r = _run([path, "test", "config", "-c", str(broken), *_paths(tmp_path)], 60)
    assert r.returncode != 0


@pytest.mark.es
@pytest.mark.slow
def test_ships_ndjson_into_elasticsearch(filebeat, tmp_path, es_url, es_client, es_index):
    path, version = filebeat
    index = f"{es_index}-fb{version.split('.')[0]}"
    n = 40
    ndjson = tmp_path / "events.ndjson"
    with ndjson.open("w") as f:
        for i in range(n):
            f.write(json.dumps({
                "@timestamp": f"2024-05-01T12:00:{i:02d}.123Z", "log.level": "info",
                "message": f"page fetched {i}", "ecs.version": "8.11.0",
                "event": {"action": "page.fetched", "id": f"evt-{i:04d}"},
                "url": {"domain": "example.com", "path": f"/item/{i}"},
            }) + "\n")
    assert ndjson.stat().st_size > 1024  # filestream's fingerprint identity needs >= 1 KiB
    cfg = _write_config(tmp_path, _config(es_url, ndjson, index))
    out = (tmp_path / "filebeat.out").open("w")
    proc = subprocess.Popen(
        ["timeout", "-k", "5", "120", path, "-e", "-c", str(cfg), *_paths(tmp_path)],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    count = 0
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if es_client.indices.exists(index=index):
                es_client.indices.refresh(index=index)
                count = es_client.count(index=index)["count"]
                if count >= n:
                    break
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        out.close()
    log = (tmp_path / "filebeat.out").read_text(errors="replace")[-4000:]
    assert count == n, f"{count}/{n} events in {index}; filebeat output:\n{log}"

    hit = es_client.search(index=index, query={"term": {"event.id.keyword": "evt-0007"}})["hits"]["hits"]
    assert len(hit) == 1, log
    src = hit[0]["_source"]
    assert src["@timestamp"] == "2024-05-01T12:00:07.123Z"  # kept thanks to overwrite_keys
    assert src["message"] == "page fetched 7"
    assert src["log"]["level"] == "info"  # expand_keys: dotted key -> nested object
    assert src["url"]["domain"] == "example.com"
    assert src["agent"]["version"] == version
    assert src["agent"]["type"] == "filebeat"
