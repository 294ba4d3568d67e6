#!/usr/bin/env bash
# Prometheus Alertmanager (Debian prometheus-alertmanager 0.25, with amtool). No server is started
# here: each test starts its own Alertmanager (tests/support/am_fixtures.py) with a config pointing at that
# test's webhook receiver; this prints where the binaries are.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
case "$1" in
  install) apt_ensure prometheus-alertmanager ;;
  start)
    am=$(command -v prometheus-alertmanager || true)
    amtool=$(command -v amtool || true)
    [ -n "$am" ] && [ -n "$amtool" ] || { echo "prometheus-alertmanager/amtool not installed" >&2; exit 1; }
    "$am" --version >/dev/null 2>&1 || { echo "$am does not run" >&2; exit 1; }
    echo "LOGKIT_TEST_ALERTMANAGER=$am"
    echo "LOGKIT_TEST_AMTOOL=$amtool" ;;
  stop) : ;;
  *) echo "usage: $0 install|start RUN_DIR|stop RUN_DIR" >&2; exit 2 ;;
esac
