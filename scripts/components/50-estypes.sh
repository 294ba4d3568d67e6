#!/usr/bin/env bash
# Elastic's published API types for checking the JSON bodies logkit sends to Elasticsearch
# (templates, ingest pipelines, lifecycle policy) where the test node cannot run them:
# npm `@elastic/elasticsearch@8` (its `estypes`) and `typescript@5`, installed once into
# $LOGKIT_CACHE/estypes (outside the work tree). tests/es/test_estypes.py writes a .ts file that
# types each body and runs `tsc --noEmit --strict` on it. `start` starts nothing: it prints
# LOGKIT_TEST_ESTYPES for the tests.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/lib.sh"

LOGKIT_CACHE=${LOGKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logkit-dev}
DEST=$LOGKIT_CACHE/estypes
# Major versions are pinned; the exact versions npm resolved are written to $DEST/versions.txt.
PACKAGES=("@elastic/elasticsearch@8" "typescript@5")

et_log() { printf '[50-estypes %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

installed() {
  [ -f "$DEST/.installed" ] && [ "$(cat "$DEST/.installed")" = "${PACKAGES[*]}" ] \
    && [ -x "$DEST/node_modules/.bin/tsc" ] \
    && [ -f "$DEST/node_modules/@elastic/elasticsearch/lib/api/types.d.ts" ]
}

case "${1:-}" in
  install)
    command -v npm >/dev/null || apt_ensure nodejs npm
    mkdir -p "$DEST"
    exec 9>"$DEST/.install.lock"; flock 9
    if installed; then exit 0; fi
    et_log "npm install ${PACKAGES[*]} into $DEST"
    rm -f "$DEST/.installed"
    [ -f "$DEST/package.json" ] || echo '{"name":"logkit-estypes","private":true}' > "$DEST/package.json"
    npm install --prefix "$DEST" --no-audit --no-fund --loglevel=error "${PACKAGES[@]}" >&2
    for p in @elastic/elasticsearch typescript; do
      echo "$p $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$DEST/node_modules/$p/package.json")"
    done > "$DEST/versions.txt"
    echo "${PACKAGES[*]}" > "$DEST/.installed"
    et_log "installed: $(tr '\n' ' ' < "$DEST/versions.txt")"
    ;;
  start)
    installed || { echo "50-estypes: $DEST is not installed: run '$0 install'" >&2; exit 1; }
    echo "LOGKIT_TEST_ESTYPES=$DEST" ;;
  stop) : ;;
  *) echo "usage: $0 install|start RUN_DIR|stop RUN_DIR" >&2; exit 2 ;;
esac
