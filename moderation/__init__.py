"""A self-hosted comment moderation service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moderation.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # `from moderation import create_app` keeps working, but Flask, scikit-learn and the
    # model load only then: every `moderation` command imports this package first, and
    # `--help` or `token list` must not pay seconds for an app they do not build.
    if name == "create_app":
        from moderation.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
