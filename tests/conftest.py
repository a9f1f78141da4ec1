"""Shared fixtures: a real redis-server for the run, a trained model, apps and live HTTP."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
import redis
import requests
from werkzeug.serving import make_server

from moderation import create_app
from moderation.config import Settings
from moderation.redis_server import free_port, redis_binary
from moderation.scoring import ensure_model
from moderation.submission import ClientInfo, submit_comment


def start_redis_server(
    workdir: Path, port: int | None = None, *, persist: bool = False
) -> tuple[subprocess.Popen, int]:
    """A redis-server of the tests' own on a free port (the machine's Redis is never
    touched), answering PING before this returns; `persist` writes every change to an
    append-only file, so a restart in the same directory finds it all again."""
    port = port or free_port()
    durability = (
        ["--appendonly", "yes", "--appendfsync", "always"]
        if persist
        else [
            "--appendonly",
            "no",
        ]
    )
    proc = subprocess.Popen(
        [redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        + durability
        + ["--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            return proc, port
        except (redis.ConnectionError, redis.BusyLoadingError):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("test redis-server did not start") from None
            time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The redis-server every test shares, each test under its own key prefix."""
    proc, port = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model, trained once per run from the seed corpus as a fresh install does.

    Under pytest-xdist every worker asks for it: the folder above the workers' own temp
    folders is shared, and `ensure_model`'s file lock lets the first worker train it while
    the others wait and load it.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    path = shared / "default-model" / "model.skops"
    ensure_model(path)
    return path


# Tests post many comments quickly from one address and one email: the limits on posts
# (moderation/limits.py) are off for them, in the `settings` fixture and in the service
# processes tests start with this process's environment. tests/test_limits.py turns them on.
LIMITS_OFF = {
    "rate_limit": "",
    "flood_interval": 0,
    "duplicate_window": 0,
    "max_pending_per_client": 0,
}
LIMITS_OFF_ENV = {
    "MODERATION_RATE_LIMIT": "",
    "MODERATION_FLOOD_INTERVAL": "0",
    "MODERATION_DUPLICATE_WINDOW": "0",
    "MODERATION_MAX_PENDING_PER_CLIENT": "0",
}


@pytest.fixture(scope="session", autouse=True)
def _no_post_limits_in_started_services() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LIMITS_OFF_ENV.items():
            patch.setenv(name, value)
        yield


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, model_path: Path) -> Settings:
    # A fresh key prefix per test isolates tests sharing the one server without flushing.
    return Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        redis_url=redis_url,
        key_prefix=f"test-{uuid.uuid4().hex[:12]}",
        secret_key="test-secret-key",
        model_path=model_path,
        **LIMITS_OFF,
    )


@pytest.fixture
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(app):
    return app.extensions["moderation"]


class LiveServer:
    def __init__(self, app) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def live(app) -> Iterator[str]:
    """The app on a real socket: tests talk HTTP to it."""
    server = LiveServer(app).start()
    yield server.url
    server.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def comment(**overrides: object) -> dict[str, object]:
    """A valid, ordinary comment; tests override what they are about."""
    body: dict[str, object] = {
        "thread": "news/2026/city-budget",
        "author": "Maria Keller",
        "email": "maria.keller@example.org",
        "content": "The article says the budget grew by 4%, but the council minutes say 3.2%. "
        "Which figure is right?",
    }
    body.update(overrides)
    return body


def submit_directly(services, body: dict[str, object], **thresholds: float) -> dict:
    """One comment through the submission path without HTTP, with the thresholds given."""
    return submit_comment(
        body,
        ClientInfo(),
        store=services.comments,
        vault=services.vault,
        model=services.model,
        thresholds=dataclasses.replace(services.thresholds, **thresholds),
    )


def publish(services, thread: str, parent: int | None, n: int, text: str = "Reply") -> list[int]:
    """Published comments written through the submission path (no HTTP: many are needed)."""
    ids = []
    for i in range(n):
        body = {
            "thread": thread,
            "parent": parent,
            "author": f"Reader {i}",
            "email": f"reader{i}@example.org",
            "content": f"{text} number {i}: I agree with the point about the budget.",
        }
        record = submit_directly(services, body, publish_below=1.0, spam_above=1.0)
        assert record["status"] == "published"
        ids.append(record["id"])
    return ids


# How long any wait in the tests may last before it counts as hung: a safety net, never a
# speed requirement. A loaded 2-core machine is slow, not stuck; speed is for benchmarks/.
PATIENCE_SECONDS = 900


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = PATIENCE_SECONDS
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "moderation", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def stored_keys(services) -> list[str]:
    """Every key this test's app wrote (tests share one server, each with its own prefix),
    except the model registry and the schema version, which every app writes when it starts."""
    keys = services.comments.keys
    registry = {keys.models, keys.active_model, keys.schema_version}
    # Sorted: SCAN's order is no contract, and on a cluster it changes between two calls.
    return sorted(
        key
        for key in services.redis.scan_iter(match=keys.base + "*")
        if key not in registry and not key.startswith(keys.model_file(""))
    )


def tamper(source, target):
    """A copy of a model file with a type smuggled in that skops would import and call."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "schema.json":
                schema = json.loads(data)
                schema["content"]["vocabularies"] = {
                    "__class__": "system",
                    "__module__": "os",
                    "__loader__": "TypeNode",
                }
                data = json.dumps(schema).encode()
            dst.writestr(item, data)
    return target


# --- a real browser ------------------------------------------------------------------
CHROMIUM = Path(os.environ.get("MODERATION_TEST_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser).

    Without Chromium the browser tests skip on a developer machine; under CI they fail,
    because .ci/run installs it.
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots and other things a person should look at after the run."""
    folder = Path(os.environ.get("MODERATION_TEST_ARTIFACTS", "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- a host page on another origin ------------------------------------------------------
# What a careless or hostile site may do to everything on its page; the widget must survive it.
HOSTILE_CSS = (
    "* { font-size: 40px !important; color: red !important; } "
    "form, label, button { display: none !important; }"
)


class HostPage:
    """A news site on its own origin (http://localhost:PORT, not the service's 127.0.0.1)
    serving article pages that embed the comment widget with the exact snippet."""

    def __init__(self, server: LiveServer) -> None:
        self._server = server
        self.origin = server.url.replace("127.0.0.1", "localhost")

    def url(
        self,
        service: str,
        thread: str,
        *,
        refresh_seconds: float | None = None,
        css: str = HOSTILE_CSS,
        **query: str,
    ) -> str:
        """A page embedding `thread` from the service at `service`; `query` is appended
        (e.g. comment_status, as the no-JS form's return_to redirect adds)."""
        params = {"service": service, "thread": thread, "css": css, **query}
        if refresh_seconds is not None:
            params["refresh"] = str(refresh_seconds)
        return f"{self.origin}/article?{urlencode(params)}"


def _host_page_app(environ, start_response):
    if environ["PATH_INFO"] != "/article":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    refresh = f' data-refresh-seconds="{escape(query["refresh"])}"' if "refresh" in query else ""
    # ?lang= is the page's own language; ?data_lang= asks the widget for one of its own.
    refresh += f' data-lang="{escape(query["data_lang"])}"' if "data_lang" in query else ""
    refresh += f' data-site="{escape(query["data_site"])}"' if "data_site" in query else ""
    # The snippet exactly as the README gives it (plus the optional refresh attribute).
    snippet = (
        f'<div id="comments" data-thread="{escape(query["thread"])}"{refresh}></div>'
        f'<script src="{escape(query["service"])}/embed.js" async></script>'
    )
    page = (
        f'<!doctype html><html lang="{escape(query.get("lang", "en"))}">'
        '<head><meta charset="utf-8">'
        "<title>City budget: what changed</title>"
        f"<style>{query.get('css', '')}</style></head><body>"
        "<article><h1>City budget: what changed</h1>"
        "<p>The council approved the budget on Tuesday.</p></article>"
        f"{snippet}</body></html>"
    )
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [page.encode()]


@pytest.fixture(scope="session")
def host_page() -> Iterator[HostPage]:
    """A second origin serving pages with the embed snippet and hostile CSS.

    The service must list `host_page.origin` in its allowed origins, e.g. by overriding
    `settings` with dataclasses.replace(settings, allowed_origins=(host_page.origin,)).
    """
    server = LiveServer(_host_page_app).start()
    yield HostPage(server)
    server.stop()


@pytest.fixture
def stoppable_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A redis-server for one test (its URL and process), for tests that stop it midway."""
    proc, port = start_redis_server(tmp_path)
    yield f"redis://127.0.0.1:{port}/0", proc
    proc.kill()
    proc.wait(timeout=10)
