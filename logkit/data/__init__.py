"""Every file logkit ships beside its code, reached through one accessor.

    from logkit import data
    data.path("filebeat/django.yml")          # a Path to the file
    data.files("grafana/dashboards", "*.json")

Two kinds of shipped data:

- files that live in the package itself (``logkit/data/lnav``, ``logkit/data/alerts``);
- the repository's top-level folders users and the design look for — ``filebeat/``,
  ``prometheus/``, ``grafana/``, ``notebooks/``, ``pipelines/``. They stay real folders in the
  repository (one copy); the wheel build (setup.py's ``build_py``) copies them into
  ``logkit/data/<folder>``. An editable install or a source checkout has no such copy, so the
  accessor falls back to the top-level folder of the checkout.
"""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
# logkit/data -> logkit -> the checkout root (only meaningful for a source tree / editable install).
_CHECKOUT = DATA_DIR.parent.parent

#: Top-level repository folders that the wheel ships as package data. setup.py reads this tuple
#: (and the patterns below) so the build and the accessor cannot disagree.
SHIPPED_FOLDERS: dict[str, tuple[str, ...]] = {
    "filebeat": ("*.yml",),
    "prometheus": ("rules/*.yml",),
    "grafana": ("dashboards/*.json", "provisioning/*.yml"),
    "notebooks": ("*.ipynb",),
    "pipelines": ("*.json", "ilm/*.json"),
}


class DataNotFound(FileNotFoundError):
    """A shipped file is missing: a broken install, or a name that logkit does not ship."""


def _root_for(top: str) -> Path:
    if top in SHIPPED_FOLDERS:
        installed = DATA_DIR / top
        if installed.is_dir():
            return installed
        checkout = _CHECKOUT / top
        if checkout.is_dir():
            return checkout
        raise DataNotFound(f"logkit's {top}/ folder is not installed (reinstall logkit: "
                           f"pip install --force-reinstall logkit)")
    return DATA_DIR / top


def path(name: str) -> Path:
    """The shipped file ``name`` ('filebeat/django.yml', 'alerts/default.yml', 'lnav/logkit_log.json')."""
    top, _, rest = name.strip("/").partition("/")
    if not top or ".." in Path(name).parts:
        raise ValueError(f"not a shipped data name: {name!r}")
    p = _root_for(top) / rest if rest else _root_for(top)
    if not p.exists():
        raise DataNotFound(f"logkit ships no {name!r}")
    return p


def files(folder: str, pattern: str = "*") -> list[Path]:
    """The shipped files under ``folder`` matching ``pattern``, sorted by name."""
    return sorted(p for p in path(folder).glob(pattern) if p.is_file())


def lnav_format_path() -> Path:
    """The lnav format file for logkit events (install with ``lnav -i PATH``)."""
    return path("lnav/logkit_log.json")


__all__ = ["DATA_DIR", "DataNotFound", "SHIPPED_FOLDERS", "files", "lnav_format_path", "path"]
