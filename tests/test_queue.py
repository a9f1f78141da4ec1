"""The review queue listing: what moderators see, in which order, page by page."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import comment

QUEUE = "/api/v1/moderation/queue"
LINKS = "Sources: https://a.example/report and https://b.example/minutes"


@pytest.fixture
def settings(settings):
    # Comments with three links wait for review; no model may call them spam outright.
    return dataclasses.replace(settings, spam_above=0.99)


@pytest.fixture
def moderator(services):
    token, _ = services.tokens.create("Ada", "moderator")
    return {"Authorization": f"Bearer {token}"}


def post_pending(live, http, n: int, thread: str = "news/2026/city-budget", **extra) -> list[int]:
    ids = []
    for i in range(n):
        body = comment(thread=thread, content=f"{LINKS} ({i})", email=f"reader{i}@example.org")
        body.update(extra)
        r = http.post(live + "/api/v1/comments", json=body)
        assert r.status_code == 201
        ids.append(r.json()["id"])
    return ids


def walk(live, http, headers, **params) -> list[int]:
    seen, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = http.get(live + QUEUE, params=query, headers=headers)
        assert r.status_code == 200, r.text
        seen.extend(item["id"] for item in r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return seen


def test_pending_items_carry_what_a_moderator_needs(live, http, services, moderator):
    (cid,) = post_pending(live, http, 1)
    r = http.get(live + QUEUE, headers=moderator)
    (item,) = r.json()["items"]
    assert item["id"] == cid
    assert item["status"] == "pending"
    assert item["email"] == "reader0@example.org", "moderators see the email"
    assert [hit["rule"] for hit in item["rules"]] == ["too_many_links"]
    assert item["reasons"] and {"feature", "weight"} <= set(item["reasons"][0])
    assert item["score"] is not None and item["model_version"] == services.model.version
    assert item["commenter"]["comments"] == 1 and item["commenter"]["pending"] == 1
    assert item["ip"] == "127.0.0.1"


def test_oldest_newest_and_pagination(live, http, moderator):
    ids = post_pending(live, http, 7)
    assert walk(live, http, moderator, limit=3) == ids
    assert walk(live, http, moderator, limit=2, order="newest") == ids[::-1]


def test_filter_by_status_and_thread(live, http, moderator):
    here = post_pending(live, http, 3, thread="here")
    elsewhere = post_pending(live, http, 2, thread="elsewhere")
    spam = post_pending(live, http, 2, thread="here", homepage="bot")
    assert walk(live, http, moderator, thread="here") == here
    assert walk(live, http, moderator, thread="elsewhere") == elsewhere
    assert walk(live, http, moderator, status="spam") == spam
    assert walk(live, http, moderator, status="spam", thread="elsewhere") == []


def test_uncertain_order_puts_scores_nearest_the_boundary_first(live, http, services, moderator):
    ids = post_pending(live, http, 6)
    for thread in (None, "news/2026/city-budget"):
        params = {"order": "uncertain", "limit": 2, **({"thread": thread} if thread else {})}
        order = walk(live, http, moderator, **params)
        assert sorted(order) == sorted(ids)
        distances = [abs(services.comments.get(cid)["score"] - 0.5) for cid in order]
        assert distances == sorted(distances)


def test_uncertain_cursor_is_exact_across_equal_scores(live, http, moderator):
    # The same text scores the same: ties must neither repeat nor vanish across pages.
    ids = []
    for i in range(5):
        body = comment(content=LINKS, email=f"same{i}@example.org")
        ids.append(http.post(live + "/api/v1/comments", json=body).json()["id"])
    assert walk(live, http, moderator, order="uncertain", limit=2) == ids


def test_queue_needs_a_moderator_and_valid_query(live, http, moderator):
    assert http.get(live + QUEUE).status_code == 401
    bad_queries = (
        {"status": "deleted"},
        {"order": "random"},
        {"limit": 0},
        {"cursor": "x"},
        {"cursor": "0.2:6", "order": "oldest"},
        {"cursor": "6", "order": "uncertain"},
    )
    for bad in bad_queries:
        r = http.get(live + QUEUE, params=bad, headers=moderator)
        assert r.status_code == 422, bad
        assert r.json()["error"]["code"] == "validation_failed"
