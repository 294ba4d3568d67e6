#!/usr/bin/env bash
# Creates (once) and updates the development venv in the cache: logkit in editable mode with
# every extra the tests and benchmarks use. Prints nothing on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOGKIT_CACHE=${LOGKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logkit-dev}
# LOGKIT_VENV: a venv of its own for a second work tree (an editable install points at one tree).
VENV=${LOGKIT_VENV:-$LOGKIT_CACHE/venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -e "$ROOT[all,test,bench]" >&2
