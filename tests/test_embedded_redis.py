"""The embedded Redis: one server per data directory, whoever starts first, dying with its
owner, and owner-only files. Real `moderation serve` and `moderation` processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from moderation.redis_server import free_port, redis_binary
from tests.conftest import comment

STATE = "embedded-redis.json"
DEADLINE = 90  # seconds; generous: the machine may be busy with other test runs


def service_env(data_dir: Path, model_path: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of an operator's shell: no REDIS_URL, only what the test sets."""
    env = {
        k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("MODERATION_")
    }
    env["MODERATION_DATA_DIR"] = str(data_dir)
    if model_path is not None:
        env["MODERATION_MODEL_PATH"] = str(model_path)
    env.update(extra)
    return env


class Service:
    """`moderation serve` in a subprocess, its output (JSON lines) kept in a file."""

    def __init__(
        self, logs: Path, data_dir: Path, model_path: Path | None, workers: int = 1, **env: str
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = logs / f"serve-{self.port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moderation", "serve", "--port", str(self.port)]
                + ["--workers", str(workers)],
                env=service_env(data_dir, model_path, **env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_healthy(self) -> Service:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.output()[-3000:]}")
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve did not become healthy: {self.output()[-3000:]}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def lines(self) -> list[str]:
        return [line for line in self.output().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def moderation(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "moderation", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def servers_on(data_dir: Path) -> list[int]:
    """Every live redis-server whose command line names `data_dir`, or that works in it
    (redis-server chdirs to its --dir; some rewrite their command line)."""
    folder = str(data_dir.resolve())
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            comm = (entry / "comm").read_text().strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (
            comm == "redis-server"
            and not gone(int(entry.name))
            and (folder in cmdline or cwd == folder)
        ):
            found.append(int(entry.name))
    return found


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """The service's data directory; no server on it outlives the test, pass or fail."""
    folder = tmp_path / "var"
    yield folder
    for pid in servers_on(folder):
        os.kill(pid, signal.SIGKILL)


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state == "Z"


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {DEADLINE} s"
        time.sleep(0.1)


def test_serve_and_commands_started_together_share_one_server(tmp_path, data_dir, model_path):
    data_dir.mkdir()
    service = Service(tmp_path, data_dir, model_path)
    commands = [
        moderation(
            "token",
            "create",
            "--role",
            "moderator",
            "--name",
            f"m{i}",
            env=service_env(data_dir, model_path),
        )
        for i in range(4)
    ]
    try:
        tokens = []
        for command in commands:
            out, err = command.communicate(timeout=DEADLINE * 2)
            assert command.returncode == 0, err
            tokens.append(out.strip().splitlines()[-1])
        service.wait_healthy()
        state = json.loads((data_dir / STATE).read_text())
        assert servers_on(data_dir) == [state["pid"]]
        assert state["owner"] == service.proc.pid
        for token in tokens:
            assert stats(service, token).status_code == 200

        # One more once the service runs: it must use the service's server, not its own.
        late = moderation(
            "token",
            "create",
            "--role",
            "moderator",
            "--name",
            "late",
            env=service_env(data_dir, model_path),
        )
        out, err = late.communicate(timeout=DEADLINE * 2)
        assert late.returncode == 0, err
        assert f"run by pid {service.proc.pid}" in err
        assert stats(service, out.strip().splitlines()[-1]).status_code == 200
        assert servers_on(data_dir) == [state["pid"]]
        assert (data_dir / STATE).exists(), "a command leaves the service's state file be"
    finally:
        service.stop()
    assert service.proc.returncode == 0, service.output()[-3000:]
    assert servers_on(data_dir) == []
    assert not (data_dir / STATE).exists()


def stats(service: Service, token: str) -> requests.Response:
    return requests.get(
        service.base + "/api/v1/moderation/stats",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_the_server_dies_with_a_killed_service_and_the_next_one_finds_the_data(
    tmp_path, data_dir, model_path
):
    service = Service(tmp_path, data_dir, model_path).wait_healthy()
    try:
        created = requests.post(service.base + "/api/v1/comments", json=comment(), timeout=10)
        assert created.status_code == 201, created.text
        redis_pid = json.loads((data_dir / STATE).read_text())["pid"]
        # appendfsync everysec: SIGTERM from the dying owner makes Redis flush the rest.
        service.proc.kill()
        service.proc.wait()
        wait_until(lambda: gone(redis_pid), "exited after its owner was killed")
    finally:
        service.stop()

    again = Service(tmp_path, data_dir, model_path).wait_healthy()
    try:
        listing = requests.get(
            again.base + "/api/v1/threads/news/2026/city-budget/comments", timeout=10
        )
        assert [c["id"] for c in listing.json()["items"]] == [created.json()["id"]]
        assert len(servers_on(data_dir)) == 1
    finally:
        again.stop()


def test_a_server_left_running_without_an_owner_is_stopped_before_a_new_one_starts(
    tmp_path, data_dir, model_path
):
    data_dir.mkdir()
    port = free_port()
    # A server as a crashed owner of an older version leaves it: its parent gone (the
    # shell exits at once), the state file naming an owner that is dead.
    subprocess.run(
        [
            "sh",
            "-c",
            f'"{redis_binary()}" --port {port} --bind 127.0.0.1 --dir "{data_dir}" '
            '--appendonly yes --appendfilename comments.aof --save "" --set-proc-title no '
            ">/dev/null 2>&1 &",
        ],
        check=True,
    )
    wait_until(lambda: len(servers_on(data_dir)) == 1, "started")
    (stray,) = servers_on(data_dir)
    dead_owner = _a_dead_pid()
    (data_dir / STATE).write_text(json.dumps({"pid": stray, "port": port, "owner": dead_owner}))

    command = moderation("token", "list", env=service_env(data_dir, model_path))
    _, err = command.communicate(timeout=DEADLINE * 2)
    assert command.returncode == 0, err
    assert gone(stray), "the leftover server was stopped"
    assert servers_on(data_dir) == [], "and the command's own server stopped with it"


def _a_dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_the_data_directory_and_its_files_are_for_the_owner_only(tmp_path):
    data_dir = tmp_path / "fresh" / "var"
    # A shell's usual umask; no MODERATION_MODEL_PATH: the model is trained into the data
    # directory.
    umask = os.umask(0o022)
    try:
        service = Service(tmp_path, data_dir, None, MODERATION_LOG_LEVEL="INFO")
    finally:
        os.umask(umask)
    service.wait_healthy()
    try:
        assert requests.post(service.base + "/api/v1/comments", json=comment(), timeout=10).ok
        modes = {
            path.name: path.stat().st_mode & 0o777
            for path in [data_dir, *data_dir.iterdir()]
            if not path.name.startswith(".")
        }
    finally:
        service.stop()
    expected = {
        "comments.aof",
        "redis.log",
        "secret_key",
        "model.skops",
        STATE,
        "embedded-redis.lock",
    }
    assert modes.pop(data_dir.name) == 0o700
    assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}
    assert expected <= modes.keys(), modes
    created = [json.loads(line) for line in service.lines() if "data directory" in line]
    assert any("created a new, empty data directory" in entry["message"] for entry in created)
