"""A moderator signed in from a browser: the session cookie, its CSRF token, sign-in limits.

The cookie (signed by Flask, never holding the token) carries the token's stored digest, a
session id and a CSRF token. The session id must also exist in Redis, so signing out ends
the session for every copy of the cookie, and a revoked token ends it at the next request.
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING

from flask import current_app, g, session

from moderation.store.tokens import TOKEN_PREFIX, TokenInfo, token_digest

if TYPE_CHECKING:
    from moderation.bootstrap import Services

# A working day; after it the moderator pastes the token again.
SESSION_SECONDS = 12 * 3600
# Tokens are 256-bit random, so nobody can guess one; the limit only keeps a script
# from filling logs and Redis round trips with attempts.
LOGIN_ATTEMPTS = 20
LOGIN_WINDOW_SECONDS = 15 * 60
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_MAX_TOKEN_LENGTH = 200


def _services() -> Services:
    return current_app.extensions["moderation"]


def _session_key(sid: str) -> str:
    return _services().comments.keys.browser_session(sid)


def _failures_key(ip: str) -> str:
    return _services().comments.keys.sign_in_failures(ip)


def csrf_token() -> str:
    """This session's CSRF token, made on first use (the sign-in form needs one too)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_valid(candidate: str | None) -> bool:
    expected = session.get("csrf")
    if not expected or not candidate:
        return False
    return hmac.compare_digest(expected.encode(), candidate.encode())


def sign_in(token: str) -> TokenInfo | None:
    """Start a session for a valid moderator token; None (and no session) otherwise."""
    token = token.strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    digest = token_digest(token)
    info = _services().tokens.lookup_digest(digest)
    if info is None or not info.allows("moderator"):
        return None
    sid = secrets.token_urlsafe(32)
    _services().redis.set(_session_key(sid), digest, ex=SESSION_SECONDS)
    # A fresh session and CSRF token: nothing chosen before sign-in carries over.
    session.clear()
    session.update(moderator=digest, sid=sid, csrf=secrets.token_urlsafe(32))
    return info


def signed_in() -> TokenInfo | None:
    """The moderator of this browser session, checked against Redis once per request."""
    if "browser_moderator" in g:
        return g.browser_moderator
    info = None
    digest, sid = session.get("moderator"), session.get("sid")
    if isinstance(digest, str) and isinstance(sid, str):
        stored = _services().redis.get(_session_key(sid))
        if stored is not None and hmac.compare_digest(stored, digest):
            info = _services().tokens.lookup_digest(digest)
    if info is None and (digest or sid):
        # Signed out elsewhere, expired or revoked: drop the cookie's identity for good.
        session.pop("moderator", None)
        session.pop("sid", None)
    g.browser_moderator = info
    return info


def sign_out() -> None:
    sid = session.get("sid")
    if isinstance(sid, str):
        _services().redis.delete(_session_key(sid))
    session.clear()
    g.pop("browser_moderator", None)


def sign_in_allowed(ip: str) -> bool:
    failures = _services().redis.get(_failures_key(ip))
    return int(failures or 0) < LOGIN_ATTEMPTS


def record_failed_sign_in(ip: str) -> None:
    key = _failures_key(ip)
    pipe = _services().redis.pipeline(transaction=False)
    # A fixed window from the first failure (SET NX EX), not extended by later ones.
    pipe.set(key, 0, ex=LOGIN_WINDOW_SECONDS, nx=True)
    pipe.incr(key)
    pipe.execute()
