"""logkit files open as structured records in lnav, with the format file logkit ships."""
from __future__ import annotations

import shutil
import subprocess

import orjson

import logkit
from logkit.data import lnav_format_path
from support.env import require_env
from support.emit_support import configure


def lnav_sql(tmp_path, sql: str, *files) -> list[dict]:
    lnav = require_env("LOGKIT_TEST_LNAV")
    cfg = tmp_path / "cfg" / "formats" / "logkit"
    cfg.mkdir(parents=True)
    shutil.copy(lnav_format_path(), cfg)
    home = tmp_path / "home"
    home.mkdir()
    r = subprocess.run([lnav, "-n", "-I", str(tmp_path / "cfg"), "-c", ";" + sql, "-c", ":write-json-to -",
                        *map(str, files)], capture_output=True, text=True, timeout=60,
                       env={"HOME": str(home), "PATH": "/usr/bin:/bin", "TERM": "dumb"})
    # lnav exits 0 even when a command fails: the output is the check
    assert r.stdout.strip().startswith("["), f"lnav said: {r.stdout}\n{r.stderr}"
    return orjson.loads(r.stdout)


def test_lnav_format_validates(tmp_path):
    lnav = require_env("LOGKIT_TEST_LNAV")
    cfg = tmp_path / "cfg" / "formats" / "logkit"
    cfg.mkdir(parents=True)
    shutil.copy(lnav_format_path(), cfg)
    r = subprocess.run([lnav, "-I", str(tmp_path / "cfg"), "-C"], capture_output=True, text=True, timeout=60,
                       env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and "error" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr


def test_lnav_counts_parsed_fields(tmp_path):
    f = tmp_path / "app.log"
    configure(f, service="crawler", service_type="scrapy")
    log = logkit.get_logger("spider")
    for i in range(7):
        log.info("fetched %d", i, **{"event.action": "page.fetched", "url.domain": "a.com" if i % 2 else "b.com",
                                     "url.full": f"https://x/{i}", "http.response.status_code": 200 if i < 5 else 503})
    log.error("timed out", **{"event.action": "download.failed", "url.domain": "b.com", "url.full": "https://b.com",
                              "error.type": "TimeoutError"})
    rows = lnav_sql(tmp_path, 'SELECT "url/domain" AS domain, count(*) AS n, '
                              "sum(log_level = 'error') AS errors, sum(\"http/response/status_code\" >= 500) AS s5xx, "
                              'min("service/name") AS svc FROM logkit_log GROUP BY 1 ORDER BY 1', f)
    assert rows == [{"domain": "a.com", "n": 3, "errors": 0, "s5xx": 1, "svc": "crawler"},
                    {"domain": "b.com", "n": 5, "errors": 1, "s5xx": 1, "svc": "crawler"}]
