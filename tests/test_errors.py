"""Bad input gets one JSON error shape and the right status; nothing is half-written."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from moderation import create_app
from moderation.redis_server import free_port
from tests.conftest import LiveServer, comment, stored_keys

API = "/api/v1/comments"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_malformed_json_is_400(live, http, services):
    r = http.post(
        live + API, data=b'{"thread": "t", ', headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, "malformed_json")
    assert services.comments.count("published") == 0


def test_invalid_utf8_json_is_400(live, http):
    r = http.post(
        live + API, data=b'{"a": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, "malformed_json")


@pytest.mark.parametrize("body", ["[" * 30_000, '{"thread": ' + "[" * 5_000 + "]" * 5_000 + "}"])
def test_deeply_nested_json_is_400_not_a_crash(live, http, body):
    r = http.post(live + API, data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")


def test_unsupported_content_type_is_415(live, http):
    r = http.post(live + API, data="thread=t", headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


def test_oversized_body_is_413(live, http, services):
    big = json.dumps(comment(content="x" * (services.settings.max_body_bytes + 10)))
    r = http.post(live + API, data=big, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    r = http.post(live + API, data={"content": "x" * (services.settings.max_body_bytes + 10)})
    assert_error(r, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"thread": ""}, "thread"),
        ({"author": "   "}, "author"),
        ({"author": "a" * 246}, "author"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "a" * 250 + "@example.org"}, "email"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "ftp://files.example.org/"}, "url"),
        ({"url": "https://example.org/" + "a" * 200}, "url"),
        ({"content": "   \n  "}, "content"),
        ({"content": 12}, "content"),
        ({"parent": "abc"}, "parent"),
        ({"parent": 0}, "parent"),
        ({"author": "bad\x00name"}, "author"),
        ({"unexpected": "field"}, "unexpected"),
    ],
)
def test_invalid_fields_are_422_with_field_messages(live, http, services, overrides, field):
    r = http.post(live + API, json=comment(**overrides))
    error = assert_error(r, 422, "validation_failed")
    assert field in error["fields"]
    assert stored_keys(services) == []


def test_missing_fields_are_all_reported(live, http):
    error = assert_error(http.post(live + API, json={}), 422)
    assert {"thread", "author", "email", "content"} <= set(error["fields"])


@pytest.mark.parametrize("body", ["[]", '"text"', "null", "42"])
def test_json_that_is_not_an_object_is_422(live, http, body):
    r = http.post(live + API, data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 422)


def test_unknown_route_is_404_json(live, http):
    assert_error(http.get(live + "/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_405_json(live, http):
    error = assert_error(http.delete(live + API), 405, "method_not_allowed")
    assert error["message"]


def test_bad_thread_query_is_422(live, http):
    assert_error(http.get(live + "/api/v1/threads/t/comments?limit=0"), 422)
    assert_error(http.get(live + "/api/v1/threads/t/comments?limit=x"), 422)
    assert_error(http.get(live + "/api/v1/threads/t/comments?cursor=abc"), 422)


def test_redis_down_is_503_with_retry_after(settings, http):
    # A port nobody listens on: the same failure as a Redis that went away.
    dead = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout=0.5)
    server = LiveServer(create_app(dead)).start()
    try:
        r = http.post(server.url + API, json=comment())
        error = assert_error(r, 503, "storage_unavailable")
        assert "try again" in error["message"]
        assert int(r.headers["Retry-After"]) > 0
        assert_error(http.get(server.url + "/api/v1/threads/t/comments"), 503)
        # Liveness stays 200 (the process is fine); readiness tells the truth.
        assert http.get(server.url + "/healthz").status_code == 200
        ready = http.get(server.url + "/readyz")
        assert ready.status_code == 503 and int(ready.headers["Retry-After"]) > 0
        assert ready.json()["checks"]["redis"] == "ConnectionError"
    finally:
        server.stop()
