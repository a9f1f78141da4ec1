"""Which web pages may use the public API: CORS for the embedded form, and the POST origin check.

Only origins a site lists (MODERATION_ALLOWED_ORIGINS for the default site) are ever
echoed (never "*"). Requests without an Origin header (servers, curl) are not browsers
acting for a page and pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from moderation.errors import ApiError

if TYPE_CHECKING:
    from moderation.sites import Site

# The public API and the embed assets; the moderators' API stays same-origin only.
CORS_BLUEPRINTS = frozenset({"public", "embed"})
ALLOWED_HEADERS = "Content-Type, Idempotency-Key"
PREFLIGHT_MAX_AGE = 600


def allowed_origins() -> tuple[str, ...]:
    """Every site's origins (MODERATION_ALLOWED_ORIGINS are the default site's)."""
    return current_app.extensions["moderation"].sites.all_origins()


def _strip_default_port(netloc: str) -> str:
    for default in (":80", ":443"):
        if netloc.endswith(default):
            return netloc[: -len(default)]
    return netloc


def is_own_origin(origin: str) -> bool:
    """Whether `origin` is this service's own (its pages, e.g. the no-JavaScript thread page).

    Compared with the Host header rather than a configured URL: a browser sends the Host of
    the service it talks to, and a page elsewhere cannot make it send ours as its Origin.
    The scheme is not compared, since TLS often ends at a proxy in front.
    """
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return False
    return _strip_default_port(parts.netloc.lower()) == _strip_default_port(request.host.lower())


def origin_may_post(origin: str | None, site: Site | None = None) -> bool:
    if origin is None or is_own_origin(origin):
        return True
    return origin in (allowed_origins() if site is None else site.allowed_origins)


def require_allowed_origin(site: Site | None = None) -> None:
    """403 for a browser post made by a page that is neither ours nor an allowed origin
    (of `site`, when given: one site's pages may not post into another's)."""
    if not origin_may_post(request.headers.get("Origin"), site):
        raise ApiError(
            403,
            "This site may not post comments here: its origin is not allowed.",
            code="origin_not_allowed",
        )


def _preflight() -> Response | None:
    if request.method != "OPTIONS" or request.blueprint not in CORS_BLUEPRINTS:
        return None
    if "Access-Control-Request-Method" not in request.headers:
        return None  # a plain OPTIONS request: Flask's own answer lists the methods
    if request.headers.get("Origin") not in allowed_origins():
        raise ApiError(
            403,
            "This site may not use the comments API: its origin is not allowed.",
            code="origin_not_allowed",
        )
    methods = sorted((request.url_rule.methods or set()) - {"HEAD", "OPTIONS"})  # type: ignore[union-attr]
    response = current_app.response_class(status=204)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    response.vary.update(("Access-Control-Request-Method", "Access-Control-Request-Headers"))
    return response


def _cors_headers(response: Response) -> Response:
    if request.blueprint not in CORS_BLUEPRINTS:
        return response
    # Caches must keep one copy per Origin: the answer's CORS headers depend on it.
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin and origin in allowed_origins():
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        # The widget reads Retry-After to say how long to wait after a 429 or 503.
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response


def init_app(app: Flask) -> None:
    app.before_request(_preflight)
    app.after_request(_cors_headers)
