"""Write the shipped configs out of an installed logkit (the library side of `logkit filebeat`,
`logkit prometheus`, `logkit grafana` and `logkit notebooks`)."""
from __future__ import annotations

import os
from pathlib import Path

from . import files, path

FILEBEAT_SERVICES = ("django", "celery", "scrapy")


class ExportError(Exception):
    """The files could not be written (existing files without overwrite, unwritable folder)."""


def filebeat_config(service: str) -> str:
    """The Filebeat configuration for one kind of service (django, celery or scrapy)."""
    if service not in FILEBEAT_SERVICES:
        raise ValueError(f"no Filebeat config for {service!r}: one of {', '.join(FILEBEAT_SERVICES)}")
    return path(f"filebeat/{service}.yml").read_text(encoding="utf-8")


def prometheus_rules() -> dict[str, str]:
    """The Prometheus rule pack and its promtool unit tests: file name -> text."""
    return {p.name: p.read_text(encoding="utf-8") for p in files("prometheus/rules", "*.yml")}


def grafana_dashboards() -> dict[str, str]:
    """The Grafana dashboards (dashboards/NAME.json) and the provisioning file
    (provisioning/dashboards.yml): relative path -> text."""
    out = {f"dashboards/{p.name}": p.read_text(encoding="utf-8") for p in files("grafana/dashboards", "*.json")}
    out.update({f"provisioning/{p.name}": p.read_text(encoding="utf-8")
                for p in files("grafana/provisioning", "*.yml")})
    return out


def notebooks() -> dict[str, str]:
    """The Jupyter notebooks: file name -> text."""
    return {p.name: p.read_text(encoding="utf-8") for p in files("notebooks", "*.ipynb")}


def write_files(contents: dict[str, str], out_dir: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Write ``contents`` (relative path -> text) under ``out_dir``; all or nothing about
    existing files: without ``overwrite`` none is written when any exists with other content."""
    root = Path(out_dir)
    targets = {root / rel: text for rel, text in contents.items()}
    if not overwrite:
        clash = [str(t) for t, text in targets.items()
                 if t.exists() and (not t.is_file() or t.read_text(encoding="utf-8", errors="replace") != text)]
        if clash:
            raise ExportError(f"{clash[0]} exists and differs"
                              + (f" (and {len(clash) - 1} more)" if len(clash) > 1 else "")
                              + ": pass --force to overwrite")
    written = []
    try:
        for t, text in targets.items():
            t.parent.mkdir(parents=True, exist_ok=True)
            tmp = t.with_name(f".{t.name}.tmp{os.getpid()}")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, t)
            written.append(t)
    except OSError as e:
        raise ExportError(f"cannot write {e.filename or out_dir}: {e.strerror or e}") from None
    return written
