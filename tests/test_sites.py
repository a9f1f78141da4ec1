"""Several sites on one deployment: their settings, their data under their own hash tag,
their moderators, WordPress-style rules per site, and trust that cannot be borrowed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import comment

from moderation.cli import main as cli_main
from moderation.store.keys import Keys

API = "/api/v1"
ADMIN = f"{API}/admin/sites"
FA_ORIGIN = "https://fa.news.example"
EN_ORIGIN = "https://en.news.example"


def bearer(services, name: str, role: str) -> dict[str, str]:
    token, _ = services.tokens.create(name, role)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(services):
    return bearer(services, "Root", "admin")


@pytest.fixture
def two_sites(client, admin):
    for body in (
        {"id": "fa-news", "name": "خبر", "allowed_origins": [FA_ORIGIN], "default_language": "fa"},
        {"id": "en-news", "name": "News", "allowed_origins": [EN_ORIGIN]},
    ):
        r = client.post(ADMIN, json=body, headers=admin)
        assert r.status_code == 201, r.json
    return "fa-news", "en-news"


def post(client, site: str | None = None, origin: str | None = None, **fields):
    body = comment(**fields)
    if site is not None:
        body["site"] = site
    headers = {"Origin": origin} if origin else {}
    return client.post(f"{API}/comments", json=body, headers=headers)


# --- sites are created, listed and changed ------------------------------------------------


def test_admin_api_creates_lists_and_updates_sites(client, admin, services):
    r = client.post(
        ADMIN,
        json={"id": "fa-news", "allowed_origins": [FA_ORIGIN], "max_links": 1},
        headers=admin,
    )
    assert r.status_code == 201
    created = r.json
    assert created["id"] == "fa-news" and created["max_links"] == 1
    # Not set: the deployment's settings.
    assert created["publish_below"] == services.settings.publish_below
    assert created["default_language"] == services.settings.default_language

    again = client.post(ADMIN, json={"id": "fa-news"}, headers=admin)
    assert again.status_code == 409 and again.json["error"]["code"] == "site_exists"

    r = client.patch(
        f"{ADMIN}/fa-news",
        json={"disallowed_words": ["Casino ", "casino"], "spam_above": 0.8},
        headers=admin,
    )
    assert r.status_code == 200
    assert r.json["disallowed_words"] == ["casino"]  # folded once, as matching folds
    assert r.json["max_links"] == 1  # what the update left out stays

    listing = client.get(ADMIN, headers=admin).json["items"]
    assert [s["id"] for s in listing] == ["default", "fa-news"]
    assert set(listing[1]["counts"]) == {"published", "pending", "spam", "rejected"}


@pytest.mark.parametrize(
    "body",
    [
        {"id": "Bad Id"},
        {"id": "x", "allowed_origins": ["https://a.example/path"]},
        {"id": "x", "default_language": "xx"},
        {"id": "x", "blocked_networks": ["300.1.2.3"]},
        {"id": "x", "publish_below": 0.95, "spam_above": 0.9},
        {"id": "x", "webhook_url": "ftp://hooks.example/"},
        {"id": "x", "surprise": True},
    ],
)
def test_bad_site_settings_are_refused_and_nothing_is_stored(client, admin, body):
    r = client.post(ADMIN, json=body, headers=admin)
    assert r.status_code == 422, r.json
    assert r.json["error"]["code"]
    assert [s["id"] for s in client.get(ADMIN, headers=admin).json["items"]] == ["default"]


def test_sites_are_for_admins_only(client, services):
    moderator = bearer(services, "Ada", "moderator")
    assert client.get(ADMIN, headers=moderator).status_code == 403
    assert client.post(ADMIN, json={"id": "x"}, headers=moderator).status_code == 403
    assert client.get(f"{ADMIN}/nope", headers=bearer(services, "R", "admin")).status_code == 404


def test_site_cli_create_list_update(settings, services, monkeypatch):
    env = {
        "REDIS_URL": settings.redis_url,
        "MODERATION_KEY_PREFIX": settings.key_prefix,
        "MODERATION_DATA_DIR": str(settings.data_dir),
        "MODERATION_SECRET_KEY": "test-secret-key",
    }
    runner = CliRunner()
    created = runner.invoke(
        cli_main,
        [
            "site",
            "create",
            "ar-news",
            "--origin",
            "https://ar.news.example",
            "--language",
            "ar",
            "--disallowed-word",
            "كازينو",
            "--blocked-network",
            "198.51.100.0/24",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["default_language"] == "ar"

    bad = runner.invoke(cli_main, ["site", "create", "ar-news"], env=env)
    assert bad.exit_code == 2 and "exists" in bad.output

    updated = runner.invoke(
        cli_main,
        ["site", "update", "ar-news", "--max-links", "5", "--clear", "blocked_networks"],
        env=env,
    )
    assert updated.exit_code == 0, updated.output
    site = services.sites.get("ar-news", fresh=True)
    assert (
        site.max_links == 5 and site.blocked_networks == () and site.disallowed_words == ("كازينو",)
    )

    listed = runner.invoke(cli_main, ["site", "list"], env=env)
    assert listed.exit_code == 0
    lines = [line.split("\t") for line in listed.stdout.strip().splitlines()]
    assert [line[0] for line in lines] == ["default", "ar-news"]
    assert lines[1][2] == "https://ar.news.example" and lines[1][3] == "ar"


# --- each site's data is its own ---------------------------------------------------------


def test_sites_keep_their_comments_apart_under_their_own_hash_tag(client, services, two_sites):
    fa, en = two_sites
    by_field = post(client, site=fa, content="ممنون از گزارش دقیقتان دربارهٔ بودجهٔ شهر.")
    by_origin = post(client, origin=EN_ORIGIN, content="Thanks, the budget table helps a lot.")
    plain = post(client)
    assert {r.status_code for r in (by_field, by_origin, plain)} == {201}

    def thread_ids(site: str | None) -> list[int]:
        query = f"?site={site}" if site else ""
        r = client.get(f"{API}/threads/news%2F2026%2Fcity-budget/comments{query}")
        return [c["id"] for c in r.json["items"]]

    assert thread_ids(fa) == [by_field.json["id"]]
    assert thread_ids(en) == [by_origin.json["id"]]
    assert thread_ids(None) == [plain.json["id"]]

    prefix = services.settings.key_prefix
    fa_keys = Keys(prefix, fa)
    assert fa_keys.base == "{" + f"{prefix}:{fa}" + "}"
    assert services.redis.exists(fa_keys.comment(by_field.json["id"]))
    stored = services.stores(fa).comments.get(by_field.json["id"])
    assert stored["content"].startswith("ممنون")
    # Nothing of the site's comment under another site's tag.
    assert not any(
        "ممنون" in (services.redis.hget(key, "content") or "")
        for key in services.redis.scan_iter(match="{" + prefix + "}:comment:*")
    )


def test_unknown_site_is_a_404_and_stores_nothing(client, services):
    r = post(client, site="nowhere")
    assert r.status_code == 404 and r.json["error"]["code"] == "unknown_site"
    r = client.get(f"{API}/threads/t/comments?site=nowhere")
    assert r.status_code == 404
    assert services.comments.count("published") + services.comments.count("pending") == 0


def test_one_sites_page_cannot_post_into_another_site(client, two_sites):
    fa, _ = two_sites
    r = post(client, site=fa, origin=EN_ORIGIN)
    assert r.status_code == 403 and r.json["error"]["code"] == "origin_not_allowed"
    assert post(client, site=fa, origin=FA_ORIGIN).status_code == 201


def test_cors_answers_every_sites_origin(client, two_sites):
    for origin in (FA_ORIGIN, EN_ORIGIN):
        r = client.get(f"{API}/threads/t/comments", headers={"Origin": origin})
        assert r.headers["Access-Control-Allow-Origin"] == origin
    r = client.get(f"{API}/threads/t/comments", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_the_no_js_page_serves_a_site_in_its_language(client, two_sites):
    fa, _ = two_sites
    r = client.get(f"/threads/t?site={fa}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'lang="fa"' in html and 'dir="rtl"' in html
    assert f"site={fa}" in html  # the form posts back to the same site
    posted = client.post(
        f"/threads/t?site={fa}",
        data={"author": "مریم", "email": "m@example.org", "content": "گزارش خوبی بود، سپاس."},
    )
    assert posted.status_code == 303
    assert f"site={fa}" in posted.headers["Location"]


# --- moderators per site -----------------------------------------------------------------


def test_moderators_work_only_on_their_sites(client, services, admin, two_sites):
    fa, en = two_sites
    client.patch(
        f"{ADMIN}/{fa}",
        json={"moderators": ["Leyla"], "publish_below": 0.0, "spam_above": 0.999},
        headers=admin,
    )
    leyla = bearer(services, "Leyla", "moderator")
    tom = bearer(services, "Tom", "moderator")
    held = post(client, site=fa)
    assert held.status_code == 201

    queue = f"{API}/moderation/queue?site={fa}"
    assert client.get(queue, headers=tom).status_code == 403
    items = client.get(queue, headers=leyla).json["items"]
    assert [i["id"] for i in items] == [held.json["id"]]
    assert client.get(queue, headers=admin).status_code == 200
    # The header works as the query parameter does; a site without a list takes everyone.
    r = client.get(f"{API}/moderation/queue", headers={**tom, "X-Moderation-Site": en})
    assert r.status_code == 200

    denied = client.post(
        f"{API}/moderation/comments/{held.json['id']}/decision?site={fa}",
        json={"action": "approve"},
        headers=tom,
    )
    assert denied.status_code == 403
    assert services.stores(fa).comments.get(held.json["id"])["status"] == "pending"
    ok = client.post(
        f"{API}/moderation/comments/{held.json['id']}/decision?site={fa}",
        json={"action": "approve"},
        headers=leyla,
    )
    assert ok.status_code == 200 and ok.json["status"] == "published"
    # The decision is a label for the one model every site shares.
    logs = services.training_logs()
    assert sum(len(log) for log in logs) == 1


def test_moderate_page_offers_the_moderators_sites(client, services, two_sites):
    token, _ = services.tokens.create("Ada", "admin")
    page = client.get("/moderate")
    csrf = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post("/moderate/login", data={"token": token, "csrf_token": csrf})
    assert signed.status_code in (302, 303)
    html = client.get("/moderate?site=fa-news").get_data(as_text=True)
    assert 'data-site="fa-news"' in html
    assert (
        '<option value="en-news"' in html and '<option value="fa-news" dir="auto" selected' in html
    )
    assert client.get("/moderate?site=nowhere").status_code == 403


# --- WordPress rules, per site -----------------------------------------------------------


def test_disallowed_words_match_every_field_and_mark_spam(client, services, admin, two_sites):
    fa, en = two_sites
    client.patch(
        f"{ADMIN}/{fa}",
        json={"disallowed_words": ["spammer@bad.example", "casino"], "moderation_words": ["vpn"]},
        headers=admin,
    )
    by_email = post(client, site=fa, email="spammer@bad.example")
    by_agent = client.post(
        f"{API}/comments",
        json={**comment(), "site": fa},
        headers={"User-Agent": "Mozilla/5.0 VPN-Helper"},
    )
    elsewhere = post(client, site=en, email="spammer@bad.example")
    fa_store = services.stores(fa).comments
    first = fa_store.get(by_email.json["id"])
    assert first["status"] == "spam"
    assert [r["rule"] for r in first["rules"]] == ["disallowed_words"]
    assert first["rules"][0]["params"] == {"words": ["spammer@bad.example"]}
    second = fa_store.get(by_agent.json["id"])
    assert second["status"] == "pending"
    assert [r["rule"] for r in second["rules"]] == ["word_list"]
    # Another site's lists are not this one's.
    assert services.stores(en).comments.get(elsewhere.json["id"])["status"] == "published"


def test_blocked_networks_mark_spam(client, services, admin, two_sites):
    fa, _ = two_sites
    client.patch(f"{ADMIN}/{fa}", json={"blocked_networks": ["10.9.0.0/16"]}, headers=admin)
    blocked = client.post(
        f"{API}/comments",
        json={**comment(), "site": fa},
        environ_base={"REMOTE_ADDR": "10.9.3.4"},
    )
    free = client.post(
        f"{API}/comments", json={**comment(), "site": fa}, environ_base={"REMOTE_ADDR": "10.8.3.4"}
    )
    store = services.stores(fa).comments
    hit = store.get(blocked.json["id"])
    assert hit["status"] == "spam" and hit["rules"][0]["params"] == {"network": "10.9.0.0/16"}
    assert store.get(free.json["id"])["status"] == "published"


# --- trust that cannot be borrowed -------------------------------------------------------


@pytest.fixture
def doubtful_site(client, admin):
    # Everything the classifier is not sure is spam is held: trust is what publishes.
    r = client.post(
        ADMIN, json={"id": "strict", "publish_below": 0.0, "spam_above": 0.99}, headers=admin
    )
    assert r.status_code == 201
    return "strict"


def test_an_approved_commenter_with_its_token_skips_review(client, services, doubtful_site):
    site = doubtful_site
    first = post(client, site=site, content="Good piece on the council budget.")
    assert first.json["status"] == "pending"
    token = first.json["trust_token"]

    # Not approved yet: the token vouches for nothing.
    waiting = post(client, site=site, trust_token=token, content="And the schools part too.")
    assert waiting.json["status"] == "pending"

    moderator = bearer(services, "Ada", "moderator")
    r = client.post(
        f"{API}/moderation/comments/{first.json['id']}/decision?site={site}",
        json={"action": "approve"},
        headers=moderator,
    )
    assert r.status_code == 200

    trusted = post(client, site=site, trust_token=token, content="One more question on rents.")
    assert trusted.json["status"] == "published"
    stored = services.stores(site).comments.get(trusted.json["id"])
    assert stored["rules"][0]["rule"] == "trusted_author"
    assert stored["rules"][0]["params"] == {"comment": first.json["id"]}

    # The same email without the token, the token with another email, a forged token,
    # and the token on another site: all go through review.
    assert post(client, site=site, content="No token here.").json["status"] == "pending"
    other = post(client, site=site, trust_token=token, email="someone.else@example.org")
    assert other.json["status"] == "pending"
    forged = post(client, site=site, trust_token=token[:-2] + "xx", content="Forged.")
    assert forged.json["status"] == "pending"
    assert post(client, trust_token=token).json["status"] in ("published", "pending")
    assert "trusted_author" not in [
        r["rule"]
        for r in services.comments.get(post(client, trust_token=token).json["id"])["rules"]
    ]


def test_trust_never_publishes_certain_spam_or_overrides_a_rule(
    client, services, admin, doubtful_site
):
    site = doubtful_site
    first = post(client, site=site)
    moderator = bearer(services, "Ada", "moderator")
    client.post(
        f"{API}/moderation/comments/{first.json['id']}/decision?site={site}",
        json={"action": "approve"},
        headers=moderator,
    )
    token = first.json["trust_token"]
    client.patch(f"{ADMIN}/{site}", json={"moderation_words": ["budget"]}, headers=admin)
    held = post(client, site=site, trust_token=token, content="The budget is wrong again.")
    assert held.json["status"] == "pending"
    rules = [r["rule"] for r in services.stores(site).comments.get(held.json["id"])["rules"]]
    assert "word_list" in rules

    client.patch(f"{ADMIN}/{site}", json={"spam_above": 0.3}, headers=admin)
    spam = post(
        client,
        site=site,
        trust_token=token,
        content="CHEAP VIAGRA casino bonus!!! Buy followers at http://spam.example/buy now",
    )
    assert services.stores(site).comments.get(spam.json["id"])["status"] == "spam"


def test_a_site_can_turn_trust_off(client, services, admin, doubtful_site):
    site = doubtful_site
    first = post(client, site=site)
    client.post(
        f"{API}/moderation/comments/{first.json['id']}/decision?site={site}",
        json={"action": "approve"},
        headers=bearer(services, "Ada", "moderator"),
    )
    client.patch(f"{ADMIN}/{site}", json={"trust_approved_authors": False}, headers=admin)
    again = post(client, site=site, trust_token=first.json["trust_token"], content="Again.")
    assert again.json["status"] == "pending"


def test_a_sites_webhook_hears_of_held_comments_without_private_fields(
    client, services, admin, doubtful_site
):
    import queue as queue_module
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: queue_module.Queue = queue_module.Queue()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers["Content-Length"])
            received.put(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        r = client.patch(f"{ADMIN}/{doubtful_site}", json={"webhook_url": url}, headers=admin)
        assert r.status_code == 200 and r.json["webhook_url"] == url
        held = post(client, site=doubtful_site, email="private.person@example.org")
        assert held.json["status"] == "pending"
        event = received.get(timeout=60)
        assert event["event"] == "comment.pending"
        assert event["site"] == doubtful_site and event["id"] == held.json["id"]
        text = json.dumps(event)
        assert "private.person" not in text and "Which figure is right" not in text
    finally:
        server.shutdown()
