"""Observability: /metrics after real requests, request ids on log lines and responses,
and counters of several gunicorn workers added up under a real `moderation serve`."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import signal
import stat
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from moderation import create_app
from moderation.logs import json_formatter
from tests.conftest import LIMITS_OFF_ENV, PATIENCE_SECONDS, comment
from tests.test_embedded_redis import Service

API = "/api/v1/comments"
LINKS = "Sources: https://a.example/report and https://b.example/minutes"
EMAIL = comment()["email"]
STORED = re.compile(r"comment (\d+) in thread ")  # the line public.store_comment logs


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition: (sample name, its labels) -> value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def scrape(client) -> tuple[dict, str]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    return samples(r.text), r.text


def bearer(services, name: str = "Ada") -> dict[str, str]:
    token, _ = services.tokens.create(name, "moderator")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def settings(settings):
    # Three links wait for review; no model may call them spam outright.
    return dataclasses.replace(settings, spam_above=0.99)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The JSON lines the app writes, as `moderation serve` formats them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield out
    root.removeHandler(handler)


def entries(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


# --- counters after real requests ----------------------------------------------------


def test_submissions_requests_and_scoring_are_counted(client, services):
    assert client.post(API, json=comment()).get_json()["status"] == "published"
    assert client.post(API, json=comment(content=LINKS)).get_json()["status"] == "pending"
    assert client.post(API, json=comment(homepage="x")).status_code == 201  # spam, said pending
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post(API, json=comment(content="Once only, please."), headers=key)
    again = client.post(API, json=comment(content="Once only, please."), headers=key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json()["id"] == again.get_json()["id"]
    assert client.post(API, json={"thread": "t"}).status_code == 422
    assert client.get("/api/v1/threads/news/2026/city-budget/comments").status_code == 200
    assert client.get("/no/such/page").status_code == 404

    found, text = scrape(client)
    submitted = "moderation_comments_submitted_total"
    # The replay stored nothing new, and the 422 never reached the store.
    assert value(found, submitted, outcome="published") == 2
    assert value(found, submitted, outcome="pending") == 1
    assert value(found, submitted, outcome="spam") == 1
    requests_total = "moderation_http_requests_total"
    assert value(found, requests_total, method="POST", route=API, status="201") == 5
    assert value(found, requests_total, method="POST", route=API, status="422") == 1
    thread_rule = "/api/v1/threads/<thread:thread>/comments"
    assert value(found, requests_total, method="GET", route=thread_rule, status="200") == 1
    assert value(found, requests_total, method="GET", route="unmatched", status="404") == 1
    duration = "moderation_http_request_duration_seconds_count"
    assert value(found, duration, method="POST", route=API) == 6
    # Every comment that got past validation was scored, the replay too.
    assert value(found, "moderation_scoring_duration_seconds_count") == 5
    assert value(found, "moderation_scoring_duration_seconds_sum") > 0
    # Routes are URL rules: the raw paths (a thread id, a made-up page) are no label.
    assert "city-budget" not in text and "/no/such/page" not in text


def test_decisions_are_counted_by_action_and_outcome(client, services):
    headers = bearer(services)
    ids = [client.post(API, json=comment(content=f"{LINKS} {i}")).get_json()["id"] for i in (1, 2)]
    decide = f"/api/v1/moderation/comments/{ids[0]}/decision"
    assert client.post(decide, json={"action": "approve"}, headers=headers).status_code == 200
    assert client.post(decide, json={"action": "approve"}, headers=headers).status_code == 200
    bulk = client.post(
        "/api/v1/moderation/decisions",
        json={"ids": [ids[1], 999_999], "action": "spam"},
        headers=headers,
    )
    assert bulk.status_code == 200

    found, _ = scrape(client)
    decisions = "moderation_decisions_total"
    assert value(found, decisions, action="approve", outcome="decided") == 1
    assert value(found, decisions, action="approve", outcome="already_decided") == 1
    assert value(found, decisions, action="spam", outcome="decided") == 1
    assert value(found, decisions, action="spam", outcome="not_found") == 1
    assert value(found, decisions, action="reject", outcome="decided") == 0


def test_queue_depth_equals_the_store_and_the_model_version_is_shown(client, services):
    client.post(API, json=comment())
    client.post(API, json=comment(content=LINKS))
    client.post(API, json=comment(content=LINKS + " again"))
    client.post(API, json=comment(homepage="x"))

    # A second site's queue is its own series.
    services.sites.create("blog", {})
    client.post(API, json={**comment(content=LINKS), "site": "blog"})

    found, _ = scrape(client)
    for status in ("published", "pending", "spam", "rejected"):
        depth = value(found, "moderation_queue_depth", site="default", status=status)
        assert depth == services.comments.count(status), status
    assert value(found, "moderation_queue_depth", site="default", status="pending") == 2
    assert value(found, "moderation_queue_depth", site="blog", status="pending") == 1
    assert value(found, "moderation_queue_depth", site="blog", status="published") == 0
    assert value(found, "moderation_storage_up") == 1
    assert value(found, "moderation_model_info", version=services.model.version) == 1


def test_metrics_name_no_commenter_and_no_secret(client, services, settings):
    created = client.post(
        API,
        json=comment(url="https://maria.example.org/blog"),
        headers={"User-Agent": "Mozilla/5.0 (X11) Firefox/140.0"},
        environ_base={"REMOTE_ADDR": "203.0.113.77"},
    )
    assert created.status_code == 201
    _, text = scrape(client)
    for private in (
        EMAIL,
        "maria.keller",
        "Maria Keller",
        "maria.example.org",
        "203.0.113.77",
        "Firefox",
        settings.secret_key,
        settings.key_prefix,
    ):
        assert private not in text, private


def test_metrics_are_on_the_app_not_in_the_api_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/metrics" not in paths
    assert client.post("/metrics").status_code == 405
    # The format Prometheus asks for: OpenMetrics, else the classic text format.
    assert client.get("/metrics").headers["Content-Type"].startswith("text/plain; version=0.0.4")
    open_metrics = client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert open_metrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert open_metrics.text.endswith("# EOF\n")


def test_metrics_can_be_turned_off(settings):
    app = create_app(dataclasses.replace(settings, metrics=False))
    client = app.test_client()
    assert client.post(API, json=comment()).status_code == 201
    assert client.get("/metrics").status_code == 404
    assert "moderation.metrics" not in app.extensions


def test_metrics_answer_while_redis_is_down(settings, stoppable_redis, log_lines):
    url, proc = stoppable_redis
    client = create_app(dataclasses.replace(settings, redis_url=url)).test_client()
    assert client.post(API, json=comment()).status_code == 201
    proc.kill()
    proc.wait(timeout=PATIENCE_SECONDS)
    assert client.post(API, json=comment(), headers={"X-Request-ID": "down-1"}).status_code == 503

    found, _ = scrape(client)
    assert not [key for key in found if key[0] == "moderation_queue_depth"]
    assert value(found, "moderation_storage_up") == 0
    assert value(found, "moderation_comments_submitted_total", outcome="published") == 1
    assert (
        value(found, "moderation_http_requests_total", method="POST", route=API, status="503") == 1
    )
    assert [key for key in found if key[0] == "moderation_model_info"]
    # What the failing request logged carries its id; the scrape's warning carries its own.
    failed = [e for e in entries(log_lines) if e.get("request_id") == "down-1"]
    assert failed and all("Redis" in e["message"] for e in failed), entries(log_lines)


# --- /readyz, which container healthchecks and load balancers ask every few seconds ---


def commands(client) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): stats["calls"]
        for name, stats in client.info("commandstats").items()
    }


def test_readyz_costs_redis_one_small_write(settings, stoppable_redis):
    url, _ = stoppable_redis
    app = create_app(dataclasses.replace(settings, redis_url=url))
    client = app.test_client()
    direct = app.extensions["moderation"].redis
    assert client.get("/readyz").get_json()["model_version"]
    before = commands(direct)
    for _ in range(10):
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json()["model_version"] == app.extensions["moderation"].model.version
    after = commands(direct)
    grew = {name: after[name] - before.get(name, 0) for name in after}
    assert grew.pop("set") == 10
    # Besides: this INFO, and the model watch's GET of the active version (a thread of its
    # own, on its interval) or redis-py's PING on an idle connection. Nothing that scans.
    assert {name for name, n in grew.items() if n} <= {"info", "get", "ping"}, grew


# --- request ids ---------------------------------------------------------------------


def test_a_sane_request_id_is_kept_and_echoed(client, log_lines):
    r = client.post(API, json=comment(), headers={"X-Request-ID": "req-42.a_b:c"})
    assert r.status_code == 201
    assert r.headers["X-Request-ID"] == "req-42.a_b:c"
    stored = [e for e in entries(log_lines) if e["message"].startswith("comment ")]
    assert len(stored) == 1 and stored[0]["request_id"] == "req-42.a_b:c"
    assert EMAIL not in log_lines.getvalue()


@pytest.mark.parametrize(
    "sent",
    ["", "two words", "maria.keller@example.org", "x" * 129, "-leading-dash", 'q"uote', "é"],
    ids=["empty", "space", "email", "too-long", "dash", "quote", "non-ascii"],
)
def test_an_insane_request_id_is_replaced(client, log_lines, sent):
    r = client.get("/healthz", headers={"X-Request-ID": sent})
    made = r.headers["X-Request-ID"]
    assert made != sent and len(made) == 32 and int(made, 16) >= 0
    assert EMAIL not in log_lines.getvalue()


def test_each_request_gets_its_own_id_and_lines_outside_requests_none(client, log_lines):
    ids = {client.post(API, json=comment()).headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3
    logged = [e for e in entries(log_lines) if e["message"].startswith("comment ")]
    assert {e["request_id"] for e in logged} == ids
    logging.getLogger("moderation.test").warning("outside any request")
    assert "request_id" not in entries(log_lines)[-1]


def test_error_answers_carry_the_request_id(client):
    for r in (
        client.get("/no/such/page", headers={"X-Request-ID": "e-404"}),
        client.post(
            API, data="{", content_type="application/json", headers={"X-Request-ID": "e-400"}
        ),
    ):
        assert r.headers["X-Request-ID"] == r.request.headers["X-Request-ID"]


# --- a real `moderation serve --workers 2` ----------------------------------------------


def submitted_by_process(folder: Path) -> dict[int, float]:
    """Comments counted in each process's own file of the metrics directory."""
    counts: dict[int, float] = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            if metric.name == "moderation_comments_submitted":
                counts[pid] = sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return counts


class Served:
    def __init__(self, service: Service, metrics_dir: Path) -> None:
        self.service = service
        self.metrics_dir = metrics_dir
        self.posted: dict[str, int] = {}  # request id -> comment id

    def post(self, n: int) -> None:
        def one(_: int) -> tuple[str, int]:
            rid = f"serve-{uuid.uuid4().hex[:12]}"
            r = requests.post(
                self.service.base + API,
                json=comment(content=f"Comment {rid}: the budget figures do not add up."),
                headers={"X-Request-ID": rid},
                timeout=PATIENCE_SECONDS,
            )
            assert r.status_code == 201, r.text
            assert r.headers["X-Request-ID"] == rid
            return rid, r.json()["id"]

        # Concurrent posts: a sync worker serves one at a time, so the other takes its share.
        with ThreadPoolExecutor(4) as pool:
            self.posted.update(pool.map(one, range(n)))

    def scrape(self) -> dict:
        r = requests.get(self.service.base + "/metrics", timeout=PATIENCE_SECONDS)
        assert r.status_code == 200
        return samples(r.text)


def submitted(found: dict) -> float:
    return sum(v for (name, _), v in found.items() if name == "moderation_comments_submitted_total")


@pytest.fixture(scope="module")
def served(tmp_path_factory, redis_url, model_path) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("serve-metrics")
    scratch = folder / "tmp"
    scratch.mkdir()
    service = Service(
        folder,
        folder / "var",
        model_path,
        workers=2,
        REDIS_URL=redis_url,
        MODERATION_KEY_PREFIX=f"test-{uuid.uuid4().hex[:12]}",
        TMPDIR=str(scratch),  # where `serve` makes its metrics directory
        **LIMITS_OFF_ENV,  # dozens of posts from one address in seconds
    ).wait_healthy()
    try:
        made = list(scratch.glob("moderation-metrics-*"))
        assert len(made) == 1, made
        yield Served(service, made[0])
    finally:
        service.stop()
    assert service.proc.returncode == 0, service.output()[-3000:]
    assert not list(scratch.iterdir()), "the metrics directory is removed at exit"


@pytest.mark.slow
def test_counters_of_every_worker_add_up(served):
    assert stat.S_IMODE(served.metrics_dir.stat().st_mode) == 0o700
    # Until both workers have stored comments (a bound, not a time limit).
    for _ in range(50):
        served.post(8)
        if len([n for n in submitted_by_process(served.metrics_dir).values() if n]) >= 2:
            break
    by_process = submitted_by_process(served.metrics_dir)
    assert len([n for n in by_process.values() if n]) >= 2, by_process
    total = len(served.posted)
    assert sum(by_process.values()) == total
    for _ in range(6):  # whichever worker answers the scrape sees the same sums
        found = served.scrape()
        assert submitted(found) == total
        posts = value(
            found, "moderation_http_requests_total", method="POST", route=API, status="201"
        )
        assert posts == total

    # A worker killed outright: gunicorn starts another, and its counts stay in the sums.
    victim = next(pid for pid, n in by_process.items() if n and pid != served.service.proc.pid)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + PATIENCE_SECONDS
    while _alive(victim) and time.monotonic() < deadline:
        time.sleep(0.1)
    served.post(4)
    assert submitted(served.scrape()) == total + 4


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_serve_logs_json_lines_with_each_requests_id(served):
    served.post(3)
    expected = {cid: rid for rid, cid in served.posted.items()}
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        lines = [json.loads(line) for line in served.service.lines()]  # every line is JSON
        found = {
            int(match[1]): e.get("request_id")
            for e in lines
            if (match := STORED.match(e["message"]))
        }
        if set(expected) <= set(found) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {cid: found.get(cid) for cid in expected} == expected
    assert EMAIL not in served.service.output()
    assert "maria.keller" not in served.service.output()
