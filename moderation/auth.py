"""Bearer-token access for moderators and admins."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request

from moderation.errors import ApiError
from moderation.store.tokens import TokenInfo

F = TypeVar("F", bound=Callable[..., Any])
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="moderation"'}


def current_moderator() -> TokenInfo:
    return g.moderator


def require_role(role: str) -> Callable[[F], F]:
    """401 without a valid token, 403 with a token of a lesser role."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(
                    401, "Send a moderator token: Authorization: Bearer ...", headers=_CHALLENGE
                )
            info = current_app.extensions["moderation"].tokens.lookup(token.strip())
            if info is None:
                raise ApiError(401, "The token is not valid or was revoked.", headers=_CHALLENGE)
            if not info.allows(role):
                raise ApiError(403, f"This needs the {role} role.")
            g.moderator = info
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
