#!/usr/bin/env bash
# lnav (Debian package): the tests open logkit files in it headless with logkit's format file.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
case "$1" in
  install) apt_ensure lnav ;;
  start) echo "LOGKIT_TEST_LNAV=$(command -v lnav)" ;;
  stop) ;;
  *) echo "usage: $0 install|start RUN_DIR|stop RUN_DIR" >&2; exit 2 ;;
esac
