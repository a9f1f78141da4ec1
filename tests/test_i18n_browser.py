"""Persian, Arabic and English in a real browser: the widget on host pages of each language,
the no-JS page and /moderate; words from the catalogues, mirrored layouts, text that keeps
its own direction, plural forms and digits. Screenshots go to the artifacts folder."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from babel import Locale
from playwright.sync_api import expect

from moderation import i18n
from moderation.store.comments import REPLIES_PER_COMMENT
from tests.conftest import comment, publish

TIMEOUT_MS = 120_000  # a hung page, not a slow machine: see PATIENCE_SECONDS
QUIET_CSS = "body { font-family: sans-serif; margin: 2em; }"
PERSIAN_TEXT = "به نظرم رقم ۳٫۲ درصد درست است؛ صورت‌جلسهٔ شورا را ببینید."
ENGLISH_TEXT = "The minutes say 3.2%, not 4%."
ARABIC_TEXT = "شكرًا على التوضيح، الأرقام الآن واضحة."
LINKS = "Sources: https://a.example/report and https://b.example/minutes"


def words(lang: str, msgid: str) -> str:
    """What the catalogue says for `msgid` in `lang`: the tests never repeat a translation."""
    return i18n.translations(lang).ugettext(msgid)


@pytest.fixture
def settings(settings, host_page):
    return replace(
        settings,
        allowed_origins=(host_page.origin,),
        min_fill_seconds=0.0,
        publish_below=0.9,
        spam_above=0.99,
    )


@pytest.fixture
def new_page(browser):
    """A page in a browser whose languages are `locale` (navigator.languages, Accept-Language)."""
    contexts, errors = [], []

    def open_page(locale: str = "en-GB", width: int = 960, height: int = 1100, **options):
        context = browser.new_context(
            locale=locale, viewport={"width": width, "height": height}, **options
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], "a script threw in the page"


def open_widget(page, host_page, live, thread, **options):
    page.goto(host_page.url(live, thread, css=QUIET_CSS, **options))
    page.locator('.mc[aria-busy="false"]').wait_for()
    return page


def direction(locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).direction")


def post(http, live, **overrides) -> dict:
    r = http.post(live + "/api/v1/comments", json=comment(**overrides))
    assert r.status_code == 201, r.text
    return r.json()


def a_conversation(http, live, thread: str, first: str, second: str) -> tuple[dict, dict]:
    parent = post(http, live, thread=thread, author="مریم رضایی", content=first)
    reply = post(
        http,
        live,
        thread=thread,
        author="Jonas Berg",
        content=second,
        parent=parent["id"],
        url="https://مثال.ایران/",
    )
    return parent, reply


@pytest.mark.parametrize(
    ("lang", "dir_", "first", "second"),
    [
        ("fa", "rtl", PERSIAN_TEXT, ENGLISH_TEXT),
        ("ar", "rtl", ARABIC_TEXT, ENGLISH_TEXT),
        ("en", "ltr", ENGLISH_TEXT, PERSIAN_TEXT),
    ],
)
def test_widget_speaks_the_host_pages_language(
    new_page, host_page, live, http, artifacts, lang, dir_, first, second
):
    thread = f"news/2026/budget-{lang}"
    parent, reply = a_conversation(http, live, thread, first, second)
    page = open_widget(new_page("en-GB"), host_page, live, thread, lang=lang)
    root = page.locator(".mc")
    assert root.get_attribute("lang") == lang and root.get_attribute("dir") == dir_
    form = page.locator("form.mc-form")
    assert direction(form) == dir_ and form.get_attribute("dir") == dir_
    # The catalogue's words, in this language.
    assert page.locator(".mc-form-title").inner_text() == words(lang, "Leave a Reply")
    assert page.locator(".mc-submit").inner_text() == words(lang, "Post Comment")
    assert page.locator("label[for=mc-author]").inner_text().startswith(words(lang, "Name"))
    assert page.locator("#mc-email-note").inner_text() == words(
        lang, "Your email address will not be published."
    )
    consent = "Save my name, email, and website in this browser for the next time I comment."
    assert page.locator("label[for=mc-save]").inner_text() == words(lang, consent)
    two = i18n.translations(lang).ungettext("%(num)s Comment", "%(num)s Comments", 2)
    assert page.locator(".mc-title").inner_text() == two % {
        "num": i18n.number(2, Locale.parse(lang))
    }
    assert page.locator(f"#comment-{parent['id']} .mc-reply").first.inner_text() == words(
        lang, "Reply"
    )

    # Each comment reads in its own direction, whatever the page's.
    first_dir = "ltr" if first == ENGLISH_TEXT else "rtl"
    second_dir = "ltr" if second == ENGLISH_TEXT else "rtl"
    parent_content = page.locator(f"#comment-{parent['id']} > .mc-card .mc-content")
    reply_content = page.locator(f"#comment-{reply['id']} .mc-content")
    assert parent_content.get_attribute("dir") == "auto"
    assert direction(parent_content) == first_dir
    assert direction(reply_content) == second_dir
    # The reply's website, typed in Unicode, is linked by its ASCII (punycode) form.
    link = page.locator(f"#comment-{reply['id']} .mc-author a")
    assert link.get_attribute("href") == "https://xn--mgbh0fb.xn--mgba3a4f16a/"

    # Mirrored: avatar, reply indentation and the Reply button sit on the reading side.
    card = page.locator(f"#comment-{parent['id']} > .mc-card")
    box = card.bounding_box()
    avatar = card.locator(".mc-avatar").bounding_box()
    text = parent_content.bounding_box()
    replies = page.locator(f"#comment-{parent['id']} > .mc-replies").bounding_box()
    reply_button = card.locator(".mc-reply").bounding_box()
    if dir_ == "rtl":
        assert avatar["x"] > text["x"] + text["width"] - 1
        assert replies["x"] + replies["width"] < box["x"] + box["width"] - 10  # indented
        assert reply_button["x"] + reply_button["width"] > text["x"] + text["width"] / 2
    else:
        assert avatar["x"] + avatar["width"] < text["x"] + 1
        assert replies["x"] > box["x"] + 10
        assert reply_button["x"] < text["x"] + text["width"] / 2
    page.locator("#comments").screenshot(path=str(artifacts / f"i18n-widget-{lang}.png"))

    # Replying: the form moves under the comment, indented on the reading side.
    card.locator(".mc-reply").click()
    heading = page.locator(".mc-form-title")
    assert heading.inner_text() == words(lang, "Reply to %(name)s") % {"name": "مریم رضایی"}
    form_box = page.locator(f"#comment-{parent['id']} form.mc-form").bounding_box()
    if dir_ == "rtl":
        assert form_box["x"] + form_box["width"] < box["x"] + box["width"] - 10
    else:
        assert form_box["x"] > box["x"] + 10
    page.locator("#comments").screenshot(path=str(artifacts / f"i18n-widget-{lang}-reply.png"))
    page.locator(".mc-cancel").click()

    # Typed text takes its own direction too.
    page.locator("#mc-content").fill(second)
    assert direction(page.locator("#mc-content")) == second_dir
    page.locator("#mc-author").fill("Ann")
    assert direction(page.locator("#mc-author")) == "ltr"

    # An empty form: the errors, in this language.
    page.locator("#mc-content").fill("")
    page.locator(".mc-submit").click()
    assert page.locator("#mc-content-error").inner_text() == words(lang, "Please write a comment.")
    page.set_viewport_size({"width": 390, "height": 1400})
    page.locator("#comments").screenshot(path=str(artifacts / f"i18n-widget-{lang}-narrow.png"))


def test_data_lang_then_page_then_browser_then_default(new_page, host_page, live):
    def chosen(locale: str, **options) -> tuple[str, str]:
        page = open_widget(new_page(locale), host_page, live, "news/choice", **options)
        root = page.locator(".mc")
        result = root.get_attribute("lang"), root.get_attribute("dir")
        page.context.close()
        return result

    assert chosen("en-GB", lang="en", data_lang="fa") == ("fa", "rtl")
    assert chosen("en-GB", lang="fa-IR") == ("fa-IR", "rtl")
    assert chosen("en-GB", lang="fa", data_lang="xx") == ("fa", "rtl")  # unknown: skipped
    assert chosen("ar-EG", lang="xx") == ("ar-EG", "rtl")  # the browser's language
    assert chosen("de-DE", lang="xx") == ("en", "ltr")  # the service's default


def test_arabic_plural_forms(new_page, host_page, live, services, artifacts):
    page = new_page("en-GB")
    for count, expected in [
        (0, "التعليقات"),
        (1, "تعليق واحد"),
        (2, "تعليقان"),
        (3, "3 تعليقات"),
        (11, "11 تعليقًا"),
        (100, "100 تعليق"),
    ]:
        thread = f"news/plural-{count}"
        if count:
            publish(services, thread, None, count, "تعليق")
        open_widget(page, host_page, live, thread, lang="ar")
        assert page.locator(".mc-title").inner_text() == expected, count
        if count == 11:
            page.locator("#comments").screenshot(path=str(artifacts / "i18n-widget-ar-11.png"))


def test_persian_digits_and_calendar(new_page, host_page, live, services, artifacts):
    thread = "news/persian-digits"
    (root,) = publish(services, thread, None, 1, "دیدگاه")
    # Three more replies than a thread page carries: "show more replies (۳)".
    publish(services, thread, root, REPLIES_PER_COMMENT + 3)
    page = new_page("en-GB")
    # Three hours on (a fake clock in the page): the dates are relative to the page's now.
    page.clock.set_fixed_time(datetime.now(UTC) + timedelta(hours=3))
    open_widget(page, host_page, live, thread, lang="fa")
    total = i18n.number(REPLIES_PER_COMMENT + 4, Locale.parse("fa"))
    assert page.locator(".mc-title").inner_text() == f"{total} دیدگاه"
    time = page.locator(f"#comment-{root} time").first
    assert time.inner_text() == "۳ ساعت پیش"
    # The exact time: Persian digits, and the Solar Hijri calendar (year 14xx).
    assert re.search("۱۴[۰-۹]{2}", time.get_attribute("title")), time.get_attribute("title")
    assert not re.search("[0-9]", time.get_attribute("title"))
    more = page.locator(f"#comment-{root} > .mc-more--replies")
    assert more.inner_text() == "نمایش پاسخ‌های بیشتر (۳)"
    page.locator("#comments").screenshot(path=str(artifacts / "i18n-widget-fa-digits.png"))


def test_a_name_cannot_reorder_the_text_around_it(new_page, host_page, live, http):
    # U+202E (right-to-left override) would show the rest of the line backwards.
    tricky = "\u202eEve gnippohs"
    parent = post(http, live, thread="news/bidi", author=tricky, content=ENGLISH_TEXT)
    page = open_widget(new_page(), host_page, live, "news/bidi", lang="en")
    name = page.locator(f"#comment-{parent['id']} .mc-author bdi")
    assert name.inner_text() == "Eve gnippohs"  # the control is gone; the text stays
    assert name.evaluate("el => getComputedStyle(el).unicodeBidi") == "isolate"
    page.locator(f"#comment-{parent['id']} .mc-reply").click()
    heading = page.locator(".mc-form-title")
    assert heading.inner_text() == "Reply to Eve gnippohs"
    assert heading.locator("bdi").count() == 1


def test_no_js_page_in_each_language(new_page, live, http, artifacts):
    thread = "news/no-js"
    a_conversation(http, live, thread, PERSIAN_TEXT, ENGLISH_TEXT)
    url = f"{live}/threads/{quote(thread, safe='')}"
    for locale, query, lang, dir_ in [
        ("fa-IR", "", "fa-IR", "rtl"),
        ("en-GB", "?lang=ar", "ar", "rtl"),
        ("ar", "?lang=en", "en", "ltr"),
    ]:
        page = new_page(locale, java_script_enabled=False)
        page.goto(url + query)
        html = page.locator("html")
        assert (html.get_attribute("lang"), html.get_attribute("dir")) == (lang, dir_)
        assert direction(page.locator("form.mc-form")) == dir_
        code = lang.split("-")[0]
        assert page.locator(".mc-form-title").inner_text() == words(code, "Leave a Reply")
        contents = page.locator(".mc-content")
        assert [direction(contents.nth(i)) for i in range(2)] == ["rtl", "ltr"]
        page.screenshot(path=str(artifacts / f"i18n-nojs-{code}.png"), full_page=True)
        # The language survives a mistake: the re-rendered form speaks it too.
        page.locator("#mc-content").fill("...")
        page.get_by_role("button", name=words(code, "Post Comment")).click()
        page.locator("#mc-author-error").wait_for()
        assert page.locator("html").get_attribute("lang") == lang
        page.context.close()


def test_moderate_in_persian(new_page, live, http, services, artifacts):
    token, _ = services.tokens.create("Ada", "moderator")
    held = post(http, live, author="مریم رضایی", content=f"{PERSIAN_TEXT} {LINKS}")
    other = post(
        http, live, author="Jonas", content=f"{ENGLISH_TEXT} {LINKS}", url="https://مثال.ایران/"
    )
    page = new_page("fa-IR", width=1360, height=1000)
    page.goto(live + "/moderate")
    expect(page.locator("h1")).to_have_text(words("fa", "Sign in to review comments"))
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.screenshot(path=artifacts / "i18n-moderate-sign-in-fa.png")
    page.fill("#token", token)
    page.get_by_role("button", name=words("fa", "Sign in"), exact=True).click()
    expect(page.locator("#loading")).to_be_hidden()
    expect(page.locator("article.item")).to_have_count(2)
    expect(page.locator(".who")).to_have_text("واردشده با نام Ada")

    # Mirrored: the statistics panel on the left, each comment's band stripe on its right.
    main = page.locator("main.main").bounding_box()
    side = page.locator("aside.sidebar").bounding_box()
    assert side["x"] + side["width"] <= main["x"]
    item = page.locator(f'article.item[data-id="{held["id"]}"]')
    stripe = item.evaluate(
        "el => [getComputedStyle(el).borderRightWidth, getComputedStyle(el).borderLeftWidth]"
    )
    assert stripe == ["4px", "1px"]
    assert direction(item.locator(".body")) == "rtl"
    other_item = page.locator(f'article.item[data-id="{other["id"]}"]')
    assert direction(other_item.locator(".body")) == "ltr"
    expect(other_item.locator(".website")).to_have_text("https://مثال.ایران/")
    expect(page.locator("#reserved")).to_contain_text("۲ دیدگاه")
    expect(page.locator("#count-pending")).to_have_text("۲")
    # The rule's detail and the classifier's signals in Persian too, with Persian digits.
    expect(item.locator(".marker-links .marker-detail")).to_have_text("۲ پیوند (حد مجاز ۲)")
    assert "پیوندها" in item.locator(".reasons").inner_text()
    page.screenshot(path=artifacts / "i18n-moderate-queue-fa.png", full_page=True)

    page.keyboard.press("a")
    expect(page.locator("#announce")).to_have_text(f"#{held['id']} تأیید شد")
    assert services.comments.get(held["id"])["status"] == "published"
    page.keyboard.press("Shift+?")
    expect(page.locator("#help-title")).to_have_text(words("fa", "Keyboard shortcuts"))
    page.screenshot(path=artifacts / "i18n-moderate-help-fa.png")
    page.keyboard.press("Escape")

    # The picker: Arabic from now on, whatever the browser asks for.
    page.select_option("#language", "ar")
    page.get_by_role("button", name=words("fa", "Change")).click()
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("#help-open")).to_contain_text(words("ar", "Keyboard shortcuts"))
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "ar")
