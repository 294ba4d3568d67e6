#!/usr/bin/env bash
# Redis, the Celery broker of the tests (Debian redis-server, loopback only, no persistence).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
case "$1" in
  install) apt_ensure redis-server redis-tools ;;
  start)
    d=$2/redis; mkdir -p "$d"; port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --pidfile "$d/pid" --dir "$d" --logfile "$d/log" >&2
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" ping >/dev/null
    echo "$port" > "$d/port"
    echo "LOGKIT_TEST_REDIS_URL=redis://127.0.0.1:$port/0" ;;
  stop)
    d=$2/redis; [ -f "$d/port" ] && redis-cli -p "$(cat "$d/port")" shutdown nosave >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 install|start RUN_DIR|stop RUN_DIR" >&2; exit 2 ;;
esac
