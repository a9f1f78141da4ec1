"""The moderation page in a real browser: sign in, decide with the keyboard, claims that
keep two moderators apart, comment markup that never runs, and screenshots to look at."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from moderation.ui.pages import LIKELY_SPAM
from tests.conftest import comment

LINKS = "Sources: https://a.example/report and https://b.example/minutes"
WORDS = ("casino", "free money")
QUEUE = "/api/v1/moderation/queue"


@pytest.fixture
def settings(settings, host_page):
    # The page is under test, not the model: the classifier holds nothing as spam by itself
    # (only the honeypot does), so comments held for review stay there whatever they score.
    # A word list for the markers, and the reader's site allowed to post comments.
    return dataclasses.replace(
        settings, spam_above=1.0, word_list=WORDS, allowed_origins=(host_page.origin,)
    )


def post(live, http, **overrides: object) -> int:
    r = http.post(live + "/api/v1/comments", json=comment(**overrides))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def seed_pending(live, http, n: int, **overrides: object) -> list[int]:
    """Comments with links, which the links rule always sends to review."""
    ids = []
    for i in range(n):
        body = {"content": f"{LINKS} ({i})", "email": f"reader{i}@example.org", **overrides}
        ids.append(post(live, http, **body))
    return ids


def status_of(services, cid: int) -> str:
    return services.comments.get(cid)["status"]


def shown(page: Page) -> list[int]:
    return page.locator("article.item").evaluate_all("els => els.map(e => Number(e.dataset.id))")


@pytest.fixture
def moderate(browser, live) -> Iterator[Callable[..., Page]]:
    """Opens /moderate in a fresh browser context (its own cookies) and signs in."""
    contexts, errors = [], []

    def open_page(token: str, width: int = 1360, height: int = 900) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        # Console errors include Content-Security-Policy violations; a refused API call
        # (the revoked-token test) logs one too, and is expected.
        page.on(
            "console",
            lambda message: (
                errors.append(message.text)
                if message.type == "error" and "Failed to load resource" not in message.text
                else None
            ),
        )
        page.goto(live + "/moderate")
        page.fill("#token", token)
        page.click("button[type=submit]")
        expect(page.locator("#loading")).to_be_hidden()
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], "the page raised an error or broke its security policy"


def test_sign_in_with_a_wrong_then_a_right_token(browser, live, services, artifacts):
    token, _ = services.tokens.create("Ada", "moderator")
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    page.goto(live + "/moderate")
    expect(page.locator("h1")).to_have_text("Sign in to review comments")
    page.screenshot(path=artifacts / "moderate-sign-in.png")
    page.fill("#token", "mod_wrong")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_have_text("That token was not accepted.")
    expect(page.locator("#token")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=artifacts / "moderate-sign-in-error.png")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_have_text("Signed in as Ada")
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["session"]["httpOnly"] and cookies["session"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == "", "scripts cannot read the session cookie"
    context.close()


def test_decisions_with_the_keyboard_one_and_in_bulk(moderate, live, http, services):
    token, _ = services.tokens.create("Ada", "moderator")
    ids = seed_pending(live, http, 7)
    page = moderate(token)
    expect(page.locator("article.item")).to_have_count(7)
    assert shown(page) == ids
    expect(page.locator("article.item.is-current")).to_have_attribute("data-id", str(ids[0]))

    announce = page.locator("#announce")
    for cid, key, words, status in (
        (ids[0], "a", "Approved", "published"),
        (ids[1], "r", "Rejected", "rejected"),
        (ids[2], "s", "Marked as spam", "spam"),
    ):
        page.keyboard.press(key)
        expect(announce).to_have_text(f"{words} #{cid}")
        assert status_of(services, cid) == status
    assert shown(page) == ids[3:], "decided comments leave the view"

    # J/K move, X selects; Shift+A approves the selection.
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("article.item.is-selected")).to_have_count(2)
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    page.keyboard.press("Shift+A")
    expect(announce).to_have_text("Approved 2 comments.")
    assert [status_of(services, cid) for cid in ids[3:5]] == ["published", "published"]
    assert shown(page) == ids[5:]

    # The bulk buttons do the same for the rest.
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.click("#bulkbar [data-bulk=spam]")
    expect(announce).to_have_text("Marked as spam 2 comments.")
    assert [status_of(services, cid) for cid in ids[5:]] == ["spam", "spam"]
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty h2")).to_have_text("All caught up")


def test_two_moderators_never_see_the_same_comment(moderate, live, http, services):
    ids = seed_pending(live, http, 30)
    ada, _ = services.tokens.create("Ada", "moderator")
    lin, _ = services.tokens.create("Lin", "moderator")
    first = moderate(ada)
    expect(first.locator("article.item")).to_have_count(20)
    second = moderate(lin)
    expect(second.locator("article.item")).to_have_count(10)
    seen_first, seen_second = shown(first), shown(second)
    assert not set(seen_first) & set(seen_second)
    assert sorted(seen_first + seen_second) == ids

    # Lin approves one of hers; Ada's page never offered it, and her view is unchanged.
    second.keyboard.press("a")
    expect(second.locator("#announce")).to_have_text(f"Approved #{seen_second[0]}")
    assert status_of(services, seen_second[0]) == "published"
    assert shown(first) == seen_first

    # Signing out hands Ada's comments back at once, not when the lease runs out.
    bearer = {"Authorization": f"Bearer {lin}"}
    first.click("#sign-out button")
    expect(first.locator("#token")).to_be_visible()
    queue = http.get(live + QUEUE, params={"limit": 50}, headers=bearer).json()["items"]
    holders = {item["id"]: item["claimed_by"] for item in queue}
    assert all(holders[cid] is None for cid in seen_first)
    assert all(holders[cid] == "Lin" for cid in seen_second[1:])


def test_a_revoked_token_stops_the_page_at_its_next_request(moderate, live, http, services):
    token, info = services.tokens.create("Ada", "moderator")
    (cid,) = seed_pending(live, http, 1)
    page = moderate(token)
    expect(page.locator("article.item")).to_have_count(1)
    assert services.tokens.revoke(info.id)
    page.keyboard.press("a")
    expect(page.locator("#session-ended")).to_be_visible()
    expect(page.locator("#session-ended a")).to_have_attribute("href", "/moderate")
    assert status_of(services, cid) == "pending"
    expect(page.locator("article.item")).to_have_count(1)  # back in view, undecided
    page.keyboard.press("a")  # the page no longer tries
    assert status_of(services, cid) == "pending"


def test_comment_markup_shows_as_text_and_never_runs(moderate, live, http, services):
    token, _ = services.tokens.create("Ada", "moderator")
    payload = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
    author = '<b onmouseover="window.__xss=1">Eve</b>'
    cid = post(live, http, content=f"{payload} {LINKS}", author=author, url="https://eve.example/")
    assert status_of(services, cid) == "pending"
    page = moderate(token)
    item = page.locator(f'article.item[data-id="{cid}"]')
    expect(item).to_be_visible()
    expect(item.locator(".author")).to_have_text(author)
    assert payload in item.locator(".body").text_content()
    assert item.locator(".body img, .body script, .author b").count() == 0
    item.locator(".author").hover()
    page.wait_for_timeout(300)  # time for any injected handler to have run
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_markers_highlight_and_history(moderate, live, http, services):
    token, _ = services.tokens.create("Ada", "moderator")
    email = "regular@example.org"
    earlier = post(live, http, email=email, content="Thanks for the clear summary of the vote.")
    regular = post(live, http, email=email, content=f"The tram figures are in the report. {LINKS}")
    listed = post(
        live,
        http,
        email="new@example.org",
        content="Win big at the Casino tonight!\n\nFree   money for everyone, casinos aside.",
    )
    assert status_of(services, regular) == status_of(services, listed) == "pending"
    history = {status_of(services, earlier): 1}
    history["pending"] = history.get("pending", 0) + 1
    page = moderate(token)
    item = page.locator(f'article.item[data-id="{listed}"]')
    expect(item.locator(".marker-words")).to_contain_text("Word list")
    expect(item.locator(".marker-words")).to_contain_text("casino, free money")
    expect(item.locator(".marker-new")).to_have_text("New commenter")
    # Matched words are marked in place; "casinos" is another word and stays unmarked.
    assert item.locator("mark.hit").all_text_contents() == ["Casino", "Free   money"]
    expect(item.locator(".body p")).to_have_count(2)

    other = page.locator(f'article.item[data-id="{regular}"]')
    expect(other.locator(".marker-links")).to_contain_text("2 links (limit 2)")
    expect(other.locator(".marker-new")).to_have_count(0)
    words = {"published": "published", "pending": "held for review", "spam": "spam"}
    parts = [f"{history[s]} {words[s]}" for s in ("published", "pending", "spam") if s in history]
    expect(other.locator(".history-text")).to_have_text("2 comments: " + ", ".join(parts))
    expect(other.locator(".email")).to_have_text(email)
    band = other.locator(".band")
    expect(band).to_have_text(["Likely spam", "Unsure", "Likely fine"][_band(services, regular)])
    expect(band).to_have_attribute("title", f"Spam probability {_percent(services, regular)}")


def _band(services, cid: int) -> int:
    score = services.comments.get(cid)["score"]
    likely_spam = min(LIKELY_SPAM, services.thresholds.spam_above)
    return 0 if score >= likely_spam else 1 if score >= services.thresholds.publish_below else 2


def _percent(services, cid: int) -> str:
    return f"{round(services.comments.get(cid)['score'] * 100)}%"


def test_help_overlay_and_layout_toggle(moderate, live, http, services):
    token, _ = services.tokens.create("Ada", "moderator")
    ids = seed_pending(live, http, 3)
    page = moderate(token)
    expect(page.locator("article.item")).to_have_count(3)
    page.keyboard.press("Shift+?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("a")  # keys go to the dialog, not to the queue
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()
    assert status_of(services, ids[0]) == "pending"

    page.keyboard.press("v")
    expect(page.locator("article.item:visible")).to_have_count(1)
    expect(page.locator("#position")).to_have_text("1 of 3")
    page.keyboard.press("j")
    expect(page.locator("#position")).to_have_text("2 of 3")
    expect(page.locator("article.item:visible")).to_have_attribute("data-id", str(ids[1]))
    page.reload()
    expect(page.locator("#position")).to_have_text("1 of 3")  # the layout is remembered
    page.click("[data-view=list]")
    expect(page.locator("article.item:visible")).to_have_count(3)


def test_one_thread_at_a_time(moderate, live, http, services):
    token, _ = services.tokens.create("Ada", "moderator")
    here = seed_pending(live, http, 2, thread="news/2026/tram-line")
    elsewhere = seed_pending(live, http, 2, thread="news/2026/city-budget")
    page = moderate(token)
    expect(page.locator("article.item")).to_have_count(4)
    page.locator(f'article.item[data-id="{here[0]}"] .thread').click()
    expect(page.locator("#thread-name")).to_have_text("news/2026/tram-line")
    expect(page.locator("article.item")).to_have_count(2)
    assert shown(page) == here
    page.click("#thread-clear")
    expect(page.locator("#thread-filter")).to_be_hidden()
    expect(page.locator("article.item")).to_have_count(4)
    assert sorted(shown(page)) == sorted(here + elsewhere)


# How many comments waited at the end of each of the last 24 hours, one hour ago first.
DAY_OF_QUEUE = [0, 2, 5, 9, 12, 14, 15, 13, 11, 9, 10, 12, 9, 7, 5, 4, 6, 5, 3, 2, 1, 0, 0, 0]


def seed_queue_history(services) -> None:
    """Hourly arrivals and departures, as the decision scripts record them, for the chart."""
    now_hour = int(time.time() // 3600)
    for back in range(1, len(DAY_OF_QUEUE)):
        net = DAY_OF_QUEUE[back - 1] - DAY_OF_QUEUE[back]
        came = max(net, 0) + 1
        services.redis.hset(
            services.comments.keys.activity,
            mapping={f"{now_hour - back}:in": came, f"{now_hour - back}:out": came - net},
        )


def settle(page: Page) -> None:
    """A still page for a screenshot: announcements faded, scrolled to the top."""
    expect(page.locator("#toast")).not_to_have_class(re.compile("is-visible"))
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)


def test_screenshots_of_the_queue(moderate, live, http, services, artifacts):
    token, _ = services.tokens.create("Ada", "moderator")
    grace, _ = services.tokens.create("Grace", "moderator")
    seed_queue_history(services)
    agree = f"The council minutes agree with the article. {LINKS}"
    by_grace = post(live, http, author="Sam", email="sam@example.org", content=agree)
    both = f"Both figures appear in the minutes. {LINKS}"
    first = post(live, http, author="Nora", email="nora@example.org", content=both)
    helga = "helga.brandt@example.org"
    post(live, http, author="Helga Brandt", email=helga, content="Good piece, thank you.")
    post(
        live,
        http,
        author="Helga Brandt",
        email=helga,
        thread="news/2026/tram-line",
        content=f"The tram figures are in the annual report, pages 12-14. {LINKS}",
    )
    post(
        live,
        http,
        author="Jonas Weber",
        email="jonas@example.org",
        content="I was at the meeting. The 3.2% figure is for the core budget; the 4% "
        "includes the one-off grants.\n\nMinutes: https://city.example/minutes/2026-03 "
        "and https://city.example/budget",
    )
    post(
        live,
        http,
        author="Paul",
        email="paul@example.org",
        content="The new casino tax was sold as free money for schools, but the budget "
        "shows otherwise.",
    )
    deals = post(
        live,
        http,
        author="BestDeals247",
        email="deals@example.net",
        url="https://deals.example/",
        content="Free money every day at the best casino online!!! Visit "
        "https://casino.example and https://bonus.example now.",
    )
    post(
        live,
        http,
        author="<b>Eve</b>",
        email="eve@example.org",
        content=f"<script>alert('hi')</script> Check this out {LINKS}",
    )
    post(live, http, homepage="bot", content="Cheap pills, great prices")
    decided = http.post(
        live + f"/api/v1/moderation/comments/{by_grace}/decision",
        json={"action": "approve"},
        headers={"Authorization": f"Bearer {grace}"},
    )
    assert decided.status_code == 200

    page = moderate(token, height=1000)
    expect(page.locator("article.item")).to_have_count(6)
    page.keyboard.press("a")
    expect(page.locator("#announce")).to_have_text(f"Approved #{first}")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#today .today-row")).to_have_count(2)
    expect(page.locator("#chart svg path.chart-line")).to_have_count(1)
    expect(page.locator("#count-pending")).to_have_text("5")
    expect(page.locator("#count-spam")).to_have_text("1")
    settle(page)
    page.screenshot(path=artifacts / "moderate-queue-list.png", full_page=True)

    page.keyboard.press("Escape")
    page.click("[data-view=single]")
    for _ in range(shown(page).index(deals) - 2):
        page.keyboard.press("j")
    expect(page.locator("article.item:visible")).to_have_attribute("data-id", str(deals))
    page.locator(".is-current details.tech summary").click()
    settle(page)
    page.screenshot(path=artifacts / "moderate-queue-single.png", full_page=True)

    page.keyboard.press("Shift+?")
    expect(page.locator("#help")).to_be_visible()
    page.screenshot(path=artifacts / "moderate-keyboard-help.png")


def test_reader_comment_moderated_and_published_end_to_end(
    browser, moderate, live, http, services, host_page
):
    """A reader on another site posts; a moderator approves it with A; the reader sees it
    published, and so does everyone else."""
    thread = "news/2026/city-budget"
    article = host_page.url(live, thread, refresh_seconds=1)
    reader_context, visitor_context = browser.new_context(), browser.new_context()
    reader = reader_context.new_page()
    reader.goto(article)
    reader.fill("textarea[name=content]", f"Here are the numbers. {LINKS}")
    reader.fill("input[name=author]", "Reader Rita")
    reader.fill("input[name=email]", "rita@example.org")
    reader.click("button[type=submit]")
    expect(reader.locator(".mc-status")).to_contain_text("awaiting moderation")
    token, _ = services.tokens.create("Ada", "moderator")
    queue = http.get(live + QUEUE, headers={"Authorization": f"Bearer {token}"}).json()
    ((cid, author),) = [(item["id"], item["author"]) for item in queue["items"]]
    assert author == "Reader Rita"
    # Only the reader sees it yet, marked as awaiting moderation; another visitor does not.
    mine = reader.locator(f"#comment-{cid}")
    expect(mine).to_have_class(re.compile("mc-comment--pending"))
    visitor = visitor_context.new_page()
    visitor.goto(article)
    expect(visitor.locator(".mc-empty")).to_be_visible()
    expect(visitor.locator(f"#comment-{cid}")).to_have_count(0)

    page = moderate(token)
    expect(page.locator("article.item")).to_have_count(1)
    expect(page.locator(".item .author")).to_have_text("Reader Rita")
    page.keyboard.press("a")
    expect(page.locator("#announce")).to_have_text(f"Approved #{cid}")

    # The reader's page refreshes by itself; the visitor's shows it after a reload.
    expect(mine).not_to_have_class(re.compile("mc-comment--pending"), timeout=120_000)
    expect(mine).to_contain_text("Here are the numbers.")
    visitor.reload()
    expect(visitor.locator(f"#comment-{cid}")).to_contain_text("Here are the numbers.")
    reader_context.close()
    visitor_context.close()
