"""A multi-node Elasticsearch cluster for fault tests, started on demand.

The nodes come from LOGKIT_TEST_ES_HOME (exported by scripts/components/20-elasticsearch.sh) and
start exactly like the single test node: through scripts/es_node.py, the one copy of that logic.

    with ESCluster(home, size=3) as c:      # forms, waits for green
        c.stop_node(1)                      # SIGTERM; its data dir is kept
        c.start_node(1); c.wait(nodes=3)    # rejoins with the same name, ports and data
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _load_es_node():
    name = "logkit_scripts_es_node"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "es_node.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses looks the module up while the class is built
        spec.loader.exec_module(mod)
    return sys.modules[name]


es_node = _load_es_node()
NodeError = es_node.NodeError


class ESCluster:
    """`size` nodes on loopback, discovering each other through discovery.seed_hosts."""

    def __init__(self, home: str, size: int = 3, base_dir: str | None = None,
                 cluster_name: str | None = None):
        self.home = home
        self.size = size
        self._own_dir = base_dir is None
        if base_dir is None:
            run = os.environ.get("LOGKIT_RUN_DIR")
            if run and os.path.isdir(run):
                os.makedirs(os.path.join(run, "es"), exist_ok=True)
                base_dir = tempfile.mkdtemp(prefix="cluster-", dir=os.path.join(run, "es"))
            else:
                base_dir = tempfile.mkdtemp(prefix="logkit-es-cluster-")
        os.chmod(base_dir, 0o755)  # mkdtemp makes it 700; the nodes run as uid 65534 under root
        self.base_dir = base_dir
        self.cluster_name = cluster_name or f"logkit-test-{os.path.basename(base_dir)}".lower()
        ports = es_node.free_ports(2 * size)
        names = [f"node-{i + 1}" for i in range(size)]
        seeds = ",".join(f"127.0.0.1:{ports[2 * i + 1]}" for i in range(size))
        self.nodes = [
            es_node.Node(
                home=home, dir=os.path.join(base_dir, names[i]), name=names[i],
                cluster_name=self.cluster_name,
                http_port=ports[2 * i], transport_port=ports[2 * i + 1],
                settings={"discovery.seed_hosts": seeds,
                          "cluster.initial_master_nodes": ",".join(names)},
            )
            for i in range(size)
        ]

    # -- addresses -----------------------------------------------------------------------
    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def running(self) -> list:
        return [n for n in self.nodes if n.alive()]

    def url(self) -> str:
        """The HTTP address of a running node."""
        live = self.running()
        if not live:
            raise NodeError("no node of the cluster is running")
        return live[0].url

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout: float = 180) -> "ESCluster":
        try:
            for n in self.nodes:
                n.start()
            self.wait(status="green", nodes=self.size, timeout=timeout)
        except BaseException:
            self.close()
            raise
        return self

    def wait(self, status: str = "green", nodes: int | None = None, timeout: float = 120) -> dict:
        """Waits, on a running node, until the cluster has `status` and `nodes` nodes."""
        nodes = self.size if nodes is None else nodes
        live = self.running()
        if not live:
            raise NodeError("no node of the cluster is running")
        try:
            return es_node.wait_health(live[0].url, status=status, timeout=timeout, nodes=nodes,
                                       node=live[0])
        except NodeError as e:
            raise NodeError(f"{e}\n" + "\n".join(n.log_tail(15) for n in self.nodes)) from None

    def stop_node(self, i: int, timeout: float = 20) -> None:
        """SIGTERM node i (0-based) and wait until it is gone; its data dir stays."""
        self.nodes[i].stop(timeout=timeout)

    def start_node(self, i: int) -> None:
        """Restart node i with its name, ports and data dir (call wait() afterwards)."""
        self.nodes[i].start()

    def node_index(self, node_name: str) -> int:
        return [n.name for n in self.nodes].index(node_name)

    def close(self) -> None:
        for n in self.nodes:
            n.stop(timeout=20)
        if self._own_dir and not os.environ.get("LOGKIT_KEEP_ES_CLUSTER"):
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "ESCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
