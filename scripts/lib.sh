# Shared shell helpers for scripts/ (sourced, not run).

# apt_ensure PKG...: installs the Debian packages that are missing; updates the index only when needed.
apt_ensure() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}

# free_port: prints a TCP port that nothing listens on at 127.0.0.1 right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS: polls until URL answers 2xx.
wait_http() {
  local url=$1 secs=${2:-60} i=0
  while [ $i -lt $((secs*10)) ]; do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1; i=$((i+1))
  done
  echo "timed out after ${secs}s waiting for $url" >&2; return 1
}
