#!/usr/bin/env bash
# Elastic's published API types for checking the JSON bodies logkit sends to Elasticsearch
# (templates, ingest pipelines, lifecycle policy) where the test node cannot run them:
# npm `@elastic/elasticsearch@8` (its `estypes`) and `typescript@5`, installed once into
# $LOGKIT_CACHE/estypes (outside the work tree). tests/es/test_estypes.py writes a .ts file that
# types each body and runs `tsc --noEmit --strict` on it.
# Grafana's published dashboard types likewise: npm `@grafana/schema@13` (its `Dashboard` and the
# per-panel `Options`) with `typescript@5` in $LOGKIT_CACHE/grafana-schema, used by
# tests/metrics/test_grafana_schema.py. `start` starts nothing: it prints LOGKIT_TEST_ESTYPES and
# LOGKIT_TEST_GRAFANA_SCHEMA for the tests.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/lib.sh"

LOGKIT_CACHE=${LOGKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logkit-dev}
DEST=$LOGKIT_CACHE/estypes
# Major versions are pinned; the exact versions npm resolved are written to $DEST/versions.txt.
PACKAGES=("@elastic/elasticsearch@8" "typescript@5")

GF_DEST=$LOGKIT_CACHE/grafana-schema
GF_PACKAGES=("@grafana/schema@13" "typescript@5")

gf_installed() {
  [ -f "$GF_DEST/.installed" ] && [ "$(cat "$GF_DEST/.installed")" = "${GF_PACKAGES[*]}" ] \
    && [ -x "$GF_DEST/node_modules/.bin/tsc" ] \
    && [ -f "$GF_DEST/node_modules/@grafana/schema/dist/types/index.d.ts" ]
}

gf_install() {
  mkdir -p "$GF_DEST"
  exec 7>"$GF_DEST/.install.lock"; flock 7
  if gf_installed; then return 0; fi
  et_log "npm install ${GF_PACKAGES[*]} into $GF_DEST"
  rm -f "$GF_DEST/.installed"
  [ -f "$GF_DEST/package.json" ] || echo '{"name":"logkit-grafana-schema","private":true}' > "$GF_DEST/package.json"
  npm install --prefix "$GF_DEST" --no-audit --no-fund --loglevel=error "${GF_PACKAGES[@]}" >&2
  for p in @grafana/schema typescript; do
    echo "$p $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$GF_DEST/node_modules/$p/package.json")"
  done > "$GF_DEST/versions.txt"
  echo "${GF_PACKAGES[*]}" > "$GF_DEST/.installed"
  et_log "installed: $(tr '\n' ' ' < "$GF_DEST/versions.txt")"
}

et_log() { printf '[50-estypes %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

installed() {
  [ -f "$DEST/.installed" ] && [ "$(cat "$DEST/.installed")" = "${PACKAGES[*]}" ] \
    && [ -x "$DEST/node_modules/.bin/tsc" ] \
    && [ -f "$DEST/node_modules/@elastic/elasticsearch/lib/api/types.d.ts" ]
}

case "${1:-}" in
  install)
    command -v npm >/dev/null || apt_ensure nodejs npm
    gf_install
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
    gf_installed || { echo "50-estypes: $GF_DEST is not installed: run '$0 install'" >&2; exit 1; }
    echo "LOGKIT_TEST_ESTYPES=$DEST"
    echo "LOGKIT_TEST_GRAFANA_SCHEMA=$GF_DEST" ;;
  stop) : ;;
  *) echo "usage: $0 install|start RUN_DIR|stop RUN_DIR" >&2; exit 2 ;;
esac
