"""Packaging inside the development venv: the one data accessor, the commands that write the
shipped configs out, self-contained help texts, the version from metadata, and the extras map
of the command line agreeing with pyproject.toml. (Real venvs from a real wheel:
tests/core/test_packaging_install.py.)"""
from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import logkit
from logkit import data
from logkit.cli import COMMANDS, main
from logkit.cli._extras import COMMAND_EXTRA, EXTRA_INCLUDES, EXTRA_MODULES, extra_for, missing_extra_message
from logkit.data import export

ROOT = Path(__file__).resolve().parent.parent.parent


def test_accessor_reaches_every_shipped_folder_and_the_package_files():
    for folder, patterns in data.SHIPPED_FOLDERS.items():
        assert (ROOT / folder).is_dir() and not (ROOT / folder).is_symlink(), folder
        for pattern in patterns:
            repo = sorted(p.relative_to(ROOT / folder) for p in (ROOT / folder).glob(pattern))
            assert repo, (folder, pattern)
            for rel in repo:
                assert data.path(f"{folder}/{rel}").read_bytes() == (ROOT / folder / rel).read_bytes()
    assert data.path("alerts/default.yml").is_file()
    assert data.lnav_format_path() == data.path("lnav/logkit_log.json")
    assert [p.name for p in data.files("grafana/dashboards", "*.json")] == sorted(
        p.name for p in (ROOT / "grafana" / "dashboards").glob("*.json"))


def test_no_second_copy_of_a_shipped_folder_in_the_repository():
    for folder in data.SHIPPED_FOLDERS:
        assert not (ROOT / "logkit" / "data" / folder).exists(), f"logkit/data/{folder} duplicates {folder}/"


@pytest.mark.parametrize("name", ["filebeat/nginx.yml", "nothing/here", "../pyproject.toml", ""])
def test_accessor_refuses_what_logkit_does_not_ship(name):
    with pytest.raises((data.DataNotFound, ValueError)):
        data.path(name)


def test_every_reader_of_shipped_data_uses_the_accessor():
    from logkit.alert.rules import default_pack_path
    from logkit.es import setup as les
    assert Path(default_pack_path()) == data.path("alerts/default.yml")
    assert les.PIPELINES_DIR == data.path("pipelines") or "LOGKIT_PIPELINES_DIR" in __import__("os").environ
    # No module builds a path to shipped data by hand any more.
    offenders = []
    for py in (ROOT / "logkit").rglob("*.py"):
        text = py.read_text(encoding="utf-8")
        if re.search(r"""["'](pack|pipelines|lnav|filebeat|grafana|prometheus|notebooks)["']\s*[,)]""", text) \
                and "os.path.join" in text and py.parent.name != "data":
            offenders.append(str(py.relative_to(ROOT)))
    assert not offenders


@pytest.mark.parametrize("service", export.FILEBEAT_SERVICES)
def test_filebeat_config_command(service, tmp_path):
    r = CliRunner().invoke(main, ["filebeat", "config", service])
    assert r.exit_code == 0 and r.output == (ROOT / "filebeat" / f"{service}.yml").read_text()
    out = tmp_path / "fb" / f"{service}.yml"
    r = CliRunner().invoke(main, ["filebeat", "config", service, "--out", str(out)])
    assert r.exit_code == 0 and out.read_bytes() == (ROOT / "filebeat" / f"{service}.yml").read_bytes()


def test_filebeat_config_rejects_an_unknown_service():
    r = CliRunner().invoke(main, ["filebeat", "config", "nginx"])
    assert r.exit_code == 2 and "nginx" in r.output


def test_prometheus_rules_command(tmp_path):
    r = CliRunner().invoke(main, ["prometheus", "rules"])
    assert r.exit_code == 0 and r.output == (ROOT / "prometheus/rules/logkit.rules.yml").read_text()
    r = CliRunner().invoke(main, ["prometheus", "rules", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logkit.rules.yml", "logkit.tests.yml"]


def test_grafana_dashboards_command_and_overwrite_protection(tmp_path):
    r = CliRunner().invoke(main, ["grafana", "dashboards", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted([f"dashboards/{p.name}" for p in (ROOT / "grafana/dashboards").glob("*.json")]
                             + ["provisioning/dashboards.yml"])
    # Same content again: nothing to refuse.
    assert CliRunner().invoke(main, ["grafana", "dashboards", "--out", str(tmp_path)]).exit_code == 0
    edited = tmp_path / "dashboards" / "errors.json"
    edited.write_text("{}")
    r = CliRunner().invoke(main, ["grafana", "dashboards", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "errors.json exists and differs" in r.output and "--force" in r.output
    assert edited.read_text() == "{}"          # all or nothing: nothing written
    r = CliRunner().invoke(main, ["grafana", "dashboards", "--out", str(tmp_path), "--force"])
    assert r.exit_code == 0 and edited.read_bytes() == (ROOT / "grafana/dashboards/errors.json").read_bytes()


def test_grafana_dashboards_needs_out():
    r = CliRunner().invoke(main, ["grafana", "dashboards"])
    assert r.exit_code == 2 and "--out" in r.output


def test_notebooks_command_and_unwritable_folder(tmp_path):
    r = CliRunner().invoke(main, ["notebooks", "--out", str(tmp_path / "nb")])
    assert r.exit_code == 0 and (tmp_path / "nb" / "explore_demo.ipynb").read_bytes() == \
        (ROOT / "notebooks/explore_demo.ipynb").read_bytes()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = CliRunner().invoke(main, ["notebooks", "--out", str(blocker / "sub")])
    assert r.exit_code == 2 and r.output.startswith("error: cannot write") and "Traceback" not in r.output


def _walk(cmd: click.Command, path: tuple[str, ...] = ()):
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            yield from _walk(cmd.get_command(ctx, name), path + (name,))


def test_help_texts_are_self_contained():
    """A pip user has no docs/ folder: no help text may send them there."""
    seen = []
    for path, cmd in _walk(main):
        r = CliRunner().invoke(main, [*path, "--help"], terminal_width=200)
        assert r.exit_code == 0, (path, r.output)
        assert not re.search(r"docs/|\w\.md\b", r.output), (path, r.output)
        seen.append(" ".join(path))
    assert "alerts" in seen and "grafana dashboards" in seen and "filebeat config" in seen


def test_version_is_read_from_the_package_metadata():
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1)
    assert logkit.__version__ == md.version("logkit") == declared
    assert "__version__ =" not in (ROOT / "logkit" / "__init__.py").read_text()
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and declared in r.output


def _requires_by_extra() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for req in md.requires("logkit") or []:
        name = re.match(r"[A-Za-z0-9_.\-]+", req).group(0).lower()
        m = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
        out.setdefault(m.group(1) if m else "", set()).add(name)
    return out


def test_extras_map_of_the_cli_agrees_with_pyproject():
    req = _requires_by_extra()
    # google-re2: linear-time matching of the vendored gitleaks token rules, used by masking.
    assert req[""] == {"structlog", "orjson", "python-json-logger", "google-re2"}
    dist_of = {"click": "click", "rich": "rich", "duckdb": "duckdb", "yaml": "pyyaml", "zstandard": "zstandard",
               "pytz": "pytz", "elasticsearch": "elasticsearch", "prometheus_client": "prometheus-client"}
    for extra, modules in EXTRA_MODULES.items():
        dists = {dist_of[m] for m in modules if m in dist_of}
        assert dists <= req[extra], (extra, dists, req[extra])
        # An extra that includes another one says so with a `logkit[...]` self-reference.
        assert bool(EXTRA_INCLUDES[extra]) == ("logkit" in req[extra]), extra
    assert {"cli", "analyze", "ship", "metrics", "all"} <= set(req)
    assert set(COMMAND_EXTRA) == set(COMMANDS), "every command needs an entry in COMMAND_EXTRA"


def test_nothing_is_missing_in_the_full_venv():
    from logkit.cli._extras import missing_extra
    assert {c: missing_extra(c) for c in COMMANDS} == {c: None for c in COMMANDS}


def test_extra_naming_rules():
    assert extra_for("analyze", "duckdb") == "analyze"
    assert extra_for("analyze", "click") == "analyze"          # one install fixes everything
    assert extra_for("analyze", "elasticsearch") == "ship"     # analyze --es
    assert extra_for("metrics", "duckdb") == "metrics"
    assert extra_for("schema", "duckdb") == "analyze"
    assert extra_for("analyze", "not_a_dependency") is None    # a real bug is not masked
    assert extra_for("analyze", None) is None
    assert missing_extra_message("analyze", "analyze") == \
        "logkit analyze needs the 'analyze' extra: pip install 'logkit[analyze]'"
