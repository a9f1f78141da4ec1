"""Cross-origin access: listed origins echoed, preflights answered, foreign posts refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moderation.config import ConfigError, Settings
from tests.conftest import comment

API = "/api/v1/comments"
NEWS = "https://news.example.com"
EVIL = "https://evil.example.net"


@pytest.fixture
def settings(settings):
    return replace(settings, allowed_origins=(NEWS, "http://localhost:8001"))


def test_allowed_origin_is_echoed_with_credentials(live, http):
    r = http.get(live + "/api/v1/threads/t/comments", headers={"Origin": NEWS})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == NEWS
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in r.headers["Vary"]
    assert "Retry-After" in r.headers["Access-Control-Expose-Headers"]


def test_other_origins_get_no_cors_headers_and_never_a_wildcard(live, http):
    for origin in (EVIL, "null", "https://news.example.com.evil.example.net", NEWS + ":8443"):
        r = http.get(live + "/api/v1/threads/t/comments", headers={"Origin": origin})
        assert r.status_code == 200  # published comments are public; the browser blocks reading
        assert "Access-Control-Allow-Origin" not in r.headers
        assert "Access-Control-Allow-Credentials" not in r.headers
        assert "Origin" in r.headers["Vary"]


def test_preflight_for_an_allowed_origin(live, http):
    r = http.options(
        live + API,
        headers={
            "Origin": NEWS,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == NEWS
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in r.headers["Access-Control-Allow-Methods"].split(", ")
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    # The widget sends an Idempotency-Key so that a retry never posts a comment twice.
    assert allowed == {"content-type", "idempotency-key"}
    assert int(r.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in r.headers["Vary"]


def test_preflight_for_another_origin_is_refused(live, http):
    r = http.options(live + API, headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in r.headers


def test_post_from_an_allowed_origin(live, http):
    r = http.post(live + API, json=comment(), headers={"Origin": NEWS})
    assert r.status_code == 201
    assert r.headers["Access-Control-Allow-Origin"] == NEWS


def test_post_from_another_origin_is_403_and_stores_nothing(live, http, services):
    for origin in (EVIL, "null"):
        r = http.post(live + API, json=comment(), headers={"Origin": origin})
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in r.headers
    assert services.comments.count("published") + services.comments.count("pending") == 0


def test_post_from_the_service_itself_and_from_servers(live, http):
    # The service's own pages (its no-JS thread page) send its own origin.
    assert http.post(live + API, json=comment(), headers={"Origin": live}).status_code == 201
    # Clients that are not browsers send no Origin at all.
    assert http.post(live + API, json=comment()).status_code == 201


def test_error_answers_carry_cors_headers_so_the_widget_can_read_them(live, http):
    r = http.post(live + API, json=comment(email="nope"), headers={"Origin": NEWS})
    assert r.status_code == 422
    assert r.headers["Access-Control-Allow-Origin"] == NEWS
    assert "email" in r.json()["error"]["fields"]


def test_widget_assets_allow_the_listed_origin(live, http):
    r = http.get(live + "/embed.js", headers={"Origin": NEWS})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == NEWS


def test_moderators_api_is_never_cross_origin(live, http, services):
    token, _ = services.tokens.create("Ada", "moderator")
    r = http.get(
        live + "/api/v1/moderation/stats",
        headers={"Origin": NEWS, "Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers
    preflight = http.options(
        live + "/api/v1/moderation/stats",
        headers={"Origin": NEWS, "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_allowed_origins_from_the_environment():
    settings = Settings.from_env(
        {"MODERATION_ALLOWED_ORIGINS": " https://news.example.com ,http://localhost:8001,"}
    )
    assert settings.allowed_origins == ("https://news.example.com", "http://localhost:8001")
    assert Settings.from_env({}).allowed_origins == ()


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("*", "not an http(s) origin"),
        ("null", "not an http(s) origin"),
        ("news.example.com", "not an http(s) origin"),
        ("ftp://news.example.com", "not an http(s) origin"),
        ("https://news.example.com/blog", "no path"),
        ("https://user@news.example.com", "no path"),
        ("https://news.example.com/", "'https://news.example.com'"),
        ("https://News.Example.com", "'https://news.example.com'"),
        ("https://news.example.com:443", "'https://news.example.com'"),
        ("https://news.example.com:99999", "invalid port"),
    ],
)
def test_origins_must_be_exact(value, hint):
    with pytest.raises(ConfigError, match="MODERATION_ALLOWED_ORIGINS") as info:
        Settings.from_env({"MODERATION_ALLOWED_ORIGINS": value})
    assert hint in str(info.value)
