"""`moderation serve` as an operator runs it: gunicorn, embedded Redis, restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
import requests

from moderation.privacy import EmailVault
from moderation.redis_server import free_port
from tests.conftest import comment, run_cli


def start_service(data_dir: Path, model_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("MODERATION_")
    }
    env.update(MODERATION_DATA_DIR=str(data_dir), MODERATION_MODEL_PATH=str(model_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "moderation", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not become healthy in 60 s")


def stop_service(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err.decode()


def test_comments_survive_a_restart_on_the_embedded_redis(tmp_path, model_path):
    data_dir = tmp_path / "var"
    port = free_port()
    proc = start_service(data_dir, model_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        created = requests.post(base + "/api/v1/comments", json=comment(), timeout=5)
        assert created.status_code == 201
        assert created.json()["status"] == "published"
    finally:
        log = stop_service(proc)
    assert proc.returncode == 0
    assert sum("started an embedded Redis" in line for line in log.splitlines()) == 1
    assert not (data_dir / "embedded-redis.json").exists(), "the embedded Redis was stopped"
    assert "maria.keller" not in log
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["message"] for line in lines), "every log line is JSON"

    proc = start_service(data_dir, model_path, port)
    try:
        listing = requests.get(base + "/api/v1/threads/news/2026/city-budget/comments", timeout=5)
        assert [c["id"] for c in listing.json()["items"]] == [created.json()["id"]]
        # The development key was kept too: the stored email still decrypts.
        state = json.loads((data_dir / "embedded-redis.json").read_text())
        stored = redis.Redis(port=state["port"], decode_responses=True).hgetall(
            "{moderation}:comment:" + str(created.json()["id"])
        )
        vault = EmailVault((data_dir / "secret_key").read_text().strip())
        assert vault.decrypt(stored["email_encrypted"]) == comment()["email"]
    finally:
        stop_service(proc)


def test_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout
    result = run_cli("serve", "--help")
    assert "--workers" in result.stdout and "--port" in result.stdout and "--host" in result.stdout


def test_the_log_level_holds_under_serve_and_requests_are_not_logged(tmp_path, model_path):
    from tests.test_embedded_redis import Service

    service = Service(
        tmp_path, tmp_path / "var", model_path, workers=2, MODERATION_LOG_LEVEL="WARNING"
    ).wait_healthy()
    try:
        for _ in range(5):
            assert requests.get(service.base + "/healthz", timeout=10).status_code == 200
        assert requests.post(service.base + "/api/v1/comments", json=comment(), timeout=10).ok
    finally:
        service.stop()
    entries = [json.loads(line) for line in service.lines()]  # every line is JSON
    # The development key's warning shows the logs do reach the output at this level.
    assert any("MODERATION_SECRET_KEY is not set" in e["message"] for e in entries), entries
    assert [e for e in entries if e["levelname"] in ("DEBUG", "INFO")] == []
    assert [e for e in entries if "/healthz" in e["message"] or "/api/v1" in e["message"]] == []
