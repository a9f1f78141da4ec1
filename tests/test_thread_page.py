"""The no-JavaScript thread page: the published thread and an ordinary HTML form."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from html import unescape
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from moderation import create_app
from moderation.formstamp import issue_stamp, stamp_age
from tests.conftest import LiveServer, comment

THREAD = "/blog/hello/"
NEWS = "https://news.example.com"


@pytest.fixture
def settings(settings):
    # The rules hold what these tests hold; the model (retrained now and then) publishes
    # everything short of certain spam, so no test depends on one model's borderline scores.
    return replace(
        settings,
        allowed_origins=(NEWS,),
        word_list=("casino",),
        publish_below=0.9,
        spam_above=0.99,
    )


def page_url(live: str, thread: str = THREAD) -> str:
    return f"{live}/threads/{quote(thread, safe='')}"


def form(app, **overrides: str) -> dict[str, str]:
    """What the page's form sends: every field, a stamp from long enough ago, the honeypot."""
    body = {k: str(v) for k, v in comment().items() if k in ("author", "email", "content")}
    body.update(url="", homepage="", stamp=issue_stamp(app.secret_key, now=time.time() - 60))
    body.update(overrides)
    return body


def field_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    return unescape(match.group(1)) if match else None


def test_empty_thread_page_has_the_form(live, http, app):
    r = http.get(page_url(live))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    html = r.text
    assert "No comments yet" in html
    assert "Leave a Reply" in html
    assert "Your email address will not be published." in html
    assert "Required fields are marked" in html
    assert re.search(
        r'<form class="mc-form" method="post" action="/threads/%2Fblog%2Fhello%2F"', html
    )
    for label in ("Comment", "Name", "Email", "Website"):
        assert re.search(rf'<label for="mc-\w+">{label}', html)
    honeypot = re.search(r"<input[^>]*name=\"homepage\"[^>]*>", html).group(0)
    assert 'tabindex="-1"' in honeypot and 'autocomplete="off"' in honeypot
    assert '<div class="mc-hp" aria-hidden="true">' in html
    assert 0 <= stamp_age(field_value(html, "stamp"), app.secret_key) < 5
    assert "<script" not in html
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and f"form-action 'self' {NEWS}" in csp
    assert "/embed.css" in html


def test_post_redirects_back_with_a_notice_and_shows_the_comment(live, http, app):
    r = http.post(page_url(live), data=form(app), allow_redirects=False)
    assert r.status_code == 303
    location = r.headers["Location"]
    assert location.startswith("/threads/%2Fblog%2Fhello%2F?posted=published#comment-")
    email = comment()["email"]
    assert email not in location

    page = http.get(live + location).text
    assert "Thank you! Your comment has been published." in page
    assert "1 Comment" in page
    assert "Maria Keller" in page
    assert "council minutes say 3.2%" in page
    assert email not in page
    assert re.search(
        r'<time datetime="[^"]+Z" title="[A-Z][a-z]+ \d+, \d{4} at \d\d:\d\d UTC">just now</time>',
        page,
    )
    # The API sees the same comment: the page is just another client of the one store.
    listing = http.get(f"{live}/api/v1/threads/{quote(THREAD, safe='')}/comments").json()
    assert listing["items"][0]["author"] == "Maria Keller"


def test_pending_comment_gets_the_awaiting_moderation_notice(live, http, app, services):
    r = http.post(
        page_url(live), data=form(app, content="Visit my casino tonight."), allow_redirects=False
    )
    assert r.status_code == 303
    assert "posted=pending" in r.headers["Location"]
    page = http.get(live + r.headers["Location"]).text
    assert "Your comment is awaiting moderation" in page
    assert "Visit my casino" not in page
    assert services.comments.count("pending") == 1


def test_a_too_quick_form_is_held_for_review(live, http, app, services):
    page = http.get(page_url(live)).text
    stamp = field_value(page, "stamp")
    r = http.post(page_url(live), data=form(app, stamp=stamp), allow_redirects=False)
    assert "posted=pending" in r.headers["Location"]
    assert services.comments.count("pending") == 1


def test_invalid_fields_rerender_with_422_keeping_what_was_typed(live, http, app, services):
    text = 'Line one with <b>"quotes"</b> & ampersands.\n\nSecond paragraph.'
    r = http.post(
        page_url(live),
        data=form(
            app,
            content=text,
            author="",
            email="not-an-email",
            url="https://maria.example.org/",
            homepage="",
        ),
    )
    assert r.status_code == 422
    html = r.text
    textarea = re.search(r"<textarea[^>]*>\n(.*?)</textarea>", html, re.S)
    assert unescape(textarea.group(1)) == text
    assert field_value(html, "email") == "not-an-email"
    assert field_value(html, "url") == "https://maria.example.org/"
    # Errors sit beside their fields and are tied to them for screen readers.
    assert 'id="mc-email-error"' in html and "Not a valid email address." in html
    assert 'id="mc-author-error"' in html
    email_input = re.search(r'<input id="mc-email"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in email_input
    assert 'aria-describedby="mc-email-error mc-email-note"' in email_input
    assert "aria-invalid" not in re.search(r'<input id="mc-url"[^>]*>', html).group(0)
    assert "<b>" not in html  # the typed markup comes back escaped
    assert services.comments.count("published") == 0


def test_rerender_never_returns_the_honeypot(live, http, app):
    r = http.post(page_url(live), data=form(app, author="", homepage="http://spam.example.com"))
    assert r.status_code == 422
    assert field_value(r.text, "homepage") == ""
    assert "spam.example.com" not in r.text


def test_reply_link_puts_the_form_under_the_comment(live, http, app):
    first = http.post(page_url(live), data=form(app), allow_redirects=False)
    parent_id = int(first.headers["Location"].rsplit("comment-", 1)[1])
    page = http.get(page_url(live) + f"?reply_to={parent_id}").text
    assert "Reply to Maria Keller" in page
    assert f'<input type="hidden" name="parent" value="{parent_id}">' in page
    slot = page.split(f'id="comment-{parent_id}"', 1)[1].split('class="mc-reply-slot"', 1)[1]
    assert slot.lstrip(">").lstrip().startswith('<div class="mc-respond" id="respond">')
    assert "Cancel reply" in page

    reply = form(app, author="Jonas", email="jonas@example.org", content="The 3.2% is right.")
    r = http.post(page_url(live), data={**reply, "parent": str(parent_id)}, allow_redirects=False)
    assert r.status_code == 303
    page = http.get(page_url(live)).text
    replies = page.split(f'id="comment-{parent_id}"', 1)[1]
    assert re.search(r'<ol class="mc-list mc-replies">\s*<li class="mc-comment"', replies)
    assert "Jonas" in replies and "The 3.2% is right." in replies


def test_markup_in_a_comment_is_shown_as_text(live, http, app):
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    http.post(page_url(live), data=form(app, content=hostile, author="<i>Eve</i>"))
    page = http.get(page_url(live)).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;i&gt;Eve&lt;/i&gt;" in page


def test_return_to_on_an_allowed_origin(live, http, app):
    back = NEWS + "/2026/budget?utm=x"
    r = http.post(page_url(live), data=form(app, return_to=back), allow_redirects=False)
    assert r.status_code == 303
    parts = urlsplit(r.headers["Location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == NEWS + "/2026/budget"
    assert parse_qs(parts.query) == {"utm": ["x"], "comment_status": ["published"]}
    assert parts.fragment == "comments"


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example.net/",
        "//evil.example.net/",
        "javascript:alert(1)",
        "https://news.example.com@evil.example.net/",
        "https://news.example.com.evil.example.net/",
    ],
)
def test_return_to_elsewhere_goes_back_to_the_thread_page(live, http, app, back):
    r = http.post(page_url(live), data=form(app, return_to=back), allow_redirects=False)
    assert r.status_code == 303
    assert r.headers["Location"].startswith("/threads/%2Fblog%2Fhello%2F?posted=")


def test_get_with_return_to_links_back_and_carries_it_in_the_form(live, http):
    html = http.get(page_url(live) + "?return_to=" + quote(NEWS + "/a?b=1")).text
    assert '<a class="mc-back" href="https://news.example.com/a?b=1">' in html
    assert field_value(html, "return_to") == NEWS + "/a?b=1"
    evil = http.get(page_url(live) + "?return_to=" + quote("https://evil.example.net/")).text
    assert "evil.example.net" not in evil


def test_post_from_a_foreign_page_is_refused(live, http, app, services):
    r = http.post(page_url(live), data=form(app), headers={"Origin": "https://evil.example.net"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "origin_not_allowed"
    assert services.comments.count("published") == 0
    ok = http.post(page_url(live), data=form(app), headers={"Origin": live}, allow_redirects=False)
    assert ok.status_code == 303


def test_only_form_posts_are_taken(live, http):
    r = http.post(page_url(live), json={"content": "x"})
    assert r.status_code == 415


def test_storage_outage_keeps_the_form_and_what_was_typed(settings, stoppable_redis, http):
    url, redis_process = stoppable_redis
    app = create_app(replace(settings, redis_url=url, redis_timeout=0.5))
    server = LiveServer(app).start()
    try:
        parent = http.post(server.url + "/api/v1/comments", json=comment(thread=THREAD)).json()
        redis_process.terminate()
        redis_process.wait(timeout=10)
        typed = form(app, content="Typed during the outage.", parent=str(parent["id"]))
        r = http.post(page_url(server.url), data=typed)
        assert r.status_code == 503
        assert r.headers["Content-Type"].startswith("text/html")
        assert int(r.headers["Retry-After"]) > 0
        assert "cannot tell whether your comment was saved" in r.text
        assert "not be posted twice" in r.text
        assert "Nothing you typed is lost" in r.text
        assert "Typed during the outage." in r.text
        assert field_value(r.text, "author") == "Maria Keller"
        # Still a reply when it is sent again.
        assert field_value(r.text, "parent") == str(parent["id"])

        page = http.get(page_url(server.url))
        assert page.status_code == 503
        assert "The comments could not be loaded" in page.text
        assert "Leave a Reply" in page.text
    finally:
        server.stop()
