"""What every `moderation` command does before its work: import little, and say (or refuse)
which data directory and which Redis it works on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from moderation.redis_server import free_port, redis_binary

# What the app and the model need, and the quick commands must not pay for.
HEAVY = {"flask", "flask_smorest", "werkzeug", "sklearn", "numpy", "scipy", "skops", "marshmallow"}


def clean_env(**extra: str) -> dict[str, str]:
    """An operator's shell: none of the service's settings unless the test gives them."""
    env = {
        k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("MODERATION_")
    }
    env.update(extra)
    return env


def run(
    *args: str, env: dict[str, str], cwd: Path | None = None, python: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *python, "-m", "moderation", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def imported(stderr: str) -> set[str]:
    """Top-level packages imported, from `python -X importtime`'s report."""
    return {
        match.group(1).strip().split(".")[0]
        for match in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|(.+)$", stderr, re.M)
    }


def test_help_and_token_commands_import_neither_the_app_nor_the_model(tmp_path, redis_url):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    external = clean_env(REDIS_URL=redis_url, MODERATION_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    embedded = clean_env(MODERATION_DATA_DIR=str(data_dir))
    for env in (external, embedded):
        created = run("token", "create", "--role", "admin", "--name", "Root", env=env)
        assert created.returncode == 0, created.stderr
        token_id = created.stdout.split()[3]
        for args in (
            ("--help",),
            ("token", "--help"),
            ("token", "create", "--role", "moderator", "--name", "Ada"),
            ("token", "list"),
            ("token", "revoke", token_id),
        ):
            result = run(*args, env=env, python=("-X", "importtime"))
            assert result.returncode == 0, (args, result.stderr[-2000:])
            modules = imported(result.stderr)
            assert "moderation" in modules and "click" in modules, "the report was read"
            assert modules & HEAVY == set(), args


def test_a_command_refuses_to_create_a_data_directory(tmp_path, redis_url):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run("token", "list", env=clean_env(), cwd=elsewhere)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "MODERATION_DATA_DIR" in line and str(elsewhere / "var") in line
    assert not (elsewhere / "var").exists()

    missing = tmp_path / "missing"
    result = run(
        "token",
        "create",
        "--role",
        "admin",
        "--name",
        "x",
        env=clean_env(MODERATION_DATA_DIR=str(missing)),
    )
    assert result.returncode == 2 and "MODERATION_DATA_DIR" in result.stderr
    assert not missing.exists()

    # The data directory holds the development secret too: needed even with REDIS_URL.
    result = run("model", "list", env=clean_env(REDIS_URL=redis_url), cwd=elsewhere)
    assert result.returncode == 2 and "MODERATION_DATA_DIR" in result.stderr
    assert not (elsewhere / "var").exists()


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[tuple[str, str]]:
    password = uuid.uuid4().hex
    port = free_port()
    proc = subprocess.Popen(
        [redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        + ["--appendonly", "no", "--dir", str(tmp_path), "--requirepass", password],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, password=password)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            assert proc.poll() is None and time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
    yield f"redis://:{password}@127.0.0.1:{port}/0", password
    proc.kill()
    proc.wait()


def test_every_command_says_which_data_directory_and_redis(tmp_path, redis_with_password):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    result = run(
        "token",
        "create",
        "--role",
        "admin",
        "--name",
        "Root",
        env=clean_env(MODERATION_DATA_DIR=str(data_dir)),
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"moderation: data directory {data_dir} (MODERATION_DATA_DIR); ")
    assert re.search(r"embedded Redis on 127\.0\.0\.1:\d+ \(started by this process\)$", line)
    assert not (data_dir / "embedded-redis.json").exists(), "its server stopped with it"

    url, password = redis_with_password
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # With REDIS_URL the token commands need no data directory: none is refused or made.
    result = run("token", "list", env=clean_env(REDIS_URL=url), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith("Redis " + url.replace(password, "***")), line
    assert password not in result.stderr + result.stdout
    assert not (elsewhere / "var").exists()
