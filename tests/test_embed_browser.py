"""The embedded widget in a real browser, on a host page of another origin with hostile CSS."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import quote

import pytest

from moderation import create_app
from moderation.store.comments import REPLIES_PER_COMMENT
from tests.conftest import LiveServer, comment, publish

THREAD = "news/2026/city-budget"
HOLD = "hold for review"  # on the word list: comments containing it wait for a moderator
TIMEOUT_MS = 120_000  # a hung page, not a slow machine: see PATIENCE_SECONDS


@pytest.fixture
def settings(settings, host_page):
    # Playwright types faster than any person: the minimum fill-in time is tested elsewhere.
    # The word list holds what these tests hold; the model publishes everything short of
    # certain spam, so no test depends on one model's borderline scores.
    return replace(
        settings,
        allowed_origins=(host_page.origin,),
        min_fill_seconds=0.0,
        word_list=(HOLD,),
        publish_below=0.9,
        spam_above=0.99,
    )


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 960, "height": 1100}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], "the widget threw in the page"


def open_widget(page, host_page, live, thread=THREAD, **options):
    page.goto(host_page.url(live, thread, **options))
    page.locator('.mc[aria-busy="false"]').wait_for()
    return page


def fill(page, content, author="Maria Keller", email="maria.keller@example.org", url=""):
    page.locator("#mc-content").fill(content)
    page.locator("#mc-author").fill(author)
    page.locator("#mc-email").fill(email)
    page.locator("#mc-url").fill(url)


def post(page):
    page.get_by_role("button", name="Post Comment").click()


def status_text(page) -> str:
    return page.locator(".mc-status").inner_text()


def test_reader_posts_a_comment_and_sees_it_at_once(page, host_page, live, artifacts):
    open_widget(page, host_page, live)
    assert page.locator(".mc-empty").inner_text() == (
        "No comments yet. Be the first to share your thoughts."
    )
    assert page.get_by_role("heading", name="Leave a Reply").is_visible()
    assert page.get_by_text("Your email address will not be published.").is_visible()
    page.locator("#comments").screenshot(path=str(artifacts / "embed-empty.png"))

    fill(page, "Which figure is right, 4% or 3.2%?", url="maria.example.org")
    post(page)
    page.locator(".mc-status--ok").wait_for()
    assert status_text(page) == "Thank you! Your comment has been published."
    item = page.locator(".mc-list > .mc-comment")
    assert item.count() == 1
    assert item.locator(".mc-author").inner_text() == "Maria Keller"
    link = item.locator(".mc-author a")
    assert link.get_attribute("href") == "https://maria.example.org/"
    assert link.get_attribute("rel") == "nofollow ugc noopener"
    assert page.locator(".mc-title").inner_text() == "1 Comment"
    assert page.locator("#mc-content").input_value() == ""  # ready for the next one
    assert page.locator("#mc-author").input_value() == "Maria Keller"

    # After a reload it comes from the service's thread listing.
    page.reload()
    item = page.locator(".mc-list > .mc-comment")
    item.wait_for()
    assert item.locator(".mc-content").inner_text() == "Which figure is right, 4% or 3.2%?"
    time = item.locator("time")
    assert time.inner_text() == "just now"
    assert time.get_attribute("datetime").endswith("Z")
    assert "20" in time.get_attribute("title")  # the exact date, e.g. "3 July 2026 at 14:05"


def test_host_css_and_widget_css_stay_apart(page, host_page, live, artifacts):
    open_widget(page, host_page, live)
    page.screenshot(path=str(artifacts / "embed-on-hostile-page.png"), full_page=True)
    # The page hides every form, label and button and makes all text huge and red...
    style = page.evaluate(
        """() => {
            const s = (el) => getComputedStyle(el);
            const root = document.getElementById("comments").shadowRoot;
            const area = root.getElementById("mc-content");
            return {
                form: s(root.querySelector("form")).display,
                button: s(root.querySelector(".mc-submit")).display,
                label: s(root.querySelector("label")).display,
                textSize: s(root.querySelector(".mc-note")).fontSize,
                textColor: s(root.querySelector(".mc-note")).color,
                areaSize: s(area).fontSize,
                hostHeading: s(document.querySelector("h1")).fontSize,
                hostColor: s(document.querySelector("article p")).color,
            };
        }"""
    )
    # ...but not inside the widget,
    assert style["form"] == "block"
    assert style["button"] != "none"
    assert style["label"] != "none"
    assert style["textSize"] == "14px"
    assert style["textColor"] != "rgb(255, 0, 0)"
    assert style["areaSize"] == "16px"
    # and the widget's own styles do not reach the page.
    assert style["hostHeading"] == "40px"
    assert style["hostColor"] == "rgb(255, 0, 0)"
    assert page.get_by_role("button", name="Post Comment").is_visible()


def test_pending_comment_is_marked_then_replaced_once_approved(
    page, host_page, live, http, services, artifacts
):
    open_widget(page, host_page, live, refresh_seconds=1)
    fill(page, f"Please {HOLD}: the numbers look off to me.")
    post(page)
    page.locator(".mc-status--pending").wait_for()
    assert status_text(page) == "Thank you! Your comment is awaiting moderation."
    mine = page.locator(".mc-comment--pending")
    assert mine.locator(".mc-badge").inner_text() == "Awaiting moderation"
    comment_id = int(mine.get_attribute("id").removeprefix("comment-"))
    assert page.locator(".mc-title").inner_text() == "Comments"
    page.locator("#comments").screenshot(path=str(artifacts / "embed-pending.png"))

    # Another reader's comment arrives through the periodic refresh, without a reload.
    http.post(live + "/api/v1/comments", json=comment(author="Jonas Berg"))
    page.get_by_text("Jonas Berg").wait_for()
    assert page.locator(".mc-comment--pending").count() == 1  # ours is still shown as waiting

    _, moderator = services.tokens.create("Ada", "moderator")
    assert services.review.decide(comment_id, "approve", moderator).outcome == "decided"
    page.locator(".mc-comment--pending").wait_for(state="detached")
    approved = page.locator(f"#comment-{comment_id}")
    assert approved.count() == 1
    assert not approved.locator(".mc-badge").is_visible()
    assert page.locator(".mc-title").inner_text() == "2 Comments"


def test_reply_link_moves_the_form_and_the_reply_nests(page, host_page, live, http, artifacts):
    parent = http.post(live + "/api/v1/comments", json=comment()).json()
    open_widget(page, host_page, live)
    card = page.locator(f"#comment-{parent['id']}")
    card.get_by_role("button", name="Reply to Maria Keller").click()
    assert card.locator("form").count() == 1
    assert page.get_by_role("heading", name="Reply to Maria Keller").is_visible()
    assert page.locator("#mc-content").evaluate("el => el === el.getRootNode().activeElement")

    page.get_by_role("button", name="Cancel reply").click()
    assert card.locator("form").count() == 0
    assert page.get_by_role("heading", name="Leave a Reply").is_visible()

    card.get_by_role("button", name="Reply to Maria Keller").click()
    fill(page, "The minutes are right: 3.2%.", author="Jonas Berg", email="jonas@example.org")
    page.locator("#comments").screenshot(path=str(artifacts / "embed-reply-form.png"))
    post(page)
    page.locator(".mc-status--ok").wait_for()
    reply = card.locator(".mc-replies > .mc-comment")
    assert reply.locator(".mc-author").inner_text() == "Jonas Berg"
    # The form went away from under the parent, so the reader is kept at the new reply.
    assert reply.evaluate("el => el === el.getRootNode().activeElement")
    assert card.locator("form").count() == 0  # the form went back to the end of the thread

    # Nested under its parent in the published thread, after a reload too.
    page.reload()
    nested = page.locator(f"#comment-{parent['id']} .mc-replies > .mc-comment .mc-content")
    nested.wait_for()
    assert nested.inner_text() == "The minutes are right: 3.2%."

    # A fuller thread for the screenshot: a deeper reply and a commenter with a website.
    http.post(
        live + "/api/v1/comments",
        json=comment(
            author="Lena Hoffmann",
            url="https://lena.example.net/",
            content="Thanks both, that clears it up.\n\nThe council's PDF is linked on page 2.",
            parent=reply_id(http, live),
        ),
    )
    http.post(
        live + "/api/v1/comments",
        json=comment(author="Omar", content="Will there be a follow-up on the school budget?"),
    )
    page.reload()
    page.get_by_text("Omar").wait_for()
    page.locator("#comments").screenshot(path=str(artifacts / "embed-thread.png"))
    page.set_viewport_size({"width": 390, "height": 1400})
    page.locator("#comments").screenshot(path=str(artifacts / "embed-thread-narrow.png"))


def reply_id(http, live) -> int:
    listing = http.get(f"{live}/api/v1/threads/{quote(THREAD, safe='')}/comments").json()
    return listing["items"][0]["replies"][0]["id"]


def test_markup_in_a_comment_is_text_and_never_runs(page, host_page, live):
    hostile = '<script>window.__xss = 1</script><img src=x onerror="window.__xss=2">'
    open_widget(page, host_page, live)
    fill(page, hostile, author='<img src=x onerror="window.__xss=3">Eve')
    post(page)
    page.locator(".mc-status--ok").wait_for()
    for _ in range(2):  # as inserted after posting, then as listed by the service
        content = page.locator(".mc-list .mc-content").first
        assert content.inner_text() == hostile
        assert page.locator(".mc-list .mc-author").first.inner_text() == (
            '<img src=x onerror="window.__xss=3">Eve'
        )
        assert page.locator(".mc-list img, .mc-list script").count() == 0
        page.wait_for_timeout(300)  # time for an injected image to fail and fire onerror
        assert page.evaluate("typeof window.__xss") == "undefined"
        page.reload()
        page.locator(".mc-list .mc-content").first.wait_for()


def test_validation_errors_sit_beside_the_fields_and_keep_the_text(
    page, host_page, live, artifacts
):
    open_widget(page, host_page, live)
    post(page)  # nothing filled in: the widget names each required field
    for name in ("content", "author", "email"):
        assert page.locator(f"#mc-{name}-error").is_visible()
        assert page.locator(f"#mc-{name}").get_attribute("aria-invalid") == "true"
    assert page.locator("#mc-content").evaluate("el => el === el.getRootNode().activeElement")

    text = "A long, careful comment that must not be lost.\n\nSecond paragraph."
    fill(page, text, email="not-an-email", url="https://maria.example.org/")
    post(page)  # the service finds the address invalid (422)
    error = page.locator("#mc-email-error")
    error.wait_for()
    assert error.inner_text() == "Not a valid email address."
    email = page.locator("#mc-email")
    assert email.get_attribute("aria-invalid") == "true"
    assert email.get_attribute("aria-describedby").split() == ["mc-email-error", "mc-email-note"]
    assert page.locator("#mc-content-error").is_hidden()
    assert page.locator("#mc-content").input_value() == text
    assert page.locator("#mc-author").input_value() == "Maria Keller"
    assert page.locator("#mc-url").input_value() == "https://maria.example.org/"
    assert "Please correct the field marked below." in status_text(page)
    page.locator("#comments").screenshot(path=str(artifacts / "embed-error.png"))

    page.locator("#mc-email").fill("maria@example.org")  # fixing the field clears its error
    assert email.get_attribute("aria-invalid") is None
    post(page)
    page.locator(".mc-status--ok").wait_for()


def test_storage_outage_says_try_again_and_keeps_the_text(
    page, host_page, settings, stoppable_redis, artifacts
):
    url, redis_process = stoppable_redis
    server = LiveServer(create_app(replace(settings, redis_url=url, redis_timeout=0.5))).start()
    try:
        open_widget(page, host_page, server.url)
        fill(page, "Typed just before the storage went away.")
        redis_process.terminate()
        redis_process.wait(timeout=10)
        post(page)
        page.locator(".mc-status--error").wait_for()
        assert "try again" in status_text(page).lower()
        assert "Nothing you typed is lost" in status_text(page)
        typed = page.locator("#mc-content").input_value()
        assert typed == "Typed just before the storage went away."
        assert page.locator("#mc-author").input_value() == "Maria Keller"
        assert page.get_by_role("button", name="Post Comment").is_enabled()
        assert page.locator(".mc-list .mc-comment").count() == 0

        # Opened while the storage is down: the thread says so and offers to try again.
        page.reload()
        load_error = page.locator(".mc-notice--error")
        load_error.wait_for()
        assert "could not be loaded" in load_error.inner_text()
        assert load_error.get_by_role("button", name="Try again").is_visible()
        fill(page, "Typed while the service was down.")
        post(page)
        page.locator(".mc-status--error").wait_for()
        page.locator("#comments").screenshot(path=str(artifacts / "embed-unavailable.png"))
    finally:
        server.stop()


def saved(page):
    raw = page.evaluate("localStorage.getItem('comments:commenter')")
    return json.loads(raw) if raw else None


def test_details_are_saved_only_when_ticked(page, host_page, live):
    open_widget(page, host_page, live)
    save = page.get_by_label("Save my name, email, and website in this browser")
    assert not save.is_checked()
    fill(page, "First comment, nothing saved.")
    post(page)
    page.locator(".mc-status--ok").wait_for()
    assert saved(page) is None

    page.locator("#mc-content").fill("Second comment, please remember me.")
    page.locator("#mc-url").fill("https://maria.example.org/")
    save.check()
    assert saved(page) is None  # only a comment actually posted stores anything
    post(page)
    page.get_by_text("Second comment, please remember me.").wait_for()
    assert saved(page) == {
        "author": "Maria Keller",
        "email": "maria.keller@example.org",
        "url": "https://maria.example.org/",
    }

    page.reload()
    page.locator(".mc-title").wait_for()
    assert page.locator("#mc-author").input_value() == "Maria Keller"
    assert page.locator("#mc-email").input_value() == "maria.keller@example.org"
    assert save.is_checked()
    save.uncheck()
    assert saved(page) is None


def test_keyboard_reply_cancel_and_the_honeypot_out_of_reach(page, host_page, live, http):
    parent = http.post(live + "/api/v1/comments", json=comment()).json()
    open_widget(page, host_page, live)
    reply = page.get_by_role("button", name="Reply to Maria Keller")
    reply.focus()
    page.keyboard.press("Enter")
    focused = "() => document.getElementById('comments').shadowRoot.activeElement.id"
    assert page.evaluate(focused) == "mc-content"
    assert page.locator(f"#comment-{parent['id']} form").count() == 1
    page.keyboard.press("Escape")
    assert page.locator(f"#comment-{parent['id']} form").count() == 0
    assert (
        page.evaluate(
            "() => document.getElementById('comments').shadowRoot.activeElement.className"
        )
        == "mc-reply"
    )

    # Tab walks the form in order and never lands on the honeypot.
    page.locator("#mc-content").focus()
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "() => { const a = document.getElementById('comments').shadowRoot.activeElement;"
                " return a.id || a.className; }"
            )
        )
    assert order == ["mc-author", "mc-email", "mc-url", "mc-save", "mc-submit"]
    outline = page.locator(".mc-submit").evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"  # a visible focus ring
    honeypot = page.locator("#mc-homepage")
    assert honeypot.get_attribute("tabindex") == "-1"
    assert honeypot.get_attribute("autocomplete") == "off"
    assert not honeypot.is_visible() or honeypot.bounding_box()["x"] < 0
    assert page.get_by_role("textbox", name="Leave this field empty").count() == 0


def test_no_javascript_page_in_a_browser(browser, live, host_page, http, artifacts):
    parent = http.post(live + "/api/v1/comments", json=comment()).json()
    http.post(
        live + "/api/v1/comments",
        json=comment(
            author="Jonas Berg", content="The minutes are right: 3.2%.", parent=parent["id"]
        ),
    )
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 960, "height": 1100}
    )
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        article = host_page.url(live, THREAD)
        page.goto(f"{live}/threads/{quote(THREAD, safe='')}?return_to={quote(article)}")
        assert page.locator(".mc-title").inner_text() == "2 Comments"
        page.screenshot(path=str(artifacts / "nojs-thread.png"), full_page=True)

        # A mistake: the page comes back with the error and everything typed.
        page.locator("#mc-content").fill("Posted without JavaScript.")
        page.locator("#mc-author").fill("Ann")
        page.locator("#mc-email").fill("ann@")
        page.get_by_role("button", name="Post Comment").click()
        page.locator("#mc-email-error").wait_for()
        assert page.locator("#mc-content").input_value() == "Posted without JavaScript."
        page.screenshot(path=str(artifacts / "nojs-error.png"), full_page=True)

        # Fixed: back on the article page, whose widget (with JavaScript) says what happened.
        page.locator("#mc-email").fill("ann@example.org")
        page.get_by_role("button", name="Post Comment").click()
        page.wait_for_url(lambda url: url.startswith(host_page.origin))
        assert "comment_status=published" in page.url
        back_on_article = page.url
    finally:
        context.close()

    # With JavaScript, the article's widget tells the reader what became of the comment.
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(back_on_article)
        notice = page.locator(".mc-notice[role=status]")
        notice.wait_for()
        assert notice.inner_text() == "Thank you! Your comment has been published."
        page.get_by_text("Posted without JavaScript.").wait_for()
    finally:
        context.close()


def test_many_replies_come_a_page_at_a_time(page, host_page, live, services, artifacts):
    (root,) = publish(services, THREAD, None, 1, "Root")
    replies = publish(services, THREAD, root, REPLIES_PER_COMMENT + 5)
    open_widget(page, host_page, live)
    shown = page.locator(f"#comment-{root} .mc-replies > .mc-comment")
    assert shown.count() == REPLIES_PER_COMMENT
    more = page.get_by_role("button", name="Show more replies (5)")
    more.click()
    page.locator(f"#comment-{replies[-1]}").wait_for()
    assert shown.count() == REPLIES_PER_COMMENT + 5
    assert more.is_hidden()
    page.locator("#comments").screenshot(path=str(artifacts / "embed-more-replies.png"))


def test_a_site_from_the_snippet_and_trust_kept_in_the_browser(
    page, host_page, live, services, artifacts
):
    # data-site="blog": the widget reads and posts that site's thread. The site holds
    # everything for review, so what publishes the second comment is the trust token the
    # browser kept from the first, once a moderator approved it.
    services.sites.create(
        "blog",
        {"allowed_origins": [host_page.origin], "publish_below": 0.0, "spam_above": 0.999},
    )
    blog = services.stores("blog")
    open_widget(page, host_page, live, data_site="blog")
    page.get_by_label("Save my name, email, and website in this browser").check()
    fill(page, "Does the budget include the new library?")
    post(page)
    page.get_by_text("Does the budget include the new library?").wait_for()
    held = blog.comments.queue_page("pending", "oldest", 10, None, None)[0]
    assert [c["content"] for c in held] == ["Does the budget include the new library?"]
    assert services.comments.count("pending") == 0  # not the default site's
    tokens = json.loads(page.evaluate("localStorage.getItem('comments:trust:blog')"))
    assert len(tokens) == 1

    moderator, _ = services.tokens.create("Ada", "moderator")
    info = services.tokens.lookup(moderator)
    assert blog.review.decide(held[0]["id"], "approve", info).status == "published"

    page.reload()
    page.locator('.mc[aria-busy="false"]').wait_for()
    page.get_by_text("Does the budget include the new library?").wait_for()
    page.locator("#mc-content").fill("Thanks, found it in the appendix.")
    post(page)
    page.get_by_text("Thanks, found it in the appendix.").wait_for()
    latest = blog.comments.queue_page("published", "newest", 1, None, None)[0][0]
    assert latest["content"] == "Thanks, found it in the appendix."
    assert [r["rule"] for r in latest["rules"]] == ["trusted_author"]
    page.screenshot(path=str(artifacts / "widget-site-trusted.png"), full_page=True)
