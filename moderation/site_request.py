"""Which site a request is for, decided once per request.

An explicit site id (the embed snippet's `data-site`, sent as `site`; `?site=` or the
`X-Moderation-Site` header on the moderators' API) wins, and an unknown one is a 404:
a typo must not quietly post to the default site. Otherwise the site whose allowed
origins list the page's Origin, else the default site.
"""

from __future__ import annotations

from flask import current_app, g, request

from moderation.bootstrap import Services, SiteStores
from moderation.errors import ApiError
from moderation.sites import DEFAULT_SITE, Site

SITE_HEADER = "X-Moderation-Site"


def _services() -> Services:
    return current_app.extensions["moderation"]


def explicit_site_id(body_site: str | None = None) -> str | None:
    return body_site or request.args.get("site") or request.headers.get(SITE_HEADER) or None


def current_site(body_site: str | None = None) -> Site:
    """This request's site (cached on `g`); 404 `unknown_site` for an id no site has."""
    found = g.get("site")
    if found is not None and (body_site is None or body_site == found.id):
        return found
    registry = _services().sites
    wanted = explicit_site_id(body_site)
    if wanted is not None:
        site = registry.get(wanted)
        if site is None:
            raise ApiError(404, "There is no site with this id.", code="unknown_site")
    else:
        site = registry.for_origin(request.headers.get("Origin")) or registry.get(DEFAULT_SITE)
        assert site is not None  # the default site always exists
    g.site = site
    return site


def site_stores(body_site: str | None = None) -> SiteStores:
    return _services().stores(current_site(body_site))
