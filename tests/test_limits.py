"""Limits on comment posts (issue 13): rate limits, flood control, duplicates and a cap on
held comments, per client IP and per commenter, in Redis; 429/409 on the API and on the
no-JS page, a refused comment stores nothing, and a replay is never refused.

tests/conftest.py turns every limit off; each test here turns on the ones it is about.
No test depends on how fast the machine is: waits are long (an hour) where a refusal is
asserted, and where one must pass, a 1 s window is polled with a generous deadline.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from html import unescape
from urllib.parse import quote

import pytest
import redis
from babel import Locale

from moderation import create_app
from moderation.config import ConfigError, Settings
from moderation.embed.pages import _duration
from moderation.limits import DUPLICATE, TOO_FAST
from moderation.store.comments import Guard, Refused
from tests.conftest import PATIENCE_SECONDS, LiveServer, comment, stored_keys
from tests.test_faults import HoldingProxy

API = "/api/v1/comments"
THREAD = "news/2026/limits"
HELD = "Sources: https://a.example/report and https://b.example/minutes"  # two links: held


def limited(settings: Settings, **on: object):
    """An app and its services with these limits on (conftest has every limit off)."""
    app = create_app(replace(settings, **on))
    return app, app.extensions["moderation"]


def post(client, ip: str = "198.51.100.1", headers: dict[str, str] | None = None, **fields):
    return client.post(
        API,
        json=comment(**{"thread": THREAD, **fields}),
        headers=headers or {},
        environ_base={"REMOTE_ADDR": ip},
    )


def snapshot(services) -> dict[str, bytes]:
    """Every key this app wrote and its exact value, except the id counter (a refused
    comment may use an id; ids may have gaps) and the rate-limit counts (attempts count)."""
    raw = redis.Redis.from_url(services.settings.redis_url)
    keys = services.comments.keys
    return {
        key: raw.dump(key)
        for key in stored_keys(services)
        if key != keys.sequence and not key.startswith(f"{keys.base}:rate")
    }


def assert_refused(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    error = r.get_json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message"}
    if status == 429:
        assert int(r.headers["Retry-After"]) >= 1
    return error


# --- settings ---------------------------------------------------------------------------


def test_settings_defaults_and_switches():
    default = Settings.from_env({})
    assert default.rate_limit == "10/minute;100/hour"
    assert default.flood_interval == 15
    assert default.duplicate_window == 86_400
    assert default.max_pending_per_client == 20
    assert default.pending_window == 86_400
    off = Settings.from_env(
        {
            "MODERATION_RATE_LIMIT": "",
            "MODERATION_FLOOD_INTERVAL": "0",
            "MODERATION_DUPLICATE_WINDOW": "0",
            "MODERATION_MAX_PENDING_PER_CLIENT": "0",
        }
    )
    assert (off.rate_limit, off.flood_interval, off.duplicate_window) == ("", 0, 0)
    assert off.max_pending_per_client == 0
    assert Settings.from_env({"MODERATION_RATE_LIMIT": " 3/second "}).rate_limit == "3/second"
    with pytest.raises(ConfigError, match="MODERATION_RATE_LIMIT"):
        Settings.from_env({"MODERATION_RATE_LIMIT": "ten a minute"})
    with pytest.raises(ConfigError, match="MODERATION_FLOOD_INTERVAL"):
        Settings.from_env({"MODERATION_FLOOD_INTERVAL": "-1"})
    with pytest.raises(ConfigError, match="MODERATION_MAX_PENDING_PER_CLIENT"):
        Settings.from_env({"MODERATION_MAX_PENDING_PER_CLIENT": "-1"})


# --- rate limits --------------------------------------------------------------------------


def test_rate_limit_per_ip(settings):
    app, services = limited(settings, rate_limit="2/hour")
    client = app.test_client()
    for n in range(2):
        assert post(client, email=f"reader{n}@example.org", content=f"Post {n}").status_code == 201
    before = snapshot(services)
    r = post(client, email="third@example.org", content="A third one from the same address.")
    error = assert_refused(r, 429, "rate_limited")
    assert error["message"] == TOO_FAST
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    assert snapshot(services) == before
    # Another address is another client.
    assert post(client, ip="198.51.100.2", email="third@example.org").status_code == 201


def test_rate_limit_per_commenter_whatever_the_address(settings):
    app, _ = limited(settings, rate_limit="2/hour")
    client = app.test_client()
    assert post(client, ip="198.51.100.1", content="From home.").status_code == 201
    assert post(client, ip="198.51.100.2", content="From work.").status_code == 201
    assert_refused(post(client, ip="198.51.100.3", content="From a phone."), 429, "rate_limited")
    # The same address stays open to other commenters until its own limit.
    other = post(client, ip="198.51.100.3", email="someone.else@example.org")
    assert other.status_code == 201


def test_rate_limit_window_passes(settings):
    app, _ = limited(settings, rate_limit="1/second")
    client = app.test_client()
    assert post(client, content="One.").status_code == 201
    deadline = time.monotonic() + PATIENCE_SECONDS
    for n in range(10_000):
        r = post(client, content=f"Again, try {n}.")
        if r.status_code == 201:
            break
        assert_refused(r, 429, "rate_limited")
        assert r.headers["Retry-After"] == "1"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert r.status_code == 201


def test_an_empty_rate_limit_turns_it_off(settings):
    app, _ = limited(settings, rate_limit="")
    client = app.test_client()
    for n in range(15):
        assert post(client, content=f"Comment {n}.").status_code == 201


def test_a_replay_is_not_rate_limited(settings):
    app, services = limited(settings, rate_limit="1/hour")
    client = app.test_client()
    key = {"Idempotency-Key": "retry-after-timeout"}
    first = post(client, headers=key, content="Sent, answer lost, sent again.")
    again = post(client, headers=key, content="Sent, answer lost, sent again.")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert_refused(post(client, content="A new comment."), 429, "rate_limited")
    assert services.comments.count("published") + services.comments.count("pending") == 1


# --- flood control -----------------------------------------------------------------------


def test_flood_control_per_commenter_and_per_ip(settings):
    app, services = limited(settings, flood_interval=3600)
    client = app.test_client()
    assert post(client, content="First.").status_code == 201
    before = snapshot(services)
    same_person = post(client, ip="198.51.100.9", content="Second, from elsewhere.")
    error = assert_refused(same_person, 429, "rate_limited")
    assert error["message"] == "You are posting comments too quickly. Slow down."
    assert 3500 <= int(same_person.headers["Retry-After"]) <= 3600
    same_address = post(client, email="flatmate@example.org", content="Same address.")
    assert_refused(same_address, 429, "rate_limited")
    assert snapshot(services) == before
    other = post(client, ip="198.51.100.9", email="flatmate@example.org", content="Elsewhere.")
    assert other.status_code == 201


def test_an_ipv6_client_is_its_whole_64(settings):
    app, _ = limited(settings, flood_interval=3600, rate_limit="1/hour")
    client = app.test_client()
    first = post(client, ip="2001:db8:5:6::1", email="a@example.org", content="One.")
    assert first.status_code == 201
    # Another address of the same /64 is the same host; the flood key refuses it first.
    again = post(client, ip="2001:db8:5:6:ffff::2", email="b@example.org", content="Two.")
    assert_refused(again, 429, "rate_limited")
    other = post(client, ip="2001:db8:5:7::1", email="c@example.org", content="Three.")
    assert other.status_code == 201


def test_flood_interval_passes(settings):
    app, _ = limited(settings, flood_interval=1)
    client = app.test_client()
    assert post(client, content="One.").status_code == 201
    deadline = time.monotonic() + PATIENCE_SECONDS
    for n in range(10_000):
        r = post(client, content=f"Two, try {n}.")
        if r.status_code == 201:
            break
        assert_refused(r, 429, "rate_limited")
        assert r.headers["Retry-After"] == "1"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert r.status_code == 201


def test_flood_interval_zero_turns_it_off(settings):
    app, _ = limited(settings, flood_interval=0)
    client = app.test_client()
    for n in range(5):
        assert post(client, content=f"Quick reply {n}.").status_code == 201


def test_a_replay_within_the_flood_interval_is_answered(settings):
    app, _ = limited(settings, flood_interval=3600, duplicate_window=86_400)
    client = app.test_client()
    key = {"Idempotency-Key": "double-click"}
    first = post(client, headers=key, content="Posted twice by a double click.")
    again = post(client, headers=key, content="Posted twice by a double click.")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]


@pytest.fixture
def proxy(stoppable_redis):
    url, _ = stoppable_redis
    proxy = HoldingProxy(int(url.rsplit(":", 1)[1].split("/")[0]))
    yield proxy
    proxy.close()


def test_a_retry_after_a_lost_reply_gets_its_comment_with_every_limit_on(
    settings, stoppable_redis, proxy
):
    app, services = limited(
        settings,
        redis_url=proxy.url,
        redis_timeout=0.5,
        rate_limit="5/hour",
        flood_interval=3600,
        duplicate_window=86_400,
        max_pending_per_client=1,
    )
    client = app.test_client()
    warm = post(client, ip="198.51.100.200", email="warm@example.org", content="Scripts loaded.")
    assert warm.status_code == 201
    key = {"Idempotency-Key": "attempt-7f3a"}
    body = {"content": f"{HELD} (sent once, answered never)"}
    # The store script runs, its answer is lost: the client sees a 503.
    proxy.hold_reply_to(services.comments._store.sha.encode())
    first = post(client, headers=key, **body)
    assert proxy.held.is_set()
    assert first.status_code == 503
    retry = post(client, headers=key, **body)
    assert retry.status_code == 201, retry.get_data(as_text=True)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json()["status"] == "pending"
    # Without the key it is a duplicate; a new comment is within the flood interval.
    assert_refused(post(client, **body), 409, "duplicate")
    assert_refused(post(client, content="Something new."), 429, "rate_limited")


# --- duplicates ---------------------------------------------------------------------------


def test_the_same_comment_again_is_409(settings):
    app, services = limited(settings, duplicate_window=86_400)
    client = app.test_client()
    first = post(client, content="The budget grew by 4%,\nnot 3.2%.")
    assert first.status_code == 201
    before = snapshot(services)
    again = post(client, ip="198.51.100.7", content="  The budget grew   by 4%, not\t3.2%. ")
    error = assert_refused(again, 409, "duplicate")
    assert error["message"] == DUPLICATE
    assert error["message"] == (
        "Duplicate comment detected; it looks as though you've already said that!"
    )
    assert snapshot(services) == before
    # The same words elsewhere, or from someone else, are not duplicates.
    text = "The budget grew by 4%, not 3.2%."
    reply = post(client, content=text, parent=first.get_json()["id"])
    assert reply.status_code == 201
    assert post(client, content=text, thread="news/2026/other").status_code == 201
    assert post(client, content=text, email="echo@example.org").status_code == 201
    assert post(client, content=text + " Really.").status_code == 201


def test_a_replay_is_not_a_duplicate(settings):
    app, _ = limited(settings, duplicate_window=86_400)
    client = app.test_client()
    key = {"Idempotency-Key": "k-1"}
    first = post(client, headers=key, content="Said once.")
    again = post(client, headers=key, content="Said once.")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert_refused(
        post(client, headers={"Idempotency-Key": "k-2"}, content="Said once."), 409, "duplicate"
    )


def test_a_duplicate_is_remembered_for_the_window(settings):
    app, services = limited(settings, duplicate_window=120)
    client = app.test_client()
    assert post(client, content="Remembered for two minutes.").status_code == 201
    (key,) = services.redis.keys(services.comments.keys.base + ":duplicate:*")
    assert 0 < services.redis.ttl(key) <= 120


# --- the cap on held comments -----------------------------------------------------------


def test_a_client_at_its_cap_of_held_comments_is_refused(settings):
    # Only the rules hold (links): no test depends on one model's borderline scores.
    app, services = limited(settings, max_pending_per_client=2, publish_below=1.0, spam_above=1.0)
    client = app.test_client()
    for n in range(2):
        r = post(client, content=f"{HELD} ({n})")
        assert r.status_code == 201 and r.get_json()["status"] == "pending"
    before = snapshot(services)
    # Refused whatever the new comment would have been: a spammer learns nothing from it.
    ordinary = post(client, content="An ordinary remark about the council.")
    error = assert_refused(ordinary, 429, "too_many_pending")
    assert "waiting for moderation" in error["message"]
    assert 86_000 <= int(ordinary.headers["Retry-After"]) <= 86_400
    # The commenter from another address, and another commenter from the same address.
    assert_refused(post(client, ip="198.51.100.8", content=f"{HELD} (2)"), 429, "too_many_pending")
    assert_refused(post(client, email="x@example.org", content=HELD), 429, "too_many_pending")
    assert snapshot(services) == before
    assert services.comments.count("pending") + services.comments.count("spam") == 2
    # Published comments take no place.
    for n in range(3):
        r = post(client, ip="198.51.100.8", email="y@example.org", content=f"Fine point {n}.")
        assert r.status_code == 201 and r.get_json()["status"] == "published"


def test_the_cap_counts_held_comments_within_the_window(services):
    store = services.comments
    guard = Guard(max_pending=2, pending_window_ms=1000)
    base = {"thread": THREAD, "author": "Bulk", "content": "Queued", "email_hash": "h"}
    base |= {"created_at": "2026-12-01T00:00:00.000Z", "ip": "203.0.113.1", "score": 0.7}

    def add(created_ms: int, status: str = "pending") -> int:
        cid = store.next_id()
        record = {**base, "id": cid, "created_ms": created_ms, "status": status}
        return store.add(record, guard=guard)

    start = 1_800_000_000_000
    add(start)
    add(start + 400, "spam")
    with pytest.raises(Refused) as refused:
        add(start + 500)
    assert (refused.value.reason, refused.value.retry_after) == ("too_many_pending", 1)
    assert store.count("pending") == 1 and store.count("spam") == 1
    with pytest.raises(Refused):
        add(start + 600, "published")  # at the cap nothing is taken
    assert store.count("published") == 0
    # The first has left the window: one place is free, and taken.
    add(start + 1001)
    with pytest.raises(Refused):
        add(start + 1002)
    assert store.count("pending") == 2


# --- the no-JS page -----------------------------------------------------------------------


def form(**overrides: str) -> dict[str, str]:
    body = {k: str(v) for k, v in comment().items() if k in ("author", "email", "content")}
    return {**body, "url": "", "homepage": "", "stamp": "", **overrides}


def page_post(client, data: dict[str, str], query: str = ""):
    return client.post(
        f"/threads/{quote(THREAD, safe='')}{query}",
        data=data,
        environ_base={"REMOTE_ADDR": "198.51.100.1"},
    )


def field(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    return unescape(match.group(1)) if match else None


def test_the_no_js_page_answers_429_with_the_wait_and_what_was_typed(settings):
    app, services = limited(settings, flood_interval=3600, publish_below=1.0, spam_above=1.0)
    client = app.test_client()
    assert page_post(client, form(content="My first comment.")).status_code == 303
    stamp = client.get("/api/v1/form-stamp").get_json()["stamp"]
    typed = form(content="My second comment, typed with care.", url="https://me.example/")
    r = page_post(client, {**typed, "stamp": stamp, "parent": ""})
    assert r.status_code == 429
    assert r.headers["Content-Type"].startswith("text/html")
    assert 3500 <= int(r.headers["Retry-After"]) <= 3600
    html = unescape(r.get_data(as_text=True))
    assert "You are posting comments too quickly. Slow down." in html
    assert "Please wait 1 hour, then send your comment again. Nothing you typed is lost." in html
    assert "My second comment, typed with care." in html
    assert field(html, "author") == "Maria Keller"
    assert field(html, "email") == "maria.keller@example.org"
    assert field(html, "url") == "https://me.example/"
    assert field(html, "stamp") == stamp  # the same submission when it is sent again
    assert "My first comment." in html  # the thread is still shown
    assert services.comments.count("published") + services.comments.count("pending") == 1


def test_the_no_js_page_speaks_the_readers_language_when_refusing(settings):
    app, _ = limited(settings, flood_interval=3600)
    client = app.test_client()
    assert page_post(client, form(content="Salam.")).status_code == 303
    r = page_post(client, form(content="Dobare."), query="?lang=fa")
    assert r.status_code == 429
    html = r.get_data(as_text=True)
    assert "You are posting" not in html
    assert "۱ ساعت" in html  # one hour, in Persian digits


def test_the_no_js_page_answers_a_duplicate_with_409(settings):
    app, _ = limited(settings, duplicate_window=86_400)
    client = app.test_client()
    assert page_post(client, form(content="Said it once.")).status_code == 303
    r = page_post(client, form(content="Said it once."))
    assert r.status_code == 409
    html = unescape(r.get_data(as_text=True))
    assert DUPLICATE in html
    assert "Said it once." in html
    assert "Retry-After" not in r.headers


def test_the_no_js_page_at_the_cap(settings):
    app, _ = limited(settings, max_pending_per_client=1)
    client = app.test_client()
    assert page_post(client, form(content=HELD)).status_code == 303
    r = page_post(client, form(content="Waiting my turn."))
    assert r.status_code == 429
    html = unescape(r.get_data(as_text=True))
    assert "Too many of your comments are waiting for moderation." in html
    assert "Please wait 1 day" in html
    assert "Waiting my turn." in html


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (1, "1 second"),
        (15, "15 seconds"),
        (59, "59 seconds"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (3599, "1 hour"),
        (3601, "2 hours"),
        (86_400, "1 day"),
    ],
)
def test_waits_are_said_rounded_up(seconds, said):
    assert _duration(seconds, Locale.parse("en")) == said


def test_waits_in_persian_and_arabic():
    assert _duration(15, Locale.parse("fa")) == "۱۵ ثانیه"
    # Arabic pages write the digits CLDR gives "ar" by default: 0-9, as the rest of the page.
    assert _duration(15, Locale.parse("ar")) == "15 ثانية"


# --- the API document ------------------------------------------------------------------


def test_the_document_declares_409_and_429_for_posting(client):
    post_op = client.get("/api/openapi.json").get_json()["paths"]["/api/v1/comments"]["post"]
    responses = post_op["responses"]
    assert {"409", "429"} <= set(responses)
    assert "Retry-After" in responses["429"]["headers"]
    assert responses["409"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorOut")


# --- the widget, in a real browser --------------------------------------------------------


def test_the_widget_shows_the_wait_and_keeps_the_text(browser, host_page, settings):
    from tests.test_embed_browser import TIMEOUT_MS, fill, open_widget, status_text

    # The model publishes everything short of certain spam: the first post is published.
    settings = replace(
        settings,
        allowed_origins=(host_page.origin,),
        min_fill_seconds=0.0,
        publish_below=0.9,
        spam_above=0.99,
    )
    app, _ = limited(settings, flood_interval=3600)
    server = LiveServer(app).start()
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        open_widget(page, host_page, server.url)
        fill(page, "Which figure is right, 4% or 3.2%?")
        page.get_by_role("button", name="Post Comment").click()
        page.locator(".mc-status--ok").wait_for()
        page.locator("#mc-content").fill("And another thing, straight away.")
        page.get_by_role("button", name="Post Comment").click()
        page.locator(".mc-status--error").wait_for()
        # An hour's wait is said in hours, not in thousands of seconds.
        assert status_text(page) == (
            "Please wait 1 hour, then try again. Nothing you typed is lost."
        ), status_text(page)
        assert page.locator("#mc-content").input_value() == "And another thing, straight away."
    finally:
        context.close()
        server.stop()
