"""Storage faults and hostile sizes: every Redis failure is a 503 that says the truth, a
retry never stores a comment twice, slow Redis never stalls what needs no Redis, and no
thread or queue grows a response without bound."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import replace

import pytest
import redis
import requests

from moderation import create_app
from moderation.store.comments import REPLIES_PER_COMMENT, REPLIES_PER_PAGE
from moderation.store.migrations import migrate
from tests.conftest import LiveServer, comment, publish, submit_directly

API = "/api/v1/comments"
THREAD = "news/2026/faults"


class HoldingProxy:
    """A TCP proxy in front of a redis-server that can stop passing replies back.

    `hang()` withholds every reply from then on (a hung Redis). `hold_reply_to(b"EVALSHA")`
    forwards the next request containing that word to Redis but drops its reply, as a
    client timeout after the command was sent does: the command still runs.
    """

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.hung = threading.Event()
        self.hold_word: bytes | None = None
        self.held = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def hang(self) -> None:
        self.hung.set()

    def hold_reply_to(self, word: bytes) -> None:
        self.hold_word = word

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:  # the test's Redis is gone: so is this connection
                client.close()
                continue
            holding = threading.Event()
            threading.Thread(
                target=self._requests, args=(client, upstream, holding), daemon=True
            ).start()
            threading.Thread(
                target=self._replies, args=(upstream, client, holding), daemon=True
            ).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, holding) -> None:
        while data := _recv(client):
            with self._lock:
                if self.hold_word and self.hold_word in data:
                    self.hold_word = None
                    holding.set()
            upstream.sendall(data)
        upstream.close()

    def _replies(self, upstream: socket.socket, client: socket.socket, holding) -> None:
        while data := _recv(upstream):
            if self.hung.is_set():
                continue  # swallowed: the client waits for an answer that never comes
            if holding.is_set():
                self.held.set()
                client.close()  # the reply is lost with the connection
                return
            client.sendall(data)
        client.close()

    def close(self) -> None:
        self.listener.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


@pytest.fixture
def proxy(stoppable_redis):
    url, _ = stoppable_redis
    proxy = HoldingProxy(int(url.rsplit(":", 1)[1].split("/")[0]))
    yield proxy
    proxy.close()


def direct(stoppable_redis) -> redis.Redis:
    return redis.Redis.from_url(stoppable_redis[0], decode_responses=True)


# --- every Redis failure is a 503 ---------------------------------------------------


def test_out_of_memory_is_503_and_readyz_says_so(settings, stoppable_redis):
    app = create_app(replace(settings, redis_url=stoppable_redis[0]))
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    direct(stoppable_redis).config_set("maxmemory", "1")
    direct(stoppable_redis).config_set("maxmemory-policy", "noeviction")
    r = client.post(API, json=comment(thread=THREAD))
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
    assert "not known whether" in r.get_json()["error"]["message"]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["redis"].startswith("OutOfMemoryError")
    assert int(ready.headers["Retry-After"]) > 0
    # Liveness is not readiness: the process is fine, a restart would not help.
    assert client.get("/healthz").status_code == 200
    # Reads still work on a full Redis.
    assert client.get(f"/api/v1/threads/{THREAD}/comments").status_code == 200
    direct(stoppable_redis).config_set("maxmemory", "0")
    assert client.get("/readyz").status_code == 200
    assert client.post(API, json=comment(thread=THREAD)).status_code == 201


def test_read_only_replica_is_503_on_the_api_and_the_no_js_page(settings, stoppable_redis):
    app = create_app(replace(settings, redis_url=stoppable_redis[0]))
    client = app.test_client()
    # A replica of a master that is not there: still answers reads, refuses writes.
    direct(stoppable_redis).replicaof("127.0.0.1", "1")
    try:
        r = client.post(API, json=comment(thread=THREAD))
        assert r.status_code == 503
        assert r.get_json()["error"]["code"] == "storage_unavailable"
        assert client.get("/readyz").get_json()["checks"]["redis"].startswith("ReadOnlyError")
        stamp = client.get("/api/v1/form-stamp").get_json()["stamp"]
        page = client.post(
            "/threads/" + THREAD,
            data={**comment(content="Kept through a failover."), "stamp": stamp},
        )
        assert page.status_code == 503
        assert page.headers["Content-Type"].startswith("text/html")
        assert "Kept through a failover." in page.get_data(as_text=True)
        assert int(page.headers["Retry-After"]) > 0
    finally:
        direct(stoppable_redis).replicaof("NO", "ONE")


def test_busy_redis_is_503(settings, stoppable_redis):
    app = create_app(replace(settings, redis_url=stoppable_redis[0]))
    client = app.test_client()
    assert client.post(API, json=comment(thread=THREAD)).status_code == 201  # scripts loaded
    admin = direct(stoppable_redis)
    admin.config_set("lua-time-limit", "50")
    runner = redis.Redis.from_url(stoppable_redis[0])
    busy = threading.Thread(
        target=lambda: _ignore(lambda: runner.eval("while true do end", 0)), daemon=True
    )
    busy.start()
    probe = redis.Redis.from_url(stoppable_redis[0])
    deadline = time.monotonic() + 60
    while True:  # until Redis answers BUSY to others
        try:
            probe.ping()
        except redis.exceptions.BusyLoadingError:
            break
        except redis.ResponseError as err:
            if "BUSY" in str(err):
                break
            raise
        assert time.monotonic() < deadline, "the script never made Redis busy"
        time.sleep(0.02)
    try:
        r = client.post(API, json=comment(thread=THREAD, content="Sent while Redis is busy."))
        assert r.status_code == 503
        assert r.get_json()["error"]["code"] == "storage_unavailable"
        assert client.get(f"/api/v1/threads/{THREAD}/comments").status_code == 503
    finally:
        probe.script_kill()
        busy.join(timeout=30)


def _ignore(call) -> None:
    with contextlib.suppress(redis.RedisError):
        call()


# --- a timeout after the write was sent --------------------------------------------


def test_a_retry_after_a_lost_reply_answers_the_stored_comment(settings, stoppable_redis, proxy):
    app = create_app(replace(settings, redis_url=proxy.url, redis_timeout=0.5))
    client = app.test_client()
    assert client.post(API, json=comment(thread=THREAD)).status_code == 201  # scripts loaded
    body = comment(thread=THREAD, content="Sent once, answered never, retried.")
    headers = {"Idempotency-Key": "attempt-7f3a"}
    proxy.hold_reply_to(b"EVALSHA")
    first = client.post(API, json=body, headers=headers)
    assert proxy.held.is_set()
    assert_unavailable_json(first)

    # The script ran: the comment is in Redis although the client was told 503.
    stored = [
        key
        for key in direct(stoppable_redis).scan_iter(match=f"{{{settings.key_prefix}}}:comment:*")
        if direct(stoppable_redis).hget(key, "content") == body["content"]
    ]
    assert len(stored) == 1

    retry = client.post(API, json=body, headers=headers)
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert stored[0].endswith(f":{retry.get_json()['id']}")
    again = client.post(API, json=body, headers=headers)
    assert again.get_json()["id"] == retry.get_json()["id"]
    listed = client.get(f"/api/v1/threads/{THREAD}/comments").get_json()
    assert sum(item["content"].count("retried") for item in listed["items"]) <= 1


def assert_unavailable_json(response) -> None:
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "storage_unavailable"
    assert "Nothing was saved" not in error["message"]
    assert "not known whether" in error["message"]
    assert int(response.headers["Retry-After"]) > 0


def test_idempotency_key_stores_a_submission_once(client, services):
    body = comment(thread=THREAD, content="Double-clicked post button.")
    first = client.post(API, json=body, headers={"Idempotency-Key": "k-1"})
    second = client.post(API, json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    # The reader fixed a typo after an error and sent it again: that is a comment of its own.
    edited = client.post(
        API,
        json={**body, "content": "Double-clicked the post button."},
        headers={"Idempotency-Key": "k-1"},
    )
    assert edited.status_code == 201 and edited.get_json()["id"] != first.get_json()["id"]
    # Without a key (and without a stamp) every post is new.
    assert client.post(API, json=body).get_json()["id"] != first.get_json()["id"]
    # Another commenter using the same key is not answered with someone else's comment.
    other = client.post(
        API, json={**body, "email": "someone.else@example.org"}, headers={"Idempotency-Key": "k-1"}
    )
    assert other.get_json()["id"] != first.get_json()["id"]


def test_the_form_stamp_is_the_default_idempotency_key(client):
    stamp = client.get("/api/v1/form-stamp").get_json()["stamp"]
    body = comment(thread=THREAD, content="Sent twice from one form.", stamp=stamp)
    first = client.post(API, json=body).get_json()
    assert client.post(API, json=body).get_json()["id"] == first["id"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "naïve"])
def test_a_malformed_idempotency_key_is_400(client, key):
    r = client.post(API, json=comment(thread=THREAD), headers={"Idempotency-Key": key})
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "bad_idempotency_key"


# --- a hung Redis does not stall what needs no Redis --------------------------------


def test_a_hung_redis_does_not_stall_static_assets_or_liveness(settings, proxy):
    # Redis answers nothing for a minute; assets and liveness need no Redis and answer.
    app = create_app(replace(settings, redis_url=proxy.url, redis_timeout=60))
    server = LiveServer(app).start()
    try:
        assert requests.get(server.url + "/embed.js", timeout=30).status_code == 200
        proxy.hang()
        for path in ("/embed.js", "/embed.css", "/healthz", "/embed.js"):
            assert requests.get(server.url + path, timeout=30).status_code == 200, path
    finally:
        server.stop()


def test_the_model_watch_runs_off_the_request_path(app, services):
    # No request handler checks the registry: a thread does, started on the first request.
    assert all(
        "model_watch.poll" not in getattr(fn, "__qualname__", "")
        for fn in app.before_request_funcs.get(None, [])
    )
    app.test_client().get("/embed.js")
    deadline = time.monotonic() + 60
    while not any(t.name == "model-watch" and t.is_alive() for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.05)


# --- lone surrogates --------------------------------------------------------------


@pytest.mark.parametrize("field", ["author", "content", "thread", "url", "email"])
def test_lone_surrogates_are_422_naming_the_field(client, field, services):
    value = {"url": "https://example.org/\ud800", "email": "a\ud800@example.org"}.get(
        field, "text \ud800 here"
    )
    raw = json.dumps(comment(**{field: value}))  # JSON escapes it: "\\ud800"
    r = client.post(API, data=raw, content_type="application/json")
    assert r.status_code == 422, r.get_data(as_text=True)
    assert field in r.get_json()["error"]["fields"]


def test_lone_surrogate_in_a_claims_thread_is_422(client, services):
    token, _ = services.tokens.create("Ada", "moderator")
    r = client.post(
        "/api/v1/moderation/claims",
        data=json.dumps({"limit": 5, "thread": "news/\udfff"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 422
    assert "thread" in r.get_json()["error"]["fields"]


# --- replies come in pages -------------------------------------------------------


def test_a_root_with_many_replies_is_paged(client, services):
    (root,) = publish(services, THREAD, None, 1, "Root")
    replies = publish(services, THREAD, root, 230)
    page = client.get(f"/api/v1/threads/{THREAD}/comments?limit=1").get_json()
    (item,) = page["items"]
    assert page["total"] == 231
    assert item["reply_count"] == 230
    assert [r["id"] for r in item["replies"]] == replies[:REPLIES_PER_COMMENT]
    assert item["replies_cursor"] == str(replies[REPLIES_PER_COMMENT - 1])

    seen = [r["id"] for r in item["replies"]]
    cursor = item["replies_cursor"]
    while cursor:
        more = client.get(f"/api/v1/comments/{root}/replies?limit=50&cursor={cursor}").get_json()
        assert more["parent"] == root and more["total"] == 230
        assert len(more["items"]) <= 50
        seen += [r["id"] for r in more["items"]]
        cursor = more["next_cursor"]
    assert seen == replies


def test_a_page_holds_a_bounded_number_of_replies_at_any_depth(client, services):
    roots = publish(services, THREAD, None, 3, "Root")
    for root in roots:
        for child in publish(services, THREAD, root, 12, "Child"):
            publish(services, THREAD, child, 4, "Grandchild")
    page = client.get(f"/api/v1/threads/{THREAD}/comments").get_json()

    def replies(items):
        return sum(len(i["replies"]) + replies(i["replies"]) for i in items)

    assert replies(page["items"]) == REPLIES_PER_PAGE

    # Every comment says how many replies it has and whether more can be fetched.
    def check(items):
        for i in items:
            assert (i["replies_cursor"] is not None) == (i["reply_count"] > len(i["replies"]))
            check(i["replies"])

    check(page["items"])
    cut = [i for i in page["items"] if i["replies_cursor"]]
    assert cut, "the budget ran out before every reply was shown"


def test_replies_of_an_unpublished_or_unknown_comment_are_404(client, services):
    r = client.get("/api/v1/comments/999999999/replies")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    held = client.post(
        API,
        json=comment(
            thread=THREAD, content="Buy now http://a.example http://b.example http://c.example"
        ),
    ).get_json()
    assert held["status"] == "pending"
    assert client.get(f"/api/v1/comments/{held['id']}/replies").status_code == 404


def test_the_no_js_page_links_to_more_replies(client, services):
    (root,) = publish(services, THREAD, None, 1, "Root")
    replies = publish(services, THREAD, root, REPLIES_PER_COMMENT + 5)
    html = client.get("/threads/" + THREAD).get_data(as_text=True)
    assert f"comment-{replies[REPLIES_PER_COMMENT - 1]}" in html
    assert f'comment-{replies[REPLIES_PER_COMMENT]}"' not in html
    assert "Show more replies (5)" in html
    last_shown = replies[REPLIES_PER_COMMENT - 1]
    link = f"/threads/{THREAD.replace('/', '%2F')}?replies_of={root}&amp;cursor={last_shown}"
    assert link in html
    more = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    for cid in replies[REPLIES_PER_COMMENT:]:
        assert f'id="comment-{cid}"' in more
    assert "All comments" in more


# --- the uncertain queue of one thread ------------------------------------------


def test_a_threads_uncertain_queue_ranks_every_member(services, client):
    store = services.comments
    base = {
        "thread": THREAD,
        "parent": None,
        "author": "Bulk",
        "content": "Queued",
        "created_at": "2026-12-01T00:00:00.000Z",
        "status": "pending",
        "email_hash": "h",
    }
    for _ in range(5_200):
        cid = store.next_id()
        store.add({**base, "id": cid, "created_ms": cid, "score": 0.95})
    # The newest comment is the least certain: it comes first however many are older.
    newest = store.next_id()
    store.add({**base, "id": newest, "created_ms": newest, "score": 0.5})
    token, _ = services.tokens.create("Ada", "moderator")
    r = client.get(
        f"/api/v1/moderation/queue?thread={THREAD}&order=uncertain&limit=2",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    assert [item["id"] for item in r.get_json()["items"]][0] == newest
    claimed = client.post(
        "/api/v1/moderation/claims",
        json={"limit": 1, "thread": THREAD, "order": "uncertain"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert [item["id"] for item in claimed.get_json()["items"]] == [newest]


def test_migration_builds_the_thread_uncertainty_index(services):
    # Thresholds nothing scores outside of: the three comments are pending whatever the
    # model of the day thinks of them (the migration, not the model, is under test).
    ids = []
    for i in range(3):
        body = comment(thread=THREAD, content=f"Sources: https://a.example https://b.example ({i})")
        record = submit_directly(services, body, publish_below=0.0, spam_above=1.01)
        assert record["status"] == "pending"
        ids.append(record["id"])
    keys, r = services.comments.keys, services.redis
    index = keys.thread_uncertainty(THREAD, "pending")
    before = r.zrange(index, 0, -1, withscores=True)
    assert len(before) == 3
    r.delete(index, keys.schema_version)  # data written by the version before
    assert migrate(r, keys) == 2
    assert r.zrange(index, 0, -1, withscores=True) == before
    assert migrate(r, keys) == 2  # a second run changes nothing
    assert sorted(int(m) for m in r.zrange(index, 0, -1)) == ids
