"""Environment the tests get from scripts/test.sh (ports and URLs of the real components)."""
from __future__ import annotations

import os

import pytest


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through scripts/test.sh, which starts the real "
                    f"components (or start the component by hand: see scripts/components/).")
    return value
