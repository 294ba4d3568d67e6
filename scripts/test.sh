#!/usr/bin/env bash
# The test command: installs what the tests need (Debian packages, a Python venv, Maven and Go
# artifacts — all cached outside the work tree), starts the real components on 127.0.0.1, runs
# pytest, and stops everything it started, whatever the outcome.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh tests/test_x.py -k foo   # extra args go to pytest
#   LOGKIT_COMPONENTS="10-redis" LOGKIT_VENV=~/.cache/logkit-dev/venv-b scripts/test.sh tests/test_x.py
#
# A full run (no pytest arguments) also runs the version matrix (scripts/matrix.sh: lowest and
# newest dependency versions on the oldest and newest claimed Python, tests that need no
# component) in the background, beside the main suite; the run fails when either fails.
# LOGKIT_MATRIX=0 skips it, LOGKIT_MATRIX=1 runs it with pytest arguments too,
# LOGKIT_MATRIX_LEGS="3.10-lowest 3.13-highest" (the default) picks the legs.
#
# Components live in scripts/components/NN-name.sh and answer `install`, `start RUN_DIR`, `stop RUN_DIR`;
# `start` prints KEY=VALUE lines that are exported to the tests (ports, URLs, binaries).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export LOGKIT_CACHE=${LOGKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logkit-dev}
mkdir -p "$LOGKIT_CACHE"
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/logkit-test.XXXXXX")
chmod 755 "$RUN_DIR"
export LOGKIT_RUN_DIR=$RUN_DIR

log() { printf '[test.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

log "python environment"
"$ROOT/scripts/dev-env.sh" >&2
VENV=${LOGKIT_VENV:-$LOGKIT_CACHE/venv}
export PATH="$VENV/bin:$PATH"

components=()
# LOGKIT_COMPONENTS="10-redis 20-elasticsearch": start only these (a quicker run of a few tests).
for c in "$ROOT"/scripts/components/*.sh; do
  name=$(basename "$c" .sh)
  if [ -n "${LOGKIT_COMPONENTS:-}" ] && [[ " $LOGKIT_COMPONENTS " != *" $name "* ]]; then continue; fi
  components+=("$c")
done

matrix_pid=
started=()
stop_all() {
  local rc=$?
  if [ -n "$matrix_pid" ] && kill -0 "$matrix_pid" 2>/dev/null; then
    log "stop the version matrix"
    kill -- -"$matrix_pid" 2>/dev/null || true
  fi
  for ((i=${#started[@]}-1; i>=0; i--)); do
    log "stop $(basename "${started[$i]}")"
    "${started[$i]}" stop "$RUN_DIR" >&2 || log "stopping ${started[$i]} failed"
  done
  rm -rf "$RUN_DIR" 2>/dev/null || true
  exit $rc
}
trap stop_all EXIT INT TERM

MATRIX_LOG=$LOGKIT_CACHE/matrix/last-run.log
if [ "${LOGKIT_MATRIX:-auto}" = 1 ] || { [ "${LOGKIT_MATRIX:-auto}" = auto ] && [ $# -eq 0 ]; }; then
  mkdir -p "$(dirname "$MATRIX_LOG")"
  log "version matrix in the background (${LOGKIT_MATRIX_LEGS:-3.10-lowest 3.13-highest}): $MATRIX_LOG"
  # Its own process group, so an interrupted run can stop all of it.
  # shellcheck disable=SC2086
  setsid "$ROOT/scripts/matrix.sh" ${LOGKIT_MATRIX_LEGS:-3.10-lowest 3.13-highest} > "$MATRIX_LOG" 2>&1 &
  matrix_pid=$!
fi

: > "$RUN_DIR/env"
for c in "${components[@]}"; do
  log "install $(basename "$c")"
  "$c" install >&2
done
for c in "${components[@]}"; do
  log "start $(basename "$c")"
  started+=("$c")
  "$c" start "$RUN_DIR" >> "$RUN_DIR/env"
done
set -a; . "$RUN_DIR/env"; set +a
log "components ready: $(cut -d= -f1 "$RUN_DIR/env" | tr '\n' ' ')"

cd "$ROOT"
rc=0
python -m pytest "$@" || rc=$?
if [ -n "$matrix_pid" ]; then
  log "waiting for the version matrix"
  mrc=0; wait "$matrix_pid" || mrc=$?
  matrix_pid=
  grep -E '^\[matrix' "$MATRIX_LOG" | grep -E 'passed|FAILED|exit' >&2 || true
  if [ "$mrc" != 0 ]; then
    log "version matrix FAILED (exit $mrc): $MATRIX_LOG"; tail -60 "$MATRIX_LOG" >&2
    [ "$rc" != 0 ] || rc=$mrc
  fi
fi
exit $rc
