"""The moderators' web page: sign-in, and the review queue driven by the moderation API."""

from moderation.ui.pages import blp

__all__ = ["blp"]
