#!/usr/bin/env bash
# Chromium, for the HTML report test (headless, driven by Python Playwright; Playwright
# downloads no browser of its own: the test passes executable_path).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
case "$1" in
  install) apt_ensure chromium ;;
  start)
    bin=$(command -v chromium || echo /usr/bin/chromium)
    [ -x "$bin" ] || { echo "chromium is not installed: run $0 install" >&2; exit 1; }
    echo "LOGKIT_TEST_CHROMIUM=$bin" ;;
  stop) : ;;
  *) echo "usage: $0 install|start RUN_DIR|stop RUN_DIR" >&2; exit 2 ;;
esac
