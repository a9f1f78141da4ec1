"""Many moderators at once, leases that run out, and connections or servers that die
half-way: every comment is still decided exactly once, with its audit entry and its
training label, or not at all."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import requests

from moderation import create_app
from moderation.config import Settings
from moderation.redis_server import connect, free_port
from moderation.store.comments import CommentStore, padded
from moderation.store.keys import STATUSES, Keys
from moderation.store.review import ReviewQueue
from moderation.store.tokens import TokenInfo
from tests.conftest import LiveServer, comment, start_redis_server

LINKS = "Sources: https://a.example/report and https://b.example/minutes"
ACTIONS = ("approve", "reject", "spam")


def seed_pending(store: CommentStore, n: int, thread: str = "busy-thread") -> list[int]:
    """Pending comments written through the store's one atomic script."""
    ids = []
    for i in range(n):
        cid = store.next_id()
        now = datetime.now(UTC)
        store.add(
            {
                "id": cid,
                "thread": thread,
                "author": f"Reader {i}",
                "content": f"{LINKS} ({i})",
                "created_at": now.isoformat(),
                "created_ms": int(now.timestamp() * 1000),
                "status": "pending",
                "machine_status": "pending",
                "score": 0.5 + (i % 40) / 100,
                "model_version": "test",
                "rules": [],
                "email_hash": f"hash{i % 7}",
            }
        )
        ids.append(cid)
    return ids


def check_all_or_nothing(client: redis.Redis, keys: Keys, ids: list[int]) -> Counter:
    """Each comment is either decided with exactly one audit entry and one training label
    and sits in exactly the indexes of its status, or is untouched. Returns the statuses."""
    audit = Counter(e["comment_id"] for _, e in client.xrange(keys.audit))
    labels = Counter(e["comment_id"] for _, e in client.xrange(keys.training_log))
    statuses: Counter = Counter()
    for cid in ids:
        status, thread = client.hmget(keys.comment(cid), "status", "thread")
        statuses[status] += 1
        expected = 0 if status == "pending" else 1
        assert audit[str(cid)] == expected, (cid, status, audit[str(cid)])
        assert labels[str(cid)] == expected, (cid, status, labels[str(cid)])
        for other in STATUSES:
            inside = other == status
            assert (client.zscore(keys.status(other), cid) is not None) == inside, (cid, other)
            member = client.zscore(keys.thread_status(thread, other), cid) is not None
            assert member == inside, (cid, other)
            uncertain = client.zscore(keys.uncertainty(other), padded(cid)) is not None
            assert uncertain == inside, (cid, other)
        published = client.zscore(keys.thread_published(thread), cid) is not None
        assert published == (status == "published")
    day = datetime.now(UTC).date().isoformat()
    counted = sum(int(n) for n in client.hvals(keys.decisions_on(day)))
    assert counted == sum(n for s, n in statuses.items() if s != "pending")
    return statuses


def test_ten_moderators_over_http_never_share_an_item(live, services):
    ids = seed_pending(services.comments, 150)
    tokens = [services.tokens.create(f"mod{i}", "moderator")[0] for i in range(10)]
    received: dict[int, list[int]] = {}
    errors: list[str] = []

    # One moderator claims and walks away: the lease runs out and the others finish it.
    walked_away = requests.post(
        live + "/api/v1/moderation/claims",
        json={"limit": 5, "lease_seconds": 1},
        headers={"Authorization": f"Bearer {tokens[0]}"},
    ).json()
    assert len(walked_away["items"]) == 5

    def moderate(n: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[n]}"}
        mine: list[int] = []
        deadline = time.monotonic() + 60
        with requests.Session() as http:
            while time.monotonic() < deadline:
                page = http.post(
                    live + "/api/v1/moderation/claims", json={"limit": 4}, headers=headers
                )
                if page.status_code != 200:
                    errors.append(page.text)
                    return
                items = page.json()["items"]
                if not items:
                    if services.comments.count("pending") == 0:
                        break
                    time.sleep(0.2)  # the walked-away lease has not run out yet
                    continue
                for item in items:
                    mine.append(item["id"])
                    r = http.post(
                        f"{live}/api/v1/moderation/comments/{item['id']}/decision",
                        json={"action": ACTIONS[item["id"] % 3]},
                        headers=headers,
                    )
                    if r.status_code != 200 or r.json()["already_decided"]:
                        errors.append(r.text)
        received[n] = mine

    threads = [threading.Thread(target=moderate, args=(n,)) for n in range(1, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    everything = [cid for mine in received.values() for cid in mine]
    assert len(everything) == len(set(everything)) == len(ids)
    assert sorted(everything) == ids
    assert len([n for n in received.values() if n]) >= 2  # the work really was shared
    statuses = check_all_or_nothing(services.redis, services.comments.keys, ids)
    assert statuses["pending"] == 0


def _moderator_process(url: str, prefix: str, name: str, out: multiprocessing.Queue) -> None:
    client = connect(url)
    review = ReviewQueue(client, Keys(prefix))
    me = TokenInfo(id=uuid.uuid4().hex[:12], name=name, role="moderator", created_at="")
    mine: list[int] = []
    while True:
        claim = review.claim_next(me, 3)
        if not claim.ids:
            break
        for cid in claim.ids:
            mine.append(int(cid))
            decision = review.decide(int(cid), ACTIONS[int(cid) % 3], me)
            assert decision.outcome == "decided", decision
    out.put((name, mine))


def test_moderators_in_separate_processes_decide_each_item_once(settings, services):
    ids = seed_pending(services.comments, 120)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_moderator_process, args=(settings.redis_url, settings.key_prefix, f"p{n}", out)
        )
        for n in range(4)
    ]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    everything = [cid for mine in results.values() for cid in mine]
    assert sorted(everything) == ids
    statuses = check_all_or_nothing(services.redis, services.comments.keys, ids)
    assert statuses["pending"] == 0


# -- dying connections and servers -------------------------------------------------


class Server:
    """A redis-server of this test's own, persisting every write (appendfsync always)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self.proc, _ = start_redis_server(self.workdir, self.port, persist=True)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def own_server(tmp_path):
    server = Server(tmp_path).start()
    yield server
    if server.proc and server.proc.poll() is None:
        server.proc.terminate()
        server.proc.wait(timeout=10)


def _decide_until_stopped(url: str, keys: Keys, ids: list[int], stop: threading.Event) -> None:
    # No retries: a dropped connection must surface, not be papered over.
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2, retry=None)
    review = ReviewQueue(client, keys)
    me = TokenInfo(id="abcdef123456", name="Ada", role="moderator", created_at="")
    for cid in ids:
        if stop.is_set():
            return
        try:
            review.decide(cid, ACTIONS[cid % 3], me)
        except (redis.ConnectionError, redis.TimeoutError):
            time.sleep(0.001)


def test_killed_connections_leave_each_decision_whole_or_absent(own_server):
    keys = Keys(f"drop-{uuid.uuid4().hex[:8]}")
    client = connect(own_server.url)
    ids = seed_pending(CommentStore(client, keys), 400)
    stop = threading.Event()
    worker = threading.Thread(target=_decide_until_stopped, args=(own_server.url, keys, ids, stop))
    killer = redis.Redis(port=own_server.port)
    kills = 0
    worker.start()
    while worker.is_alive():
        kills += killer.client_kill_filter(_type="normal", skipme=True)
        time.sleep(0.002)
    assert kills > 10  # connections really were cut mid-run
    statuses = check_all_or_nothing(client, keys, ids)
    assert statuses["pending"] < len(ids)  # and some decisions still got through


def test_a_server_killed_mid_run_restarts_with_whole_decisions_only(own_server):
    keys = Keys(f"crash-{uuid.uuid4().hex[:8]}")
    client = connect(own_server.url)
    ids = seed_pending(CommentStore(client, keys), 3000)
    stop = threading.Event()
    worker = threading.Thread(target=_decide_until_stopped, args=(own_server.url, keys, ids, stop))
    worker.start()
    deadline = time.monotonic() + 30
    while client.zcard(keys.status("pending")) > len(ids) - 100:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    own_server.kill()  # SIGKILL: no chance to finish anything
    stop.set()
    worker.join(timeout=30)
    own_server.start()  # replays the append-only file
    client = connect(own_server.url)
    statuses = check_all_or_nothing(client, keys, ids)
    assert 0 < statuses["pending"] < len(ids)


def test_app_on_a_live_server_decides_through_a_restarted_redis(own_server, tmp_path, model_path):
    """After the server comes back, the same app carries on without a restart."""
    settings = Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        redis_url=own_server.url,
        key_prefix=f"restart-{uuid.uuid4().hex[:8]}",
        secret_key="test-secret-key",
        model_path=model_path,
    )
    app = create_app(settings)
    svc = app.extensions["moderation"]
    token, _ = svc.tokens.create("Ada", "moderator")
    headers = {"Authorization": f"Bearer {token}"}
    server = LiveServer(app).start()
    try:
        posted = requests.post(
            server.url + "/api/v1/comments", json=comment(content=f"{LINKS} (1)"), timeout=10
        ).json()
        own_server.kill()
        down = requests.post(
            f"{server.url}/api/v1/moderation/comments/{posted['id']}/decision",
            json={"action": "approve"},
            headers=headers,
            timeout=30,
        )
        assert down.status_code == 503 and down.json()["error"]["code"]
        own_server.start()
        up = requests.post(
            f"{server.url}/api/v1/moderation/comments/{posted['id']}/decision",
            json={"action": "approve"},
            headers=headers,
            timeout=30,
        )
        assert up.status_code == 200, up.text
        assert up.json()["already_decided"] is False
    finally:
        server.stop()
