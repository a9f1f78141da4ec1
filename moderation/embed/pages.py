"""The thread as a plain HTML page with an ordinary form: commenting without JavaScript.

GET /threads/<thread> shows the published thread and the form; the form posts back to the
same URL, is validated with the API's schema and answers 303 (to the thread page, or to an
allowed `return_to` page) or re-renders with 422 and everything typed except the honeypot.

The page speaks the language of `?lang=` (kept in its links and its form), else of
Accept-Language, else MODERATION_DEFAULT_LANGUAGE.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from babel import Locale
from babel.dates import format_timedelta
from flask import Blueprint, Response, current_app, g, redirect, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from moderation import i18n, websites
from moderation.api.public import FORM_TYPES, load_comment, request_body, store_comment
from moderation.config import ConfigError, canonical_origin
from moderation.cors import allowed_origins, require_allowed_origin
from moderation.embed.dates import exact_time, parse_time, relative_time
from moderation.errors import RETRY_AFTER_SECONDS, STORAGE_ERRORS, ApiError
from moderation.formstamp import issue_stamp
from moderation.i18n import N_
from moderation.site_request import current_site, site_stores
from moderation.sites import DEFAULT_SITE
from moderation.text import render_content

PAGE_SIZE = 50
FORM_FIELDS = ("content", "author", "email", "url")
# A timeout may fire after the comment reached storage: never say it was not saved. The
# form keeps its stamp, which is the submission's idempotency key, so sending it again is
# safe whatever happened.
UNAVAILABLE_SAVING = N_(
    "The comment service did not answer, so we cannot tell whether your comment was saved. "
    "Nothing you typed is lost: please try again in a moment. Sending it again is safe: "
    "it will not be posted twice."
)
NOTICES = {
    "published": N_("Thank you! Your comment has been published."),
    "pending": N_("Thank you! Your comment is awaiting moderation."),
}
# What the page says when a limit refuses a post (moderation/limits.py), by the API's code;
# the first two are the API's own words.
REFUSED = {
    "rate_limited": N_("You are posting comments too quickly. Slow down."),
    "duplicate": N_("Duplicate comment detected; it looks as though you've already said that!"),
    "too_many_pending": N_("Too many of your comments are waiting for moderation."),
}
WAIT = N_("Please wait %(wait)s, then send your comment again. Nothing you typed is lost.")

blp = Blueprint("thread_page", __name__, template_folder="templates")


@blp.before_request
def _language() -> None:
    current_site()  # before the language: a site has its own default language
    i18n.prefer(request.values.get("lang"))


def _lang_arg() -> str | None:
    """The language this page was asked for with ?lang=, to keep in its links and form."""
    locale = i18n.resolve(request.values.get("lang"))
    return i18n.language_tag(locale) if locale else None


def thread_path(thread: str, **query: str | int | None) -> str:
    """This page's URL; "/" in the thread id is escaped so no proxy can merge slashes."""
    params = {name: value for name, value in query.items() if value not in (None, "")}
    site = g.get("site")
    if site is not None and site.id != DEFAULT_SITE:
        params = {"site": site.id, **params}  # the form and every link stay on the site
    path = "/threads/" + quote(thread, safe="")
    return path + ("?" + urlencode(params) if params else "")


def safe_return_to(value: str | None) -> str | None:
    """`value` if it is a page on an allowed origin, else None: never an open redirect."""
    if not value or len(value) > 2000 or any(c <= " " or c == "\\" for c in value):
        return None
    parts = urlsplit(value)
    try:
        origin = canonical_origin(f"{parts.scheme}://{parts.netloc}")
    except ConfigError:
        return None
    return value if origin in allowed_origins() else None


def _with_status(url: str, status: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if k != "comment_status"] + [("comment_status", status)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), "comments"))


def _int_arg(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) <= 18 else None


def _avatar_class(name: str) -> str:
    # The widget's choice too: code points summed, modulo the palette.
    return f"mc-avatar mc-av-{sum(map(ord, name)) % 8}"


def _href(url: str) -> str | None:
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    # The host in ASCII (punycode) for the link; a URL stored before IDNA checks stays as it is.
    return websites.website_href(url) or url


def _view(item: dict[str, Any], locale: Locale) -> dict[str, Any]:
    moment = parse_time(item.get("created_at") or "")
    author = item.get("author") or ""
    url = item.get("url") or ""
    return {
        "id": item["id"],
        "author": author,
        "name": i18n.display_name(author),
        "initial": i18n.display_name(author).strip()[:1] or "?",
        "avatar_class": _avatar_class(author),
        "url": _href(url),
        "content": Markup(render_content(item.get("content") or "")),
        "created_at": item.get("created_at") or "",
        "relative": relative_time(moment, locale) if moment else "",
        "exact": exact_time(moment, locale) if moment else "",
        "replies": [_view(reply, locale) for reply in item.get("replies") or []],
        "reply_count": item.get("reply_count", 0),
        "replies_cursor": item.get("replies_cursor"),
    }


def _find(comments: list[dict[str, Any]], comment_id: int | None) -> dict[str, Any] | None:
    for comment in comments:
        if comment["id"] == comment_id:
            return comment
        found = _find(comment["replies"], comment_id)
        if found:
            return found
    return None


def _render(
    thread: str,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, Any] | None = None,
    stamp: str | None = None,
    reply_to: int | None = None,
    notice: str | None = None,
    cursor: int | None = None,
    return_to: str | None = None,
    unavailable: bool = False,
    problem: str | None = None,
    replies_of: int | None = None,
    wait: int | None = None,
) -> tuple[str, int, dict[str, str]]:
    """The page; `unavailable` (storage down): the form alone, still holding `values`.
    With `replies_of`, the page lists that comment's replies from `cursor` on; with `wait`,
    `problem` says how many seconds to wait (and Retry-After too)."""
    store = site_stores().comments
    page = None
    if replies_of is not None and not unavailable:
        page = store.replies_page(replies_of, PAGE_SIZE, cursor, thread=thread)
        if page is None:
            replies_of = None  # not a published comment of this thread: show the thread
    if page is None and not unavailable:
        page = store.thread_page(thread, PAGE_SIZE, cursor if replies_of is None else None)
    locale = i18n.current_locale()
    lang = _lang_arg()
    comments = [_view(item, locale) for item in page.items] if page else []
    total = 0
    if page is not None:
        # The heading counts the thread's comments, also on a page of one comment's replies.
        total = page.total if replies_of is None else store.thread_total(thread)
    replying = _find(comments, reply_to)
    errors = {
        name: " ".join(i18n.translate_api_message(str(message)) for message in messages)
        for name, messages in (errors or {}).items()
    }
    general = [message for name, message in errors.items() if name not in FORM_FIELDS]
    if "parent" in errors:
        general = [_("The comment you replied to is not available any more.")]
    if problem:
        general = [_(problem)]
        if wait:
            general.append(_(WAIT, wait=_duration(wait, locale)))
    html = render_template(
        "embed/thread.html",
        thread=thread,
        total=total,
        comments=comments,
        unavailable=page is None,
        next_url=thread_path(
            thread, replies_of=replies_of, cursor=page.next_cursor, return_to=return_to, lang=lang
        )
        if page and page.next_cursor
        else None,
        replies_of=replies_of,
        thread_url=thread_path(thread, return_to=return_to, lang=lang),
        more_replies_url=lambda c: thread_path(
            thread, replies_of=c["id"], cursor=c["replies_cursor"], return_to=return_to, lang=lang
        ),
        action=thread_path(thread, lang=lang),
        cancel_url=thread_path(thread, return_to=return_to, lang=lang) + "#respond",
        reply_url=lambda cid: (
            thread_path(thread, reply_to=cid, return_to=return_to, lang=lang) + "#respond"
        ),
        values=values or {},
        errors=errors,
        general_error=" ".join(general) if general else None,
        stamp=stamp or issue_stamp(current_app.secret_key),  # type: ignore[arg-type]
        replying=replying,
        # A reply whose parent is not on this page (or not loaded) stays a reply.
        parent_id=reply_to if reply_to and "parent" not in errors else None,
        notice=notice,
        notices=NOTICES,
        return_to=return_to,
    )
    origins = " ".join(allowed_origins())
    headers = {
        # Nothing on this page runs scripts; its form may go back to an allowed page.
        "Content-Security-Policy": "default-src 'none'; style-src 'self'; base-uri 'none'; "
        f"form-action 'self' {origins}; frame-ancestors 'self' {origins}".strip(),
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    if unavailable:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if wait:
        headers["Retry-After"] = str(wait)
    return html, status, headers


def _duration(seconds: int, locale: Locale) -> str:
    """A wait as people say it, "15 seconds", "3 minutes", "2 hours", rounded up to its
    unit: a reader told a shorter wait than the real one would be refused again."""
    unit = next((size for size in (3600, 60) if seconds >= size), 1)
    rounded = timedelta(seconds=math.ceil(seconds / unit) * unit)
    return i18n.localise_digits(format_timedelta(rounded, threshold=1, locale=locale), locale)


def _typed() -> dict[str, str]:
    # What the reader typed, except the honeypot: people never see that one.
    return {name: request.form.get(name, "") for name in FORM_FIELDS}


def _storage_down(exc: Exception) -> tuple[str, int, dict[str, str]]:
    # A page, not the API's JSON: and for a post, the form with everything typed in it.
    posted = request.method == "POST"
    return _render(
        (request.view_args or {}).get("thread", ""),
        status=503,
        values=_typed() if posted else None,
        stamp=(request.form.get("stamp") or None) if posted else None,
        reply_to=_int_arg(request.form.get("parent")) if posted else None,
        return_to=safe_return_to(request.values.get("return_to")),
        unavailable=True,
        problem=UNAVAILABLE_SAVING if posted else None,
    )


for _kind in STORAGE_ERRORS:
    blp.register_error_handler(_kind, _storage_down)


@blp.get("/threads/<thread:thread>")
def thread_page(thread: str) -> tuple[str, int, dict[str, str]]:
    args = request.args
    return _render(
        thread,
        reply_to=_int_arg(args.get("reply_to")),
        notice=args.get("posted") if args.get("posted") in NOTICES else None,
        cursor=_int_arg(args.get("cursor")),
        return_to=safe_return_to(args.get("return_to")),
        replies_of=_int_arg(args.get("replies_of")),
    )


@blp.post("/threads/<thread:thread>")
def post_comment(thread: str) -> Response | tuple[str, int, dict[str, str]]:
    require_allowed_origin(current_site())
    if request.mimetype not in FORM_TYPES:
        raise ApiError(415, "Send the comment as an HTML form post.")
    return_to = safe_return_to(request.form.get("return_to"))
    body, unknown = request_body()
    body["thread"] = thread  # the page's own thread, whatever the form says
    try:
        record = store_comment(load_comment(body, unknown))
    except ApiError as err:
        if err.status != 422 and err.code not in REFUSED:
            raise
        # The form again with everything typed in it, and its stamp: once the wait is
        # over, sending it is one click, and it cannot be stored twice.
        retry_after = err.headers.get("Retry-After")
        return _render(
            thread,
            status=err.status,
            values=_typed(),
            errors=err.fields,
            stamp=request.form.get("stamp") or None,
            reply_to=_int_arg(request.form.get("parent")),
            return_to=return_to,
            problem=REFUSED.get(err.code),
            wait=int(retry_after) if retry_after else None,
        )
    status = "published" if record["status"] == "published" else "pending"
    if return_to:
        return redirect(_with_status(return_to, status), 303)
    anchor = f"#comment-{record['id']}" if status == "published" else "#notice"
    return redirect(thread_path(thread, posted=status, lang=_lang_arg()) + anchor, 303)
