#!/usr/bin/env bash
# Filebeat binaries for the tests, built from beats' Go module with the machine's Go:
#   filebeat/build/v7        -> github.com/elastic/beats/v7 v7.17.29          (reports 7.17.29)
#   filebeat/build/snapshot  -> a main-branch pseudo-version of Oct 2024      (reports 9.0.0)
# Each directory is a tiny Go module (go.mod with beats' replace block, committed go.sum).
# Binaries go to $LOGKIT_CACHE/filebeat/<module version>/filebeat, the Go module and build
# caches to $LOGKIT_CACHE/go/ (about 1.1 GB downloaded; ~1-1.5 min of compiling per version).
# `start` starts nothing: it prints the binaries' paths for the tests.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/lib.sh"

LOGKIT_CACHE=${LOGKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logkit-dev}
FB_CACHE=$LOGKIT_CACHE/filebeat
BUILDS=(v7 snapshot)   # directories under filebeat/build/, in LOGKIT_TEST_FILEBEAT_7/_9 order

fb_log() { printf '[30-filebeat %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# module_version DIR: the beats version DIR requires (read from its go.mod, no go command needed)
module_version() {
  sed -n 's|^require github.com/elastic/beats/v7 \(v[^ ]*\).*|\1|p' "$ROOT/filebeat/build/$1/go.mod"
}

binary_path() { echo "$FB_CACHE/$(module_version "$1")/filebeat"; }

go_env() {
  export GOMODCACHE=${LOGKIT_GOMODCACHE:-$LOGKIT_CACHE/go/mod}
  export GOCACHE=${LOGKIT_GOCACHE:-$LOGKIT_CACHE/go/build}
  # -modcacherw: the module cache can be removed with rm -rf; -mod=readonly: go.mod/go.sum as
  # committed, never rewritten by a build. GOTOOLCHAIN=local: never download another Go.
  export GOFLAGS="-modcacherw -mod=readonly -buildvcs=false"
  export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
}

build_one() {
  local dir=$1 src=$ROOT/filebeat/build/$1 out stamp want t0
  out=$(binary_path "$dir")
  stamp=$out.sha256
  want=$( { cd "$src" && sha256sum go.mod go.sum ./*.go; go version; echo "$GOFLAGS CGO_ENABLED=$CGO_ENABLED -trimpath -s -w"; } \
          | sha256sum | cut -d' ' -f1)
  if [ -x "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  fb_log "building filebeat $(module_version "$dir") (first time: downloads ~1 GB of modules, then ~1-1.5 min)"
  mkdir -p "$(dirname "$out")"
  t0=$(date +%s)
  (cd "$src" && go build -trimpath -ldflags="-s -w" -o "$out.tmp" github.com/elastic/beats/v7/filebeat)
  mv "$out.tmp" "$out"
  echo "$want" > "$stamp"
  fb_log "built $out in $(( $(date +%s) - t0 ))s: $("$out" version)"
}

case "${1:-}" in
  install)
    if ! command -v go >/dev/null; then
      [ -x /usr/local/go/bin/go ] && export PATH=/usr/local/go/bin:$PATH \
        || { echo "30-filebeat: Go is needed to build Filebeat (go 1.23 or newer)" >&2; exit 1; }
    fi
    go_env
    mkdir -p "$FB_CACHE"
    # several work trees share the cache: one builder at a time
    exec 9>"$FB_CACHE/.build.lock"; flock 9
    for d in "${BUILDS[@]}"; do build_one "$d"; done
    ;;
  start)
    fb7=$(binary_path v7); fb9=$(binary_path snapshot)
    for b in "$fb7" "$fb9"; do
      [ -x "$b" ] || { echo "30-filebeat: $b is missing: run '$0 install'" >&2; exit 1; }
    done
    echo "LOGKIT_TEST_FILEBEAT_7=$fb7"
    echo "LOGKIT_TEST_FILEBEAT_9=$fb9" ;;
  stop) : ;;
  *) echo "usage: $0 install|start RUN_DIR|stop RUN_DIR" >&2; exit 2 ;;
esac
