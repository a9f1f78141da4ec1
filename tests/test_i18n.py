"""Languages: complete catalogues, no English left behind, the reader's language, direction,
digits and dates, internationalised domain names, and any Unicode on the no-JS page."""

from __future__ import annotations

import re
import time
import uuid
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit

import jsonschema_rs
import pytest
from babel import Locale
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from markupsafe import escape

from moderation import create_app, i18n, websites
from moderation.config import ConfigError
from moderation.embed.assets import STATIC as EMBED_STATIC
from moderation.embed.dates import exact_time, relative_time
from moderation.formstamp import issue_stamp
from moderation.ui.pages import STATIC as UI_STATIC

SCRIPTS = (EMBED_STATIC / "embed.js", UI_STATIC / "moderate.js")
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.fixture
def settings(settings):
    # The model publishes everything short of certain spam: the pages, not its scores, are
    # under test here.
    return replace(settings, publish_below=0.9, spam_above=0.99)


# --- the catalogues -------------------------------------------------------------------


def test_every_language_has_a_complete_catalogue():
    # Missing, empty and fuzzy entries, against every message Babel's extractors find in
    # the templates, the Python code and both scripts; and CLDR's plural rule in the header.
    assert {"en", "fa", "ar"} <= set(i18n.languages())
    assert i18n.languages()[0] == "en"
    for lang in i18n.languages():
        assert i18n.problems(lang) == [], lang


def test_the_catalogues_are_the_source_and_compile_in_memory():
    assert not list(i18n.TRANSLATIONS.rglob("*.mo")), ".mo files are generated, not kept"
    counts = [0, 1, 2, 3, 11, 100]
    arabic = i18n.translations("ar")
    forms = [arabic.ungettext("%(num)s Comment", "%(num)s Comments", n) for n in counts]
    assert len(set(forms)) == 6, forms  # Arabic: zero, one, two, few, many, other
    assert forms[1] == "تعليق واحد" and forms[2] == "تعليقان"
    assert forms[3] % {"num": "3"} == "3 تعليقات"
    assert forms[4] % {"num": "11"} == "11 تعليقًا"
    assert forms[5] % {"num": "100"} == "100 تعليق"
    english = i18n.translations("en")
    assert english.ungettext("%(num)s Comment", "%(num)s Comments", 1) == "%(num)s Comment"
    assert english.ungettext("%(num)s Comment", "%(num)s Comments", 0) == "%(num)s Comments"
    persian = i18n.translations("fa")
    assert persian.ugettext("Leave a Reply") == "دیدگاهتان را بنویسید"


def test_translations_keep_their_placeholders():
    for lang in i18n.languages():
        for message in i18n.catalogue(lang):
            if not message.id:
                continue
            ids = [message.id] if isinstance(message.id, str) else list(message.id)
            wanted = {name for text in ids for name in PLACEHOLDER.findall(text)}
            strings = [message.string] if isinstance(message.string, str) else message.string
            for text in strings:
                found = set(PLACEHOLDER.findall(text))
                # A plural form may spell its number out ("تعليق واحد"): only num may go.
                assert found <= wanted and wanted - found <= {"num"}, (lang, message.id, text)
                if isinstance(message.id, str):
                    assert found == wanted, (lang, message.id, text)


def test_plural_rules_come_from_cldr():
    for lang in i18n.languages():
        assert i18n.catalogue(lang).plural_forms == i18n.plural_forms(lang)
    script = i18n.js_catalogue("ar", ["%(num)s Comment"])
    assert "n === 1" not in script and "'few'" in script and "'many'" in script


# --- no English left in the scripts ------------------------------------------------------

# A heuristic: a string literal outside _() and ngettext() that reads like words (two words
# of letters in a row, or one capitalised word) is flagged. Words are runs of letters only,
# so class lists ("mc-list mc-replies"), paths and selectors with punctuation pass; what is
# left and is code, never shown, is listed here.
NOT_SHOWN = {
    "use strict",
    "Escape",  # KeyboardEvent.key
    "nofollow ugc noopener",  # rel
    "button, a, input, summary, label",  # selectors
    "select, textarea, [contenteditable], input:not([type=checkbox])",
}
WORD = re.compile(r"[A-Za-z]+[.,!?:;]?")


def _reads_like_english(text: str) -> bool:
    words = [bool(WORD.fullmatch(part)) for part in text.split()]
    pairs = any(a and b for a, b in zip(words, words[1:], strict=False))
    return pairs or bool(re.fullmatch(r"[A-Z][a-z]{2,}[.!?]?", text.strip()))


def literals_outside_gettext(source: str) -> list[str]:
    # Babel's own JavaScript lexer (the extractor's): it knows regex literals from division.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from babel.messages.jslexer import tokenize, unquote_string

        calls: list[bool] = []  # per open parenthesis: is it a gettext call?
        previous = None
        found = []
        for token in tokenize(source, jsx=False, template_string=True):
            if token.type == "operator" and token.value == "(":
                calls.append(
                    previous is not None
                    and previous.type == "name"
                    and previous.value in ("_", "ngettext")
                )
            elif token.type == "operator" and token.value == ")" and calls:
                calls.pop()
            elif token.type in ("string", "template_string") and not any(calls):
                if token.type == "template_string":
                    text = re.sub(r"\$\{[^}]*\}", " ", token.value[1:-1])
                else:
                    text = unquote_string(token.value)
                found.append(text)
            if token.type not in ("linecomment", "multilinecomment"):
                previous = token
        return found


def test_scripts_show_no_english_outside_gettext():
    for path in SCRIPTS:
        flagged = [
            text
            for text in literals_outside_gettext(path.read_text())
            if _reads_like_english(text) and text not in NOT_SHOWN
        ]
        assert flagged == [], f"{path.name}: wrap these in _() or list them in NOT_SHOWN"


def test_the_heuristic_catches_english():
    assert literals_outside_gettext('x = "Reply to " + name; y = _("Fine words");') == ["Reply to "]
    assert _reads_like_english("Reply to ") and _reads_like_english("Approve")
    assert not _reads_like_english("mc-list mc-replies") and not _reads_like_english("/x?y=")


def test_the_widget_is_served_with_every_catalogue(client):
    script = client.get("/embed.js").get_data(as_text=True)
    assert '{"default": "en", "languages": {"en": ' in script
    for lang in ("fa", "ar"):
        assert f'"{lang}": {{"dir": "rtl"' in script
    for msgid in i18n.script_messages(EMBED_STATIC / "embed.js"):
        assert i18n.catalogue("fa").get(msgid).string, msgid
    assert "دیدگاهتان را بنویسید" in script and "تعليقًا" in script
    assert "window.moderationI18n" not in script  # the moderators' words stay on /moderate


# --- the reader's language -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("fa", "fa"),
        ("fa-IR", "fa-IR"),
        ("fa_IR", "fa-IR"),
        ("FA-ir", "fa-IR"),
        ("ar-EG", "ar-EG"),
        ("ar", "ar"),
        ("en-GB", "en-GB"),
        ("fa-XX", "fa"),
        ("ar-Latn-ZZ-x-private", "ar"),
        ("xx", None),
        ("*", None),
        ("", None),
        (None, None),
        ("fa;q=0.9", None),
        ("a" * 100, None),
        ("../../etc", None),
    ],
)
def test_language_tags_resolve_to_a_catalogue(tag, expected):
    locale = i18n.resolve(tag)
    assert (i18n.language_tag(locale) if locale else None) == expected


def test_unknown_languages_fall_back_to_the_default():
    assert i18n.language_tag(i18n.choose("xx", "yy", default="fa")) == "fa"
    assert i18n.language_tag(i18n.choose("xx", "ar-EG", default="fa")) == "ar-EG"
    assert i18n.language_tag(i18n.choose(default="zz")) == "en"


def test_direction_comes_from_the_locale():
    assert i18n.direction(Locale.parse("fa")) == "rtl"
    assert i18n.direction(Locale.parse("ar_EG")) == "rtl"
    assert i18n.direction(Locale.parse("en")) == "ltr"


THREAD = "/news/2026/budget/"


def page(client, query: str = "", **headers: str):
    response = client.get(f"/threads/{quote(THREAD, safe='')}{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def html_lang(html: str) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', html)
    assert match, html[:200]
    return match.group(1), match.group(2)


def test_no_js_page_takes_accept_language(client):
    persian = page(client, **{"Accept-Language": "fa-IR,fa;q=0.9,en;q=0.5"})
    assert html_lang(persian) == ("fa-IR", "rtl")
    assert "دیدگاهتان را بنویسید" in persian and "Leave a Reply" not in persian
    assert re.search(r'<form class="mc-form"[^>]*lang="fa-IR" dir="rtl"', persian)
    arabic = page(client, **{"Accept-Language": "ar-EG"})
    assert html_lang(arabic) == ("ar-EG", "rtl") and "اترك تعليقًا" in arabic
    assert html_lang(page(client, **{"Accept-Language": "xx, *;q=0.1"})) == ("en", "ltr")
    assert html_lang(page(client)) == ("en", "ltr")


def test_lang_query_wins_and_stays_in_links_and_form(client, app):
    first = client.post(f"/threads/{quote(THREAD, safe='')}?lang=ar", data=form(app))
    assert first.status_code == 303
    location = first.headers["Location"]
    assert parse_qs(urlsplit(location).query)["lang"] == ["ar"]
    html = page(client, "?lang=ar", **{"Accept-Language": "fa"})
    assert html_lang(html) == ("ar", "rtl")
    assert "تعليق واحد" in html  # the heading: Arabic's "one" form
    reply_link = re.search(r'<a class="mc-reply" href="([^"]+)"', html).group(1)
    assert "lang=ar" in unescape(reply_link)
    assert re.search(r'<form class="mc-form" method="post" action="[^"]*lang=ar', html)
    assert html_lang(page(client, "?lang=xx", **{"Accept-Language": "fa"}))[0] == "fa"


def test_default_language_setting(settings):
    app = create_app(replace(settings, default_language="fa"))
    client = app.test_client()
    assert html_lang(page(client)) == ("fa", "rtl")
    assert html_lang(page(client, **{"Accept-Language": "en"})) == ("en", "ltr")
    assert '{"default": "fa", ' in client.get("/embed.js").get_data(as_text=True)
    with pytest.raises(ConfigError, match="MODERATION_DEFAULT_LANGUAGE"):
        create_app(replace(settings, default_language="xx"))


def form(app, **overrides: str) -> dict[str, str]:
    body = {
        "author": "مریم رضایی",
        "email": "maryam@example.org",
        "content": "گزارش خوبی بود؛ ممنون.",
        "url": "",
        "homepage": "",
        "stamp": issue_stamp(app.secret_key, now=time.time() - 60),
    }
    body.update(overrides)
    return body


def sign_in(client, services, name: str = "Ada", **headers: str) -> None:
    token, _ = services.tokens.create(name, "moderator")
    html = client.get("/moderate", headers=headers).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post("/moderate/login", data={"csrf_token": csrf, "token": token})
    assert r.status_code == 303


def test_moderate_follows_the_picker_then_accept_language(client, services):
    html = client.get("/moderate", headers={"Accept-Language": "fa"}).get_data(as_text=True)
    assert html_lang(html) == ("fa", "rtl") and "برای بررسی دیدگاه‌ها وارد شوید" in html
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    # Without the page's CSRF token nothing changes.
    assert client.post("/moderate/language", data={"lang": "ar"}).status_code == 303
    assert html_lang(client.get("/moderate").get_data(as_text=True))[0] == "en"
    picked = client.post("/moderate/language", data={"lang": "ar", "csrf_token": csrf})
    assert picked.status_code == 303 and picked.headers["Location"] == "/moderate"
    cookie = picked.headers["Set-Cookie"]
    assert "moderate_lang=ar" in cookie and "HttpOnly" in cookie and "Path=/moderate" in cookie
    again = client.get("/moderate", headers={"Accept-Language": "fa"}).get_data(as_text=True)
    assert html_lang(again) == ("ar", "rtl") and "سجّل الدخول لمراجعة التعليقات" in again
    sign_in(client, services)  # the choice outlives signing in (the session starts afresh)
    queue = client.get("/moderate").get_data(as_text=True)
    assert html_lang(queue) == ("ar", "rtl") and "اختصارات لوحة المفاتيح" in queue
    src = re.search(r'<script src="(/moderate/i18n/ar\.js\?v=\w+)"', queue).group(1)
    script = client.get(src)
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert script.get_data(as_text=True).startswith("window.moderationI18n = {")
    assert "no-store" not in script.headers.get("Cache-Control", "")
    assert client.get("/moderate/i18n/xx.js").status_code == 404


# --- nothing English on a Persian page --------------------------------------------------

# Latin words that belong on a Persian page: the time zone, keys, the token's prefix.
LATIN_ALLOWED = {"UTC", "mod_"}
SKIPPED = {"script", "style", "code", "kbd", "template"}


class _Visible(HTMLParser):
    """The text and labels a reader sees or hears, outside code, keys and other languages."""

    def __init__(self, page_lang: str) -> None:
        super().__init__()
        self.page_lang = page_lang
        self.stack: list[bool] = []  # per open element: skipped?
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        own_lang = attrs.get("lang")
        skip = (
            tag in SKIPPED
            or (own_lang is not None and not own_lang.startswith(self.page_lang))
            or any(self.stack)
        )
        if not skip:
            self.found += [attrs[a] for a in ("title", "aria-label", "placeholder") if attrs.get(a)]
        if tag not in ("meta", "link", "input", "br", "img", "hr"):
            self.stack.append(skip)

    def handle_endtag(self, tag):
        if tag not in ("meta", "link", "input", "br", "img", "hr") and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not any(self.stack) and data.strip():
            self.found.append(data)


def english_on(html: str, lang: str) -> list[str]:
    parser = _Visible(lang)
    parser.feed(html)
    words = re.findall(r"[A-Za-z_]{2,}", " ".join(parser.found))
    return [word for word in words if word not in LATIN_ALLOWED]


def test_persian_pages_have_no_english_left(client, app, services):
    thread_url = f"/threads/{quote(THREAD, safe='')}"
    posted = client.post(thread_url + "?lang=fa", data=form(app))
    parent = posted.headers["Location"].rsplit("comment-", 1)[1]
    pages = {
        "thread": page(client, "?lang=fa"),
        "reply form": page(client, f"?lang=fa&reply_to={parent}"),
        "errors": client.post(
            thread_url + "?lang=fa", data=form(app, email="x", author="")
        ).get_data(as_text=True),
    }
    persian = {"Accept-Language": "fa"}
    pages["sign-in"] = client.get("/moderate", headers=persian).get_data(as_text=True)
    sign_in(client, services, "آدا", **persian)
    pages["queue"] = client.get("/moderate", headers=persian).get_data(as_text=True)
    for name, html in pages.items():
        assert html_lang(html)[1] == "rtl", name
        assert english_on(html, "fa") == [], name


# --- dates and numbers ------------------------------------------------------------------


def test_server_dates_and_counts_in_the_readers_digits(app):
    now = datetime(2026, 3, 20, 14, 5, tzinfo=UTC)
    fa, ar, ar_eg, en = (Locale.parse(tag) for tag in ("fa", "ar", "ar_EG", "en"))
    with app.test_request_context(headers={"Accept-Language": "fa"}):
        assert relative_time(now - timedelta(hours=3), fa, now) == "۳ ساعت پیش"
        assert relative_time(now - timedelta(days=1), fa, now) == "دیروز"
        assert relative_time(now - timedelta(days=2), fa, now) == "پریروز"
        assert relative_time(now - timedelta(seconds=5), fa, now) == "همین حالا"
        exact = exact_time(now, fa)
        assert "ساعت" in exact and "۱۴:۰۵" in exact and "۲۰۲۶" in exact
        assert not re.search("[0-9]", exact)
    with app.test_request_context(headers={"Accept-Language": "ar"}):
        assert relative_time(now - timedelta(days=11), ar, now) == "قبل 11 يومًا"
        assert relative_time(now - timedelta(days=3), ar, now) == "قبل 3 أيام"
        assert set(ARABIC_DIGITS) & set(exact_time(now, ar_eg))
    with app.test_request_context():
        assert relative_time(now - timedelta(minutes=1), en, now) == "1 minute ago"
        assert relative_time(now - timedelta(days=1), en, now) == "yesterday"
        assert exact_time(now, en) == "March 20, 2026 at 14:05 UTC"
    assert i18n.number(1234, fa) == "۱٬۲۳۴"
    assert i18n.number(1234, ar) == "1,234"
    assert i18n.number(1234, ar_eg) == "١٬٢٣٤"
    for lang in i18n.languages():  # every language's digits are known
        assert Locale.parse(lang).default_numbering_system in i18n._ZEROS


def test_no_js_page_counts_in_persian_digits(client, app):
    for _ in range(3):
        client.post(f"/threads/{quote(THREAD, safe='')}", data=form(app))
    html = page(client, "?lang=fa")
    assert '<h1 class="mc-title" id="mc-title">۳ دیدگاه</h1>' in html
    assert "<title>دیدگاه‌ها (۳)</title>" in html
    assert re.search(rf"<time [^>]*title=\"[^\"]*[{PERSIAN_DIGITS}]", html)


# --- websites with internationalised domain names --------------------------------------

IDN = "https://مثال.ایران/"
PUNYCODE = "https://xn--mgbh0fb.xn--mgba3a4f16a/"


def test_idn_websites_are_accepted_stored_and_linked(client):
    for url in (IDN, PUNYCODE):
        r = client.post(
            "/api/v1/comments",
            json={
                "thread": THREAD,
                "author": "مریم",
                "email": "m@example.org",
                "content": "سلام",
                "url": url,
            },
        )
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["url"] == url  # stored as typed
    html = page(client, "?lang=fa")
    assert html.count(f'<a href="{PUNYCODE}" rel="nofollow ugc noopener"') == 2
    assert websites.website_text(PUNYCODE) == IDN and websites.website_href(IDN) == PUNYCODE


def test_the_openapi_document_admits_what_is_accepted(client):
    spec = client.get("/api/openapi.json").get_json()
    url = spec["components"]["schemas"]["CommentIn"]["properties"]["url"]
    assert url["format"] == "iri" and url["pattern"] == websites.WEBSITE_PATTERN
    assert "IDNA" in url["description"]
    documented = jsonschema_rs.validator_for(
        {"type": "string", "format": "iri", "pattern": url["pattern"]}, validate_formats=True
    )
    for accepted in (IDN, PUNYCODE, "https://bücher.de/straße?q=ü#x", "http://a.example:8080"):
        websites.check_website(accepted)
        assert documented.is_valid(accepted), accepted


LABELS = st.sampled_from(
    ["مثال", "ایران", "xn--mgbh0fb", "xn--mgba3a4f16a", "bücher", "пример", "例え", "a-b", "com"]
) | st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6)
HOSTS = st.lists(LABELS, min_size=1, max_size=3).map(".".join)
WEBSITES = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["https://", "http://", "ftp://", "https:/", ""]),
    HOSTS,
    st.sampled_from(["", ":8080", ":", ":99999"]),
    st.sampled_from(["", "/", "/a b", "/straße?q=ü", "#x", '/"x"', "/\u202e"])
    | st.text(max_size=8).map("/".__add__),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(url=WEBSITES)
def test_every_accepted_website_matches_its_documentation(url):
    documented = jsonschema_rs.validator_for(
        {"type": "string", "format": "iri", "pattern": websites.WEBSITE_PATTERN},
        validate_formats=True,
    )
    href = websites.website_href(url)
    if href is not None:
        assert documented.is_valid(url), url
        assert href.isascii() and websites.website_href(href) == href


# --- any Unicode on the no-JS page, in Persian and in English ---------------------------

# What reorders, joins or decorates text: bidi controls and isolates, ZWNJ/ZWJ, combining
# marks, emoji (with joiners and flags), scripts of both directions, markup characters.
TRICKY = [
    "\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069",
    "\u200e", "\u200f", "\u061c", "\u200c", "\u200d", "\u0301", "\u0651", "\u064b", "\ufe0f",
    "😀", "🇮🇷", "👩\u200d👩\u200d👧", "می\u200cخواهم", "مثال", "שלום", "English", "<b>", "&amp;",
    '"', "'", " ", "\n",
]  # fmt: skip
# Control characters are refused (422), and are tried, but rarely: the rest must get through.
UNICODE = st.lists(
    st.sampled_from(TRICKY)
    | st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=4)
    | st.text(max_size=2),
    max_size=10,
).map("".join)
# Names and comments that are not blank (else the form is refused, which is tested elsewhere).
SEEN = st.sampled_from(["مریم", "Ann", "😀", "\u0627\u0651", "שלום", "x\u0301"])
NAMES = st.builds("{}{}{}".format, UNICODE, SEEN, UNICODE).map(lambda s: s.replace("\n", " "))
TEXTS = st.builds("{}{}{}".format, UNICODE, SEEN, UNICODE)
URLS = st.sampled_from(["", IDN, PUNYCODE, "https://bücher.de/ü?q=ü"]) | UNICODE


class _WellFormed(HTMLParser):
    VOID = {"meta", "link", "input", "br", "img", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
        self.open.pop()


def assert_well_formed(html: str) -> None:
    parser = _WellFormed()
    parser.feed(html)
    parser.close()
    assert parser.open == []


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_any_unicode_is_stored_and_shown_escaped(client, app, lang):
    @hypothesis_settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(author=NAMES, content=TEXTS, url=URLS)
    def run(author, content, url):
        thread = f"/t/{uuid.uuid4().hex}"
        path = f"/threads/{quote(thread, safe='')}?lang={lang}"
        r = client.post(path, data=form(app, author=author, content=content, url=url))
        assert r.status_code in (303, 422), r.status_code
        assert_well_formed(r.get_data(as_text=True) if r.status_code == 422 else "")
        shown = client.get(path)
        assert shown.status_code == 200
        html = shown.get_data(as_text=True)
        assert_well_formed(html)
        assert html_lang(html)[0] == lang
        if r.status_code != 303 or "posted=published" not in r.headers["Location"]:
            return
        cid = r.headers["Location"].rsplit("comment-", 1)[1]
        item = html.split(f'id="comment-{cid}"', 1)[1].split("</article>", 1)[0]
        body = re.search(r'<div class="mc-content" dir="auto">(.*?)</div>', item, re.S)
        assert _squeeze(unescape(re.sub(r"<[^>]+>", "", body.group(1)))) == _squeeze(content)
        name = re.search(r"<bdi>(.*?)</bdi>", item, re.S).group(1)
        assert "<" not in name and unescape(name) == i18n.display_name(author.strip())
        href = websites.website_href(url.strip())
        if href:
            assert f'<a href="{escape(href)}" rel="nofollow ugc noopener"' in item

    run()


def test_a_translation_left_in_english_is_reported(monkeypatch):
    # A merge that copies the English source into fa must not pass as complete.
    catalog = i18n.catalogue("fa")
    message = catalog.get("phone number")
    monkeypatch.setattr(message, "string", "phone number")
    assert "still English: 'phone number'" in i18n.problems("fa")
