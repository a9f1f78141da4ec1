"""`/moderate`: the sign-in form, the queue page, sign-out.

The page is a shell: its script fetches everything from the moderation API with the
session cookie and the page's CSRF token. Comment text never passes through a template.

It speaks the language the moderator picked (a cookie), else the browser's; its script's
words come from the same catalogue, as /moderate/i18n/<lang>.js.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from moderation import browser_session, i18n
from moderation.sites import DEFAULT_SITE
from moderation.store.tokens import TokenInfo

STATIC = Path(__file__).parent / "static"
# The bands a moderator sees. Everything in the review queue scored below the service's
# spam threshold, so "Likely spam" starts lower (at a 4-in-5 chance) or no held comment
# could ever show it; "Likely fine" is what the service would have published had no rule
# held it.
LIKELY_SPAM = 0.8
LANGUAGE_COOKIE = "moderate_lang"
# A fingerprinted URL: a changed catalogue is a new URL, so a long cache is safe.
CATALOGUE_MAX_AGE = 30 * 86400

blp = Blueprint(
    "ui",
    __name__,
    url_prefix="/moderate",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# The page loads only its own script and stylesheet; even if comment markup slipped
# through, it could neither run nor load anything, and no other site may frame the page.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)


@cache
def _fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    """A static file's URL that changes with its content, so no browser runs a stale script."""
    return url_for("ui.static", filename=name, v=_fingerprint(name))


@cache
def _catalogue_script(lang: str) -> bytes:
    catalogue = i18n.js_catalogue(lang, i18n.script_messages(STATIC / "moderate.js"))
    return f"window.moderationI18n = {catalogue};\n".encode()


@blp.before_request
def _language() -> None:
    i18n.prefer(request.cookies.get(LANGUAGE_COOKIE))


@blp.context_processor
def _language_globals() -> dict[str, object]:
    lang = i18n.current_locale().language
    script = _catalogue_script(lang)
    return {
        "languages": i18n.language_names(),
        "lang_code": lang,
        "plain_name": i18n.display_name,
        "catalogue_url": url_for(
            "ui.catalogue", lang=lang, v=hashlib.sha256(script).hexdigest()[:12]
        ),
    }


@blp.after_request
def _page_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.endpoint not in ("ui.static", "ui.catalogue"):
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        # The page names moderators and, once loaded, shows commenters' emails.
        response.headers["Cache-Control"] = "no-store"
    return response


def _sign_in_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    html = render_template(
        "moderate/sign_in.html",
        csrf=browser_session.csrf_token(),
        error=error,
        asset_url=asset_url,
    )
    return html, status


def _queue_page(moderator: TokenInfo) -> str | tuple[str, int]:
    registry = current_app.extensions["moderation"].sites
    sites = [s for s in registry.all() if s.admits(moderator.name, moderator.role)]
    wanted = request.args.get("site") or (sites[0].id if sites else DEFAULT_SITE)
    site = next((s for s in sites if s.id == wanted), None)
    if site is None:
        # An unknown site, or one this moderator does not moderate: the same answer.
        return _sign_in_page(_("You do not moderate this site."), 403)

    return render_template(
        "moderate/queue.html",
        csrf=browser_session.csrf_token(),
        moderator=moderator,
        site=site,
        sites=sites,
        likely_fine_below=site.publish_below,
        likely_spam_from=min(LIKELY_SPAM, site.spam_above),
        asset_url=asset_url,
    )


@blp.get("")
def moderate() -> str | tuple[str, int]:
    moderator = browser_session.signed_in()
    return _queue_page(moderator) if moderator else _sign_in_page()


@blp.get("/")
def moderate_slash() -> Response:
    return redirect(url_for("ui.moderate"), 308)


@blp.post("/login")
def login() -> Response | tuple[str, int]:
    # Login CSRF: another site must not sign this browser in as someone else.
    if not browser_session.csrf_valid(request.form.get(browser_session.CSRF_FIELD)):
        return _sign_in_page(_("The sign-in form had expired. Please try again."), 403)
    ip = request.remote_addr or "unknown"
    # A valid token always gets in: behind a proxy every moderator shares one address,
    # and a limit that held valid tokens back would let anyone lock them all out. Tokens
    # are 256-bit random, so the limit only slows the wrong ones.
    if browser_session.sign_in(request.form.get("token", "")) is not None:
        return redirect(url_for("ui.moderate"), 303)
    if not browser_session.sign_in_allowed(ip):
        return _sign_in_page(_("Too many attempts. Please wait a few minutes and try again."), 429)
    browser_session.record_failed_sign_in(ip)
    # One message for every failure: unknown, revoked, malformed or a lesser role.
    return _sign_in_page(_("That token was not accepted."), 401)


@blp.post("/logout")
def logout() -> Response | tuple[str, int]:
    if not browser_session.csrf_valid(request.form.get(browser_session.CSRF_FIELD)):
        if browser_session.signed_in() is None:
            return redirect(url_for("ui.moderate"), 303)
        return _("Sign-out needs the page's form; reload the page and try again."), 403
    browser_session.sign_out()
    return redirect(url_for("ui.moderate"), 303)


@blp.post("/language")
def language() -> Response:
    """The language picker: remembered in a cookie, for the sign-in page too."""
    response = redirect(url_for("ui.moderate"), 303)
    locale = i18n.resolve(request.form.get("lang"))
    if locale is not None and browser_session.csrf_valid(
        request.form.get(browser_session.CSRF_FIELD)
    ):
        response.set_cookie(
            LANGUAGE_COOKIE,
            locale.language,
            max_age=365 * 86400,
            path=url_for("ui.moderate"),
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response


@blp.get("/i18n/<lang>.js")
def catalogue(lang: str) -> Response:
    """The page script's words in `lang`, from the same catalogue as the templates."""
    if lang not in i18n.languages():
        abort(404)
    response = Response(_catalogue_script(lang), content_type="text/javascript; charset=utf-8")
    response.cache_control.public = True
    response.cache_control.max_age = CATALOGUE_MAX_AGE
    return response
