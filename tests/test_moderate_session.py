"""Signing in to /moderate: a session cookie that never holds the token, and CSRF checks
on every state-changing request made with it."""

from __future__ import annotations

import dataclasses
import re

import pytest

from moderation import browser_session, create_app
from moderation.store.tokens import token_digest
from tests.conftest import comment

API = "/api/v1/moderation"
FAILED = "That token was not accepted."


def form_csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def page_csrf(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "the page carries a CSRF token for its script"
    return match.group(1)


def sign_in(client, token: str, **kwargs):
    csrf = form_csrf(client.get("/moderate", **kwargs).get_data(as_text=True))
    return client.post("/moderate/login", data={"csrf_token": csrf, "token": token}, **kwargs)


def session_cookie(response) -> str:
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


@pytest.fixture
def settings(settings):
    # Comments with links are held for review whatever the model scores them.
    return dataclasses.replace(settings, spam_above=1.0)


@pytest.fixture
def ada(services):
    token, info = services.tokens.create("Ada", "moderator")
    return token, info


@pytest.fixture
def signed_in(client, ada):
    """A client signed in as Ada, and the CSRF token of her page."""
    assert sign_in(client, ada[0]).status_code == 303
    return client, page_csrf(client.get("/moderate").get_data(as_text=True))


def post_pending(client, n: int = 1) -> list[int]:
    links = "Sources: https://a.example/report and https://b.example/minutes"
    ids = []
    for i in range(n):
        r = client.post(
            "/api/v1/comments", json=comment(content=f"{links} ({i})", email=f"r{i}@example.org")
        )
        assert r.status_code == 201 and r.get_json()["status"] == "pending"
        ids.append(r.get_json()["id"])
    return ids


def test_signed_out_visitors_get_the_sign_in_form(client):
    r = client.get("/moderate")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'action="/moderate/login"' in html and 'name="token"' in html
    assert form_csrf(html)
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    assert client.get("/moderate/").headers["Location"] == "/moderate"
    stylesheet = re.search(r'href="(/moderate/static/moderate\.css\?v=\w+)"', html).group(1)
    assert client.get(stylesheet).status_code == 200


def test_signing_in_keeps_the_digest_never_the_token(app, client, ada):
    token, _ = ada
    r = sign_in(client, token)
    assert r.status_code == 303 and r.headers["Location"] == "/moderate"
    cookie = session_cookie(r)
    assert token not in cookie

    value = client.get_cookie("session").value
    stored = app.session_interface.get_signing_serializer(app).loads(value)
    assert stored["moderator"] == token_digest(token)
    assert token not in str(stored)

    page = client.get("/moderate")
    html = page.get_data(as_text=True)
    assert "Signed in as <strong>Ada</strong>" in html
    assert page_csrf(html) and 'src="/moderate/static/moderate.js?v=' in html
    assert token not in html and "mod_" not in html


@pytest.mark.parametrize("kind", ["unknown", "malformed", "empty", "revoked"])
def test_a_bad_token_gets_the_form_again_with_one_message(client, services, kind):
    if kind == "revoked":
        bad, info = services.tokens.create("Gone", "moderator")
        assert services.tokens.revoke(info.id)
    else:
        bad = {"unknown": "mod_" + "x" * 43, "malformed": "not a token", "empty": ""}[kind]
    r = sign_in(client, bad)
    html = r.get_data(as_text=True)
    assert r.status_code == 401
    assert FAILED in html and 'name="token"' in html
    if bad:
        assert bad not in html, "the submitted token is not echoed back"
    assert "Signed in as" not in client.get("/moderate").get_data(as_text=True)


def test_a_revoked_token_ends_the_session_at_the_next_request(client, services, ada, signed_in):
    _, info = ada
    assert client.get(API + "/stats").status_code == 200
    assert services.tokens.revoke(info.id)
    r = client.get(API + "/stats")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    assert 'name="token"' in client.get("/moderate").get_data(as_text=True)


def test_signing_in_needs_the_forms_csrf_token(app, client, ada):
    token, _ = ada
    client.get("/moderate")
    r = client.post("/moderate/login", data={"token": token})
    assert r.status_code == 403
    # A token from another browser's form (an attacker's own session) does not do either.
    other = app.test_client()
    foreign = form_csrf(other.get("/moderate").get_data(as_text=True))
    r = client.post("/moderate/login", data={"token": token, "csrf_token": foreign})
    assert r.status_code == 403
    assert client.get(API + "/stats").status_code == 401


def test_session_cookie_flags(settings, client, ada, tmp_path):
    cookie = session_cookie(sign_in(client, ada[0]))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie

    production = dataclasses.replace(
        settings, production=True, secret_key="production-secret", data_dir=tmp_path / "prod"
    )
    secure = create_app(production).test_client()
    token, _ = secure.application.extensions["moderation"].tokens.create("Lin", "moderator")
    r = sign_in(secure, token, base_url="https://moderation.example")
    assert r.status_code == 303
    cookie = session_cookie(r)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_state_changing_session_requests_need_the_csrf_header(client, signed_in):
    _, csrf = signed_in
    (cid,) = post_pending(client)
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
        r = client.post(API + "/claims", json={"limit": 5}, headers=headers)
        assert r.status_code == 403, headers
        assert r.get_json()["error"]["code"] == "csrf"
    r = client.delete(f"{API}/claims/{cid}")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf"
    r = client.post(f"{API}/comments/{cid}/decision", json={"action": "approve"})
    assert r.status_code == 403
    assert client.get(API + "/queue").get_json()["items"][0]["status"] == "pending"

    # Reading needs no CSRF token; changing does, and then works.
    assert client.get(API + "/queue").status_code == 200
    good = {"X-CSRF-Token": csrf}
    r = client.post(API + "/claims", json={"limit": 5}, headers=good)
    assert r.status_code == 200 and [i["id"] for i in r.get_json()["items"]] == [cid]
    assert client.delete(f"{API}/claims/{cid}", headers=good).status_code == 204
    r = client.post(f"{API}/comments/{cid}/decision", json={"action": "approve"}, headers=good)
    assert r.status_code == 200 and r.get_json()["status"] == "published"


def test_bearer_requests_are_unaffected(app, client, services, signed_in):
    (cid,) = post_pending(client)
    token, _ = services.tokens.create("Grace", "moderator")
    bearer = {"Authorization": f"Bearer {token}"}
    fresh = app.test_client()
    r = fresh.post(API + "/claims", json={"limit": 5}, headers=bearer)
    assert r.status_code == 200 and r.get_json()["items"][0]["claimed_by"] == "Grace"
    # The header decides alone: Ada's cookie neither helps a bad token nor changes who acts.
    r = client.post(API + "/claims", json={"ids": [cid]}, headers=bearer)
    assert r.status_code == 200 and r.get_json()["items"][0]["claimed_by"] == "Grace"
    r = client.post(API + "/claims", json={"limit": 5}, headers={"Authorization": "Bearer mod_x"})
    assert r.status_code == 401


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(app, client, signed_in):
    copy = client.get_cookie("session").value
    page = client.get("/moderate").get_data(as_text=True)
    assert client.post("/moderate/logout", data={}).status_code == 403
    assert client.get(API + "/stats").status_code == 200, "a forged sign-out changes nothing"

    r = client.post("/moderate/logout", data={"csrf_token": form_csrf(page)})
    assert r.status_code == 303 and r.headers["Location"] == "/moderate"
    assert client.get(API + "/stats").status_code == 401
    assert 'name="token"' in client.get("/moderate").get_data(as_text=True)

    replay = app.test_client()
    replay.set_cookie("session", copy)
    assert replay.get(API + "/stats").status_code == 401


def test_failed_sign_ins_are_limited_per_address(client, ada):
    elsewhere = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(browser_session.LOGIN_ATTEMPTS):
        assert sign_in(client, "mod_wrong", environ_base=elsewhere).status_code == 401
    r = sign_in(client, "mod_wrong-again", environ_base=elsewhere)
    assert r.status_code == 429 and "Too many attempts" in r.get_data(as_text=True)
    assert sign_in(client, "mod_wrong").status_code == 401, "other addresses are not affected"


def test_wrong_tokens_cannot_lock_a_valid_token_out(client, ada):
    # Behind a proxy every moderator signs in from the proxy's address: an attacker's
    # wrong tokens from it must not keep the real moderators out.
    token, _ = ada
    shared = {"REMOTE_ADDR": "203.0.113.8"}
    for _ in range(browser_session.LOGIN_ATTEMPTS + 5):
        sign_in(client, "mod_wrong", environ_base=shared)
    assert sign_in(client, "mod_wrong", environ_base=shared).status_code == 429
    assert sign_in(client, token, environ_base=shared).status_code == 303
