#!/usr/bin/env bash
# Prometheus, promtool and mtail (Debian packages `prometheus`, `mtail`). No server is started here:
# each test starts its own Prometheus on 127.0.0.1 with its own config (tests/test_prometheus*.py),
# and the benchmark runs mtail itself. `start` only reports where the binaries are.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
case "$1" in
  install) apt_ensure prometheus mtail ;;
  start)
    for b in prometheus promtool mtail; do
      command -v "$b" >/dev/null || { echo "$b is not installed (run: $0 install)" >&2; exit 1; }
    done
    echo "LOGKIT_TEST_PROMETHEUS=$(command -v prometheus)"
    echo "LOGKIT_TEST_PROMTOOL=$(command -v promtool)"
    echo "LOGKIT_TEST_MTAIL=$(command -v mtail)" ;;
  stop) : ;;
  *) echo "usage: $0 install|start RUN_DIR|stop RUN_DIR" >&2; exit 2 ;;
esac
