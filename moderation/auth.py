"""Access for moderators and admins: a Bearer token, or the session of the moderation page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request

from moderation import browser_session
from moderation.errors import ApiError
from moderation.store.tokens import TokenInfo

F = TypeVar("F", bound=Callable[..., Any])
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="moderation"'}
# Requests that change something; only these need proof that our own page sent them.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def current_moderator() -> TokenInfo:
    return g.moderator


def _from_bearer(header: str) -> TokenInfo:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Send a moderator token: Authorization: Bearer ...", headers=_CHALLENGE)
    info = current_app.extensions["moderation"].tokens.lookup(token.strip())
    if info is None:
        raise ApiError(401, "The token is not valid or was revoked.", headers=_CHALLENGE)
    return info


def _from_session() -> TokenInfo:
    info = browser_session.signed_in()
    if info is None:
        raise ApiError(401, "Send a moderator token: Authorization: Bearer ...", headers=_CHALLENGE)
    # A browser sends the cookie with requests other sites trigger (SameSite=Lax still lets
    # sibling subdomains through); only our page can read the CSRF token to send it back.
    if request.method in UNSAFE_METHODS and not browser_session.csrf_valid(
        request.headers.get(browser_session.CSRF_HEADER)
    ):
        raise ApiError(
            403,
            "Missing or wrong X-CSRF-Token header; reload the moderation page.",
            code="csrf",
        )
    return info


def require_role(role: str) -> Callable[[F], F]:
    """401 without a valid token or session, 403 with a lesser role or, for a session's
    state-changing request, without its CSRF token.

    An Authorization header decides alone: another site cannot make a browser send one, so
    Bearer requests need no CSRF token, and a bad header is never rescued by a cookie.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization")
            info = _from_bearer(header) if header is not None else _from_session()
            if not info.allows(role):
                raise ApiError(403, f"This needs the {role} role.")
            g.moderator = info
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
