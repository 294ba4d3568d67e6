"""What `pip install logkit` gives a user, in real venvs built from a real wheel of this checkout.

- The wheel carries the top-level folders (filebeat/, prometheus/, grafana/, notebooks/,
  pipelines/) as logkit/data/<folder>, the licence, and nothing of the build-only files.
- The core install (no extra) pulls only structlog, orjson, python-json-logger and google-re2 (masking); emission works
  there and imports nothing else; the `logkit` command says in one line which extra it needs.
- With the `cli` extra only, the shipped configs come out of the installed package, and a
  command of a stage that is not installed names its extra (exit 2).

Needs PyPI (the venvs install the dependencies); scripts/matrix.sh leaves this module out (it
tests the package's shape, not the dependency versions).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SHIPPED = ["filebeat/django.yml", "filebeat/celery.yml", "filebeat/scrapy.yml",
           "prometheus/rules/logkit.rules.yml", "prometheus/rules/logkit.tests.yml",
           "grafana/dashboards/errors.json", "grafana/dashboards/celery-tasks.json",
           "grafana/dashboards/celery-workers.json", "grafana/dashboards/scrapy-domains.json",
           "grafana/provisioning/dashboards.yml", "notebooks/explore_demo.ipynb",
           "pipelines/logkit-default.json", "pipelines/logkit-route.json", "pipelines/ilm/logkit-logs.json",
           "alerts/default.yml", "lnav/logkit_log.json"]
CORE = {"logkit", "structlog", "orjson", "python-json-logger", "google-re2"}
#: Installed by venv itself, not by logkit.
VENV_TOOLS = {"pip", "setuptools", "wheel"}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)])
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("logkit-*.whl")
    return whl


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory, wheel) -> Path:
    """A clean venv with only `pip install logkit` (the wheel, no extra)."""
    d = tmp_path_factory.mktemp("core-venv")
    venv.create(d, with_pip=True)
    r = run([str(d / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)])
    assert r.returncode == 0, r.stderr
    return d


def installed(venv_dir: Path) -> set[str]:
    r = run([str(venv_dir / "bin" / "python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"])
    assert r.returncode == 0, r.stderr
    return {p["name"].lower().replace("_", "-") for p in json.loads(r.stdout)} - VENV_TOOLS


def test_wheel_ships_the_top_level_folders_as_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in SHIPPED:
        assert f"logkit/data/{rel}" in names, rel
    # Byte for byte the repository's files: the wheel is built from them, not from a second copy.
    with zipfile.ZipFile(wheel) as z:
        for rel in SHIPPED:
            top = rel.split("/")[0]
            src = ROOT / rel if top not in ("alerts", "lnav") else ROOT / "logkit" / "data" / rel
            assert z.read(f"logkit/data/{rel}") == src.read_bytes(), rel
    assert not any(n.startswith(("filebeat/", "grafana/", "prometheus/", "notebooks/", "pipelines/", "tests/"))
                   for n in names)
    assert not any("filebeat/build" in n or n.endswith("grafana/build.py") for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)


def test_wheel_metadata_core_and_extras(wheel):
    with zipfile.ZipFile(wheel) as z:
        meta = next(z.read(n).decode() for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    core = sorted({r.split("<")[0].split(">")[0].split("=")[0].split(";")[0].strip() for r in requires
                   if "extra ==" not in r})
    assert core == ["google-re2", "orjson", "python-json-logger", "structlog"]
    extras = {line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Provides-Extra:")}
    assert {"cli", "analyze", "ship", "metrics", "all"} <= extras
    assert "License: Apache-2.0" in meta or "License-Expression: Apache-2.0" in meta


def test_core_install_pulls_only_the_emission_dependencies(user_venv):
    assert installed(user_venv) == CORE


def test_core_install_emits_and_imports_nothing_else(user_venv, tmp_path):
    code = r"""
import json, logging, logging.config, sys
before = set(sys.modules)
import logkit
logging.config.dictConfig(logkit.logging_config("shop", "django", filename=sys.argv[1]))
logkit.get_logger("shop").info("order placed", **{"event.action": "order.placed"})
logging.getLogger("shop.views").warning("slow", extra={"url.domain": "example.com"})
logging.shutdown()
third = sorted({m.split(".")[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names))
print(json.dumps({"third_party": third, "version": logkit.__version__}))
"""
    log = tmp_path / "app.log"
    r = run([str(user_venv / "bin" / "python"), "-c", code, str(log)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert set(got["third_party"]) <= {"logkit", "structlog", "orjson", "pythonjsonlogger"}, got
    assert got["version"] == "0.1.0"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["message"] for e in events] == ["order placed", "slow"]
    assert events[0]["event"]["action"] == "order.placed" and events[1]["url"]["domain"] == "example.com"


def test_core_install_command_names_the_cli_extra(user_venv, tmp_path):
    r = run([str(user_venv / "bin" / "logkit"), "analyze", "x.log"], cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == "the logkit command needs the 'cli' extra: pip install 'logkit[cli]'"
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.fixture(scope="module")
def cli_venv(user_venv, wheel) -> Path:
    """The same venv plus the `cli` extra (click, rich): no stage extra."""
    r = run([str(user_venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             f"logkit[cli] @ {wheel.as_uri()}"])
    assert r.returncode == 0, r.stderr
    return user_venv


def test_cli_extra_brings_no_stage_package(cli_venv):
    got = installed(cli_venv)
    assert CORE | {"click", "rich"} <= got
    assert not got & {"duckdb", "elasticsearch", "prometheus-client", "pyyaml", "zstandard"}


# Whatever the arguments (valid or not), the missing extra is what the user hears about.
@pytest.mark.parametrize("argv, extra", [
    (["analyze", "app.log"], "analyze"), (["demo", "--out", "d"], "analyze"), (["alerts", "check", "x"], "analyze"),
    (["query", "select 1"], "analyze"), (["ship", "--once", "x"], "ship"), (["es", "setup"], "ship"),
    (["metrics", "serve"], "metrics"),
])
def test_a_stage_command_names_its_missing_extra(cli_venv, tmp_path, argv, extra):
    r = run([str(cli_venv / "bin" / "logkit"), *argv], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"logkit {argv[0]} needs the '{extra}' extra: pip install 'logkit[{extra}]'"
    assert r.stdout == ""


def test_help_lists_every_command_with_its_missing_extra(cli_venv):
    r = run([str(cli_venv / "bin" / "logkit"), "--help"])
    assert r.returncode == 0, r.stderr
    assert "analyze" in r.stdout and "(needs the 'analyze' extra" in r.stdout
    for name in ("filebeat", "prometheus", "grafana", "notebooks", "schema", "validate"):
        assert name in r.stdout
    v = run([str(cli_venv / "bin" / "logkit"), "--version"])
    assert v.returncode == 0 and "0.1.0" in v.stdout


def test_shipped_configs_come_out_of_the_installed_package(cli_venv, tmp_path):
    exe = str(cli_venv / "bin" / "logkit")
    r = run([exe, "filebeat", "config", "celery"], cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == (ROOT / "filebeat" / "celery.yml").read_text()
    r = run([exe, "prometheus", "rules", "--out", "prom"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "prom" / "logkit.rules.yml").read_bytes() == (ROOT / "prometheus/rules/logkit.rules.yml").read_bytes()
    r = run([exe, "grafana", "dashboards", "--out", "gf"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "gf" / "dashboards").iterdir()) == sorted(
        p.name for p in (ROOT / "grafana" / "dashboards").glob("*.json"))
    assert (tmp_path / "gf" / "provisioning" / "dashboards.yml").exists()
    r = run([exe, "notebooks", "--out", "nb"], cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "nb" / "explore_demo.ipynb").exists()
    # The installed package reads its own copy, not this checkout (the venv is elsewhere).
    code = "from logkit import data; print(data.path('pipelines/logkit-default.json'))"
    p = run([str(cli_venv / "bin" / "python"), "-c", code], cwd=tmp_path)
    assert p.returncode == 0 and "site-packages/logkit/data/pipelines" in p.stdout, p.stdout + p.stderr
    assert not p.stdout.startswith(str(ROOT) + os.sep + "pipelines")
