"""Moderator tokens: made on the command line, stored as hashes, checked on every call."""

from __future__ import annotations

from tests.conftest import comment, run_cli

STATS = "/api/v1/moderation/stats"


def cli_env(settings) -> dict[str, str]:
    return {"REDIS_URL": settings.redis_url, "MODERATION_KEY_PREFIX": settings.key_prefix}


def test_token_lifecycle_from_the_command_line(settings, services, live, http):
    created = run_cli(
        "token", "create", "--role", "moderator", "--name", "Ada", env=cli_env(settings)
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("mod_") and " " not in token

    # Only a hash is stored: the token itself is nowhere in Redis.
    for key in services.redis.scan_iter(match=services.comments.keys.base + "*"):
        assert token not in str(services.redis.dump(key))

    listed = run_cli("token", "list", env=cli_env(settings))
    assert "Ada" in listed.stdout and "moderator" in listed.stdout
    assert token not in listed.stdout
    token_id = listed.stdout.split()[0]

    auth = {"Authorization": f"Bearer {token}"}
    assert http.get(live + STATS, headers=auth).status_code == 200

    revoked = run_cli("token", "revoke", token_id, env=cli_env(settings))
    assert revoked.returncode == 0, revoked.stderr
    r = http.get(live + STATS, headers=auth)
    assert r.status_code == 401
    assert run_cli("token", "revoke", token_id, env=cli_env(settings)).returncode != 0


def test_moderator_endpoints_need_a_valid_token(live, http, services):
    for headers in (
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer mod_not-a-real-token"},
    ):
        r = http.get(live + STATS, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_stats_count_comments_by_status(live, http, services):
    token, _ = services.tokens.create("Grace", "admin")
    http.post(live + "/api/v1/comments", json=comment())
    http.post(live + "/api/v1/comments", json=comment(homepage="bot"))
    r = http.get(live + STATS, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    body = r.json()
    assert body["counts"] == {"published": 1, "pending": 0, "spam": 1, "rejected": 0}
    assert body["oldest_pending_age_seconds"] is None


def test_token_roles(services):
    _, moderator = services.tokens.create("m", "moderator")
    _, admin = services.tokens.create("a", "admin")
    assert moderator.allows("moderator") and not moderator.allows("admin")
    assert admin.allows("moderator") and admin.allows("admin")
    assert run_cli("token", "create", "--role", "root", "--name", "x").returncode != 0
