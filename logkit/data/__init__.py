"""Files logkit ships beside its code (lnav format, ...)."""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).parent


def lnav_format_path() -> Path:
    """The lnav format file for logkit events (install with ``lnav -i PATH``)."""
    return DATA_DIR / "lnav" / "logkit_log.json"

__all__ = ["DATA_DIR", "lnav_format_path"]
