#!/usr/bin/env bash
# Elasticsearch 8.19 test node: Elastic's integ-test-zip from Maven Central (core modules only),
# plus the test-only "logkit-root" plugin (scripts/es-root-plugin) that restores GET / and HEAD /.
# Node start/stop logic lives in scripts/es_node.py (shared with tests/support/es_cluster.py).
# docs/elasticsearch-dev.md explains the distribution's limits and the traps.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/lib.sh"

ES_VERSION=8.19.21
LOGKIT_CACHE=${LOGKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logkit-dev}
ES_CACHE=$LOGKIT_CACHE/es
ES_HOME=$ES_CACHE/elasticsearch-$ES_VERSION
M2_REPO=${M2_REPO:-$HOME/.m2/repository}
ZIP=$M2_REPO/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip
PLUGIN_SRC=$ROOT/scripts/es-root-plugin
PY=$(command -v python3)

es_log() { printf '[20-elasticsearch %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

install_distribution() {
  if [ ! -f "$ZIP" ]; then
    es_log "downloading the integ-test-zip $ES_VERSION from Maven Central"
    mvn -B -q dependency:get -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -Dtransitive=false >&2
  fi
  if [ ! -f "$ES_HOME/.unpacked" ]; then
    es_log "unzipping into $ES_HOME"
    rm -rf "$ES_HOME" "$ES_CACHE/unzip.tmp"
    mkdir -p "$ES_CACHE/unzip.tmp"
    unzip -q "$ZIP" -d "$ES_CACHE/unzip.tmp"
    mv "$ES_CACHE/unzip.tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
    rmdir "$ES_CACHE/unzip.tmp"
    chmod -R a+rX "$ES_HOME"
    touch "$ES_HOME/.unpacked"
  fi
}

# The plugin is rebuilt when its source, descriptor, the ES version or the JDK change.
install_plugin() {
  local jhome stamp want dest tmp
  jhome=$("$PY" "$ROOT/scripts/es_node.py" java-home)
  dest=$ES_HOME/plugins/logkit-root
  want=$( { cd "$PLUGIN_SRC" && find . -type f -print0 | sort -z | xargs -0 sha256sum; \
            echo "$ES_VERSION $jhome"; } | sha256sum | cut -d' ' -f1)
  stamp=$dest/.source-sha256
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  es_log "compiling the logkit-root plugin"
  tmp=$ES_CACHE/plugin.tmp
  rm -rf "$tmp"; mkdir -p "$tmp/classes" "$tmp/logkit-root"
  find "$PLUGIN_SRC/src" -name '*.java' -print0 \
    | xargs -0 "$jhome/bin/javac" --release 17 -Xlint:all -Werror -cp "$ES_HOME/lib/*" -d "$tmp/classes"
  "$jhome/bin/jar" cf "$tmp/logkit-root/logkit-root.jar" -C "$tmp/classes" .
  sed "s/@ES_VERSION@/$ES_VERSION/g" "$PLUGIN_SRC/plugin-descriptor.properties" \
    > "$tmp/logkit-root/plugin-descriptor.properties"
  echo "$want" > "$tmp/logkit-root/.source-sha256"
  chmod -R a+rX "$tmp/logkit-root"
  rm -rf "$dest"; mv "$tmp/logkit-root" "$dest"; rm -rf "$tmp"
}

case "${1:-}" in
  install)
    command -v mvn >/dev/null || apt_ensure maven
    command -v unzip >/dev/null || apt_ensure unzip
    command -v curl >/dev/null || apt_ensure curl
    "$PY" "$ROOT/scripts/es_node.py" java-home >/dev/null 2>&1 || apt_ensure openjdk-17-jdk-headless
    mkdir -p "$ES_CACHE"
    # several work trees share the cache: one installer at a time
    exec 9>"$ES_CACHE/.install.lock"; flock 9
    install_distribution
    install_plugin
    ;;
  start)
    run=${2:?usage: $0 start RUN_DIR}
    d=$run/es; mkdir -p "$d"
    # as root the node runs as uid 65534, which must traverse RUN_DIR (mktemp -d makes it 700)
    [ "$(id -u)" -ne 0 ] || chmod o+x "$run"
    # a hard-linked copy that uid 65534 can read (the cache is usually under /root, mode 700);
    # the shared lock keeps a concurrent `install` from swapping the plugin while we link
    exec 9>"$ES_CACHE/.install.lock"; flock -s 9
    home=$("$PY" "$ROOT/scripts/es_node.py" link-home --home "$ES_HOME" --into "$d/home")
    exec 9>&-
    "$PY" "$ROOT/scripts/es_node.py" start --home "$home" --dir "$d/node-1" --wait yellow > "$d/node.env"
    url=$(sed -n 's/^url=//p' "$d/node.env")
    echo "LOGKIT_TEST_ES_URL=$url"
    echo "LOGKIT_TEST_ES_HOME=$home" ;;
  stop)
    run=${2:?usage: $0 stop RUN_DIR}
    [ -d "$run/es/node-1" ] && "$PY" "$ROOT/scripts/es_node.py" stop --dir "$run/es/node-1" --timeout 20
    # tests/support/es_cluster.py stops its own nodes; this catches any left behind by a killed pytest
    for p in "$run"/es/cluster-*/*/pid; do
      [ -f "$p" ] && "$PY" "$ROOT/scripts/es_node.py" stop --dir "$(dirname "$p")" --timeout 5
    done
    true ;;
  *) echo "usage: $0 install|start RUN_DIR|stop RUN_DIR" >&2; exit 2 ;;
esac
