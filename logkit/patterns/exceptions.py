"""Grouping key and stack fingerprint of a Python exception."""
from __future__ import annotations

import hashlib
import re
import sysconfig

from .masking import mask

_FRAME_RE = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+, in (?P<func>\S+)', re.MULTILINE)


def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths.get("stdlib"), paths.get("platstdlib")}
    return tuple(d.replace("\\", "/").rstrip("/") + "/" for d in dirs if d)


_STDLIB = _stdlib_dirs()
# Frames of installed libraries or of any Python's standard library, wherever that Python
# lives (the trace may come from another machine, so the local prefix alone is not enough).
_LIBRARY_RE = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|\.?venv|\.tox)/"
    r"|(?:^|/)lib(?:64)?/python\d+(?:\.\d+)?/(?!site-packages|dist-packages)"
    r"|(?:^|/)Lib/(?!site-packages)"
    r"|^<frozen |^<string>$|^<stdin>$"
)


def is_library_frame(path: str) -> bool:
    path = path.replace("\\", "/")
    return bool(_LIBRARY_RE.search(path)) or path.startswith(_STDLIB)


def _frame_name(path: str, func: str) -> str:
    # The parent folder plus the file name: enough to tell apps/orders/views.py from
    # apps/users/views.py, and the same whatever directory the code is deployed in.
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:]) + ":" + func


def stack_fingerprint(stack_trace: str) -> str:
    """Short stable hash of the application's own frames in a Python traceback.

    Library frames (site-packages, dist-packages, the standard library) are left out, and
    line numbers are never used, so the fingerprint survives unrelated edits and library
    upgrades. A trace with no application frame at all is fingerprinted by its innermost
    frame, so that it still says where it was raised.
    """
    frames = [(m["path"], m["func"]) for m in _FRAME_RE.finditer(stack_trace or "")]
    app = [_frame_name(p, f) for p, f in frames if not is_library_frame(p)]
    if not app and frames:
        app = [_frame_name(*frames[-1])]
    return hashlib.blake2b("\n".join(app).encode("utf-8"), digest_size=6).hexdigest()


def exception_key(error_type: str, message: str, stack_trace: str = "") -> tuple[str, str]:
    """``(group key, stack fingerprint)`` of an exception.

    The key is the exception type and the masked message (``KeyError: '<*>'`` style), so
    the same failure with other ids, URLs or numbers lands in the same group.
    """
    first_line = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    key = f"{(error_type or '').strip()}: {mask(first_line)}".rstrip(": ").rstrip()
    return key, stack_fingerprint(stack_trace)
