#!/usr/bin/env python3
"""Start and stop Elasticsearch test nodes — the one copy of that logic.

Used by scripts/components/20-elasticsearch.sh (through the command line below) and by
tests/support/es_cluster.py (by import), so a single node and a three-node cluster start the same way.
Standard library only: it runs before the venv exists.

The distribution is Elastic's integ-test-zip (no bundled JDK). It refuses to run as root, so when
we are root the node runs as `nobody` (65534) through `setpriv`, in a clean environment, with its
data, logs, config copy and tmp dir under the node's own directory.

    es_node.py java-home                             # prints the Java 17 home
    es_node.py link-home --home H --into DIR         # prints a copy of H that the node user can read
    es_node.py start --home H --dir D [--wait yellow] [--name N] [--cluster-name C]
                                                     # prints pid=, http_port=, transport_port=, url=
    es_node.py stop --dir D [--timeout 20]
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

NOBODY = 65534
HEAP = "512m"
# Settings every test node gets, on top of ports, paths and discovery.
BASE_SETTINGS = {
    "xpack.security.enabled": "false",
    "network.host": "127.0.0.1",
    # A full-ish disk must not turn the test indices read-only.
    "cluster.routing.allocation.disk.threshold_enabled": "false",
    # Lets fixtures clean up with wildcards (DELETE prefix-*).
    "action.destructive_requires_name": "false",
}
# Not set: ingest.geoip.downloader.enabled — the ingest-geoip module is not in this
# distribution, and an unknown setting stops the node at startup.


class NodeError(RuntimeError):
    pass


def java_home() -> str:
    """The Java 17 home: $ES_JAVA_HOME if set, else the first JDK 17 under /usr/lib/jvm."""
    env = os.environ.get("ES_JAVA_HOME")
    if env:
        return env
    for cand in sorted(glob.glob("/usr/lib/jvm/*17*")) + sorted(glob.glob("/usr/lib/jvm/*")):
        if os.path.isfile(os.path.join(cand, "bin", "java")) and _java_major(cand) == 17:
            return os.path.realpath(cand)
    raise NodeError("no Java 17 found under /usr/lib/jvm (install openjdk-17-jdk-headless "
                    "or set ES_JAVA_HOME)")


def _java_major(home: str) -> int | None:
    release = os.path.join(home, "release")
    with contextlib.suppress(OSError):
        for line in open(release, encoding="utf-8"):
            if line.startswith("JAVA_VERSION="):
                v = line.split("=", 1)[1].strip().strip('"')
                return int(v.split(".")[0])
    return None


def free_ports(n: int) -> list[int]:
    """n distinct ports that nothing listens on right now (all held open until chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _as_root() -> bool:
    return os.geteuid() == 0


def _node_user_can(flag: str, path: str) -> bool:
    """`test flag path` (-r, -x, ...) as the node user."""
    if not _as_root():
        return os.access(path, {"-r": os.R_OK, "-x": os.X_OK}[flag])
    r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "test", flag, path], check=False)
    return r.returncode == 0


def _check_reachable(path: str) -> None:
    """Fails clearly when the node user cannot reach path (a mode-700 ancestor such as /root).

    Nothing outside the directories we create is chmod-ed: callers pick a run directory the
    node user can traverse (20-elasticsearch.sh gives its RUN_DIR o+x, see there).
    """
    if not _as_root():
        return
    p = os.path.abspath(path)
    chain = []
    while p not in ("/", ""):
        chain.append(p)
        p = os.path.dirname(p)
    for d in reversed(chain[1:]):  # the ancestors must be traversable
        if not _node_user_can("-x", d):
            mode = oct(os.stat(d).st_mode & 0o777)
            raise NodeError(f"uid {NOBODY} cannot reach {d} (mode {mode}): use a run directory "
                            f"it can traverse (e.g. `mktemp -d` under /tmp, then chmod o+x)")


def link_home(home: str, into: str) -> str:
    """A copy of the distribution at `into`, made of hard links when on the same file system.

    The cache usually lives under /root (mode 700), which `nobody` cannot enter; a linked copy
    in the run directory costs no space, takes ~0.1 s, and also shields a running node from a
    later reinstall of the plugin in the cache.
    """
    home = os.path.realpath(home)
    if not os.path.isfile(os.path.join(home, "bin", "elasticsearch")):
        raise NodeError(f"{home} is not an Elasticsearch home (run the component's install)")
    if os.path.isdir(into):
        return into
    os.makedirs(os.path.dirname(into), exist_ok=True)
    tmp = into + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    r = subprocess.run(["cp", "-al", home, tmp], capture_output=True, text=True)
    if r.returncode != 0:  # another file system: a real copy (~120 MB)
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["cp", "-a", home, tmp], check=True)
    os.rename(tmp, into)
    _check_reachable(os.path.join(into, "lib"))
    return into


@dataclass
class Node:
    """One Elasticsearch process; its directory keeps data across restarts."""

    home: str
    dir: str
    name: str
    cluster_name: str
    http_port: int
    transport_port: int
    settings: dict = field(default_factory=dict)
    pid: int | None = None
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def transport_address(self) -> str:
        return f"127.0.0.1:{self.transport_port}"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "Node":
        if self.pid and _alive(self.pid):
            raise NodeError(f"node {self.name} already runs (pid {self.pid})")
        d = self.dir
        for sub in ("data", "logs", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        conf = os.path.join(d, "config")
        if not os.path.isdir(conf):  # ES writes elasticsearch.keystore into its config dir
            shutil.copytree(os.path.join(self.home, "config"), conf)
        if _as_root():
            for root, dirs, files in os.walk(d):
                os.chown(root, NOBODY, NOBODY)
                for f in files:
                    os.chown(os.path.join(root, f), NOBODY, NOBODY)
        _check_reachable(os.path.join(d, "data"))
        if not _node_user_can("-r", os.path.join(self.home, "lib")):
            raise NodeError(f"{self.home} is not readable by uid {NOBODY}: use link_home()")

        settings = {
            **BASE_SETTINGS,
            "cluster.name": self.cluster_name,
            "node.name": self.name,
            "http.port": str(self.http_port),
            "transport.port": str(self.transport_port),
            "path.data": os.path.join(d, "data"),
            "path.logs": os.path.join(d, "logs"),
            **self.settings,
        }
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": d,
            "LANG": "C.UTF-8",
            "ES_JAVA_HOME": java_home(),
            "ES_JAVA_OPTS": f"-Xms{HEAP} -Xmx{HEAP}",
            "ES_PATH_CONF": conf,
            "ES_TMPDIR": os.path.join(d, "tmp"),
        }
        cmd = [os.path.join(self.home, "bin", "elasticsearch")]
        cmd += [f"-E{k}={v}" for k, v in settings.items()]
        if _as_root():
            cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + cmd
        # env -i: the node sees only `env`, whatever the caller exported (JAVA_TOOL_OPTIONS, ...)
        cmd = ["env", "-i"] + [f"{k}={v}" for k, v in env.items()] + cmd
        with open(os.path.join(d, "cmdline"), "w", encoding="utf-8") as f:
            f.write(" ".join(cmd) + "\n")
        out = open(os.path.join(d, "console.log"), "ab")
        # Own session: the node outlives the component script that started it, and a final
        # SIGKILL can reach the launcher and the server JVM together (process group = pid).
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     cwd=d, start_new_session=True)
        out.close()
        self.pid = self.proc.pid
        with open(os.path.join(d, "pid"), "w", encoding="utf-8") as f:
            f.write(f"{self.pid}\n")
        return self

    def wait(self, status: str = "yellow", timeout: float = 120, nodes: int | None = None) -> dict:
        return wait_health(self.url, status=status, timeout=timeout, nodes=nodes, node=self)

    def stop(self, timeout: float = 20) -> None:
        if self.pid is None:
            return
        stop_pid(self.pid, timeout=timeout, proc=self.proc)
        with contextlib.suppress(OSError):  # no stale pid for a later `es_node.py stop`
            os.unlink(os.path.join(self.dir, "pid"))
        self.pid = None
        self.proc = None

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and _alive(self.pid)

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for p in (os.path.join(self.dir, "logs", f"{self.cluster_name}.log"),
                  os.path.join(self.dir, "console.log")):
            with contextlib.suppress(OSError):
                text = open(p, encoding="utf-8", errors="replace").read().splitlines()
                parts.append(f"--- {p}\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie we cannot reap still answers kill(0)
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    return True


def stop_pid(pid: int, timeout: float = 20, proc: subprocess.Popen | None = None) -> None:
    """SIGTERM to the launcher (it stops the server JVM), then SIGKILL to its process group."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                break
        elif not _alive(pid):
            break
        time.sleep(0.1)
    # the group id is the launcher's pid (start_new_session): it holds the server JVM too
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def http_json(url: str, method: str = "GET", body: dict | None = None, timeout: float = 10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def wait_health(url: str, status: str = "yellow", timeout: float = 120, nodes: int | None = None,
                node: Node | None = None) -> dict:
    """Polls _cluster/health until `status` (and `nodes` nodes); fails fast if the node died."""
    q = f"wait_for_status={status}&timeout=2s"
    if nodes:
        q += f"&wait_for_nodes={nodes}"
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if node is not None and not node.alive():
            raise NodeError(f"node {node.name} exited before it was ready\n{node.log_tail()}")
        try:
            h = http_json(f"{url}/_cluster/health?{q}", timeout=10)
            if not h.get("timed_out"):
                return h
            last = json.dumps(h)
        except urllib.error.HTTPError as e:  # 408 when wait_for_* times out
            last = f"HTTP {e.code}: {e.read()[:300]!r}"
        except (OSError, ValueError) as e:
            last = repr(e)
            time.sleep(0.2)
    tail = node.log_tail() if node is not None else ""
    raise NodeError(f"{url} not {status} after {timeout}s; last: {last}\n{tail}")


# -- command line (used by scripts/components/20-elasticsearch.sh) ---------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("java-home")
    lk = sub.add_parser("link-home")
    lk.add_argument("--home", required=True)
    lk.add_argument("--into", required=True)
    st = sub.add_parser("start")
    st.add_argument("--home", required=True)
    st.add_argument("--dir", required=True)
    st.add_argument("--name", default="node-1")
    st.add_argument("--cluster-name", default=None)
    st.add_argument("--wait", default="yellow", choices=["yellow", "green", "none"])
    st.add_argument("--timeout", type=float, default=float(os.environ.get("LOGKIT_ES_START_TIMEOUT", 300)))
    sp = sub.add_parser("stop")
    sp.add_argument("--dir", required=True)
    sp.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args(argv)

    if a.cmd == "java-home":
        print(java_home())
    elif a.cmd == "link-home":
        print(link_home(a.home, a.into))
    elif a.cmd == "start":
        http_port, transport_port = free_ports(2)
        cluster = a.cluster_name or f"logkit-test-{os.getpid()}"
        node = Node(home=a.home, dir=os.path.abspath(a.dir), name=a.name, cluster_name=cluster,
                    http_port=http_port, transport_port=transport_port,
                    settings={"discovery.type": "single-node"})
        t0 = time.monotonic()
        node.start()
        try:
            if a.wait != "none":
                node.wait(a.wait, timeout=a.timeout)
        except BaseException:
            node.stop(timeout=10)
            raise
        print(f"started {node.name} pid {node.pid} at {node.url} in {time.monotonic() - t0:.1f}s",
              file=sys.stderr)
        print(f"pid={node.pid}\nhttp_port={http_port}\ntransport_port={transport_port}\n"
              f"url={node.url}\ncluster_name={cluster}")
    elif a.cmd == "stop":
        pidfile = os.path.join(a.dir, "pid")
        try:
            pid = int(open(pidfile, encoding="utf-8").read().strip())
        except (OSError, ValueError):
            return 0
        stop_pid(pid, timeout=a.timeout)
        os.unlink(pidfile)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except NodeError as e:
        print(f"es_node: {e}", file=sys.stderr)
        sys.exit(1)
