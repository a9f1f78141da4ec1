"""Claims with leases and decisions made exactly once, through the moderators' API."""

from __future__ import annotations

import dataclasses
import time

import pytest

from tests.conftest import comment

CLAIMS = "/api/v1/moderation/claims"
BULK = "/api/v1/moderation/decisions"
STATS = "/api/v1/moderation/stats"
LINKS = "Sources: https://a.example/report and https://b.example/minutes"


def decision_url(cid: int) -> str:
    return f"/api/v1/moderation/comments/{cid}/decision"


def bearer(services, name: str, role: str = "moderator") -> dict[str, str]:
    token, _ = services.tokens.create(name, role)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def settings(settings):
    # Comments with three links wait for review; no model may call them spam outright.
    return dataclasses.replace(settings, spam_above=0.99)


@pytest.fixture
def ada(services):
    return bearer(services, "Ada")


@pytest.fixture
def ben(services):
    return bearer(services, "Ben")


def post(client, **overrides) -> dict:
    r = client.post("/api/v1/comments", json=comment(**overrides))
    assert r.status_code == 201, r.text
    return r.get_json()


def post_pending(client, n: int, thread: str = "news/2026/city-budget") -> list[int]:
    """Comments with three links: the links rule sends each to review."""
    ids = []
    for i in range(n):
        body = post(client, thread=thread, content=f"{LINKS} ({i})", email=f"r{i}@example.org")
        assert body["status"] == "pending"
        ids.append(body["id"])
    return ids


def claim(client, headers, **body) -> dict:
    r = client.post(CLAIMS, json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.get_json()


def ids_of(page: dict) -> list[int]:
    return [item["id"] for item in page["items"]]


def decide(client, headers, cid: int, action: str):
    return client.post(decision_url(cid), json={"action": action}, headers=headers)


def audit_of(services, cid: int) -> list[dict]:
    return [
        e
        for _, e in services.redis.xrange(services.comments.keys.audit)
        if e["comment_id"] == str(cid)
    ]


def training_of(services, cid: int) -> list[dict]:
    log = services.redis.xrange(services.comments.keys.training_log)
    return [e for _, e in log if e["comment_id"] == str(cid)]


# -- claims ------------------------------------------------------------------------


def test_claims_take_the_oldest_and_hide_them_from_other_moderators(client, ada, ben, services):
    ids = post_pending(client, 5)
    first = claim(client, ada, limit=3)
    assert ids_of(first) == ids[:3]
    assert all(item["claimed_by"] == "Ada" for item in first["items"])
    assert first["lease_expires_at"].endswith("Z")
    second = claim(client, ben, limit=3)
    assert ids_of(second) == ids[3:]
    assert claim(client, bearer(services, "Cy"), limit=3)["items"] == []
    # Claiming again renews one's own claims instead of failing on them.
    assert ids_of(claim(client, ada, limit=3)) == ids[:3]


def test_claim_order_thread_and_status_filters(client, ada):
    here = post_pending(client, 2, thread="here")
    elsewhere = post_pending(client, 2, thread="elsewhere")
    assert ids_of(claim(client, ada, limit=5, thread="here")) == here
    assert ids_of(claim(client, ada, limit=1, order="newest")) == elsewhere[-1:]
    spam = post(client, homepage="http://bot.example")  # the honeypot marks spam
    assert ids_of(claim(client, ada, limit=5, status="spam")) == [spam["id"]]


def test_claim_by_ids_reports_what_it_could_not_claim(client, ada, ben):
    ids = post_pending(client, 3)
    claim(client, ben, ids=[ids[0]])
    page = claim(client, ada, ids=[ids[0], ids[1], 999_999])
    assert ids_of(page) == [ids[1]]
    assert sorted(page["unavailable"]) == [ids[0], 999_999]


def test_ids_and_limit_together_are_refused(client, ada):
    r = client.post(CLAIMS, json={"ids": [1], "limit": 2}, headers=ada)
    assert r.status_code == 422
    assert "ids" in r.get_json()["error"]["fields"]


def test_an_expired_lease_gives_the_comment_back(client, ada, ben):
    (cid,) = post_pending(client, 1)
    claim(client, ada, limit=1, lease_seconds=1)
    assert claim(client, ben, limit=1)["items"] == []
    time.sleep(1.2)
    assert ids_of(claim(client, ben, limit=1)) == [cid]
    # Ada's lease is gone: her late decision meets Ben's claim.
    r = decide(client, ada, cid, "approve")
    assert r.status_code == 409
    assert "Ben" in r.get_json()["error"]["message"]


def test_release_gives_it_back_early(client, ada, ben, services):
    (cid,) = post_pending(client, 1)
    claim(client, ada, limit=1)
    assert client.delete(f"{CLAIMS}/{cid}", headers=ben).status_code == 409
    assert client.delete(f"{CLAIMS}/{cid}", headers=ada).status_code == 204
    assert client.delete(f"{CLAIMS}/{cid}", headers=ada).status_code == 404
    assert ids_of(claim(client, ben, limit=1)) == [cid]
    admin = bearer(services, "Root", "admin")
    assert client.delete(f"{CLAIMS}/{cid}", headers=admin).status_code == 204


def test_queue_listing_shows_who_holds_a_claim(client, ada):
    ids = post_pending(client, 2)
    claim(client, ada, ids=[ids[1]])
    items = client.get("/api/v1/moderation/queue", headers=ada).get_json()["items"]
    holders = {item["id"]: item["claimed_by"] for item in items}
    assert holders == {ids[0]: None, ids[1]: "Ada"}


# -- decisions ---------------------------------------------------------------------


def test_approve_publishes_into_the_thread(client, ada, services):
    (cid,) = post_pending(client, 1)
    claim(client, ada, limit=1)
    r = decide(client, ada, cid, "approve")
    assert r.status_code == 200, r.text
    body = r.get_json()
    assert body["status"] == "published" and body["previous_status"] == "pending"
    assert body["already_decided"] is False and body["decided_by"] == "Ada"
    thread = client.get("/api/v1/threads/news/2026/city-budget/comments").get_json()
    assert [c["id"] for c in thread["items"]] == [cid]
    assert client.get("/api/v1/moderation/queue", headers=ada).get_json()["items"] == []
    assert services.review.leases([cid]) == {}
    (entry,) = audit_of(services, cid)
    assert (entry["from"], entry["to"], entry["moderator"]) == ("pending", "published", "Ada")
    (label,) = training_of(services, cid)
    assert label["label"] == "ham" and LINKS in label["content"]
    assert "email" not in label


def test_deciding_twice_changes_and_counts_nothing(client, ada, services):
    (cid,) = post_pending(client, 1)
    assert decide(client, ada, cid, "spam").get_json()["already_decided"] is False
    again = decide(client, ada, cid, "spam").get_json()
    assert again["already_decided"] is True and again["status"] == "spam"
    assert again["decided_by"] == "Ada"
    assert len(audit_of(services, cid)) == 1
    assert len(training_of(services, cid)) == 1
    stats = client.get(STATS, headers=ada).get_json()
    today = next(iter(stats["decisions"]))
    assert stats["decisions"][today] == {"Ada": 1}
    assert stats["counts"]["spam"] == 1 and stats["counts"]["pending"] == 0


def test_a_comment_claimed_by_someone_else_answers_409(client, ada, ben, services):
    (cid,) = post_pending(client, 1)
    claim(client, ada, ids=[cid])
    r = decide(client, ben, cid, "approve")
    assert r.status_code == 409
    assert r.get_json()["error"]["code"]
    assert services.comments.get(cid)["status"] == "pending"
    assert audit_of(services, cid) == [] and training_of(services, cid) == []


def test_take_down_and_rescue_with_the_same_verbs(client, ada, services):
    published = post(client)
    assert published["status"] == "published"
    r = decide(client, ada, published["id"], "reject")
    assert r.get_json()["previous_status"] == "published"
    thread = client.get("/api/v1/threads/news/2026/city-budget/comments").get_json()
    assert thread["items"] == [] and thread["total"] == 0
    spam = post(client, homepage="http://bot.example")
    assert decide(client, ada, spam["id"], "approve").get_json()["status"] == "published"
    thread = client.get("/api/v1/threads/news/2026/city-budget/comments").get_json()
    assert [c["id"] for c in thread["items"]] == [spam["id"]]
    labels = [
        training_of(services, published["id"])[0]["label"],
        training_of(services, spam["id"])[0]["label"],
    ]
    assert labels == ["rejected", "ham"]
    rejected = client.get("/api/v1/moderation/queue?status=rejected", headers=ada).get_json()
    assert ids_of(rejected) == [published["id"]]


def test_an_approved_reply_nests_under_its_parent(client, ada):
    parent = post(client)
    reply = post(client, parent=parent["id"], content=f"{LINKS} as a reply")
    assert reply["status"] == "pending"
    decide(client, ada, reply["id"], "approve")
    thread = client.get("/api/v1/threads/news/2026/city-budget/comments").get_json()
    assert [r["id"] for r in thread["items"][0]["replies"]] == [reply["id"]]


def test_unknown_comment_is_404(client, ada):
    assert decide(client, ada, 987_654, "approve").status_code == 404
    assert client.post(decision_url(1), json={"action": "publish"}, headers=ada).status_code == 422


def test_bulk_decisions_report_each_comment(client, ada, ben, services):
    ids = post_pending(client, 4)
    claim(client, ben, ids=[ids[3]])
    decide(client, ada, ids[2], "reject")
    r = client.post(BULK, json={"ids": [*ids, 424_242], "action": "reject"}, headers=ada)
    assert r.status_code == 200, r.text
    outcomes = {res["id"]: res["outcome"] for res in r.get_json()["results"]}
    assert outcomes == {
        ids[0]: "decided",
        ids[1]: "decided",
        ids[2]: "already_decided",
        ids[3]: "conflict",
        424_242: "not_found",
    }
    assert [services.comments.get(i)["status"] for i in ids] == [
        "rejected",
        "rejected",
        "rejected",
        "pending",
    ]


def test_stats_count_decisions_per_moderator_and_the_queue_over_time(client, ada, ben):
    ids = post_pending(client, 5)
    decide(client, ada, ids[0], "approve")
    decide(client, ada, ids[1], "spam")
    decide(client, ben, ids[2], "reject")
    claim(client, ben, limit=1)
    stats = client.get(STATS, headers=ada).get_json()
    today = max(stats["decisions"])
    assert stats["decisions"][today] == {"Ada": 2, "Ben": 1}
    assert stats["counts"] == {"published": 1, "pending": 2, "spam": 1, "rejected": 1}
    assert stats["claimed"] == 1
    points = stats["queue_over_time"]
    assert len(points) == 24 and points[-1]["pending"] == 2
    # Five came in and three left this hour, so the hour before ended with none.
    assert points[-2]["pending"] == 0


def test_audit_is_for_admins(client, ada, services):
    (cid,) = post_pending(client, 1)
    decide(client, ada, cid, "approve")
    assert client.get("/api/v1/admin/audit", headers=ada).status_code == 403
    admin = bearer(services, "Root", "admin")
    r = client.get(f"/api/v1/admin/audit?comment={cid}", headers=admin)
    assert r.status_code == 200
    (entry,) = r.get_json()["items"]
    assert entry["moderator"] == "Ada" and entry["from"] == "pending" and entry["to"] == "published"


MODERATOR_ROUTES = [
    ("get", "/api/v1/moderation/queue", None),
    ("get", STATS, None),
    ("post", CLAIMS, {"limit": 1}),
    ("delete", f"{CLAIMS}/1", None),
    ("post", decision_url(1), {"action": "approve"}),
    ("post", BULK, {"ids": [1], "action": "approve"}),
]


@pytest.mark.parametrize(("method", "path", "body"), MODERATOR_ROUTES)
def test_every_moderator_route_needs_a_token(client, method, path, body):
    r = getattr(client, method)(path, json=body)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = getattr(client, method)(path, json=body, headers={"Authorization": "Bearer mod_nope"})
    assert r.status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), MODERATOR_ROUTES)
def test_a_moderator_token_opens_every_moderator_route(client, ada, method, path, body):
    r = getattr(client, method)(path, json=body, headers=ada)
    assert r.status_code not in (401, 403), r.text


def test_admin_routes_refuse_moderators(client, ada):
    r = client.get("/api/v1/admin/audit", headers=ada)
    assert r.status_code == 403
    assert r.get_json()["error"]["message"] == "This needs the admin role."


def test_confirming_what_the_machine_decided_is_a_decision_once(client, ada, services):
    held = post(client, homepage="http://bot.example")  # held as spam by the honeypot
    first = decide(client, ada, held["id"], "spam").get_json()
    assert first["already_decided"] is False
    assert (first["previous_status"], first["status"]) == ("spam", "spam")
    second = decide(client, ada, held["id"], "spam").get_json()
    assert second["already_decided"] is True
    (label,) = training_of(services, held["id"])
    assert label["label"] == "spam"
    (entry,) = audit_of(services, held["id"])
    assert (entry["from"], entry["to"]) == ("spam", "spam")
    spam_ids = services.redis.zrange(services.comments.keys.status("spam"), 0, -1)
    assert spam_ids == [str(held["id"])]
