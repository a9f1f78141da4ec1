"""The moderators' API (the review queue grows here)."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from moderation.auth import require_role
from moderation.schemas import ErrorOut, StatsOut
from moderation.store.keys import STATUSES

blp = Blueprint(
    "moderation", __name__, url_prefix="/api/v1/moderation", description="Moderators' API"
)
BEARER = [{"bearerAuth": []}]


@blp.route("/stats")
@blp.doc(security=BEARER)
@blp.response(200, StatsOut)
@blp.alt_response(401, schema=ErrorOut, description="No or invalid token")
@blp.alt_response(403, schema=ErrorOut, description="Role not allowed")
@blp.alt_response(503, schema=ErrorOut, description="Storage unavailable; retry later")
@require_role("moderator")
def stats() -> dict[str, Any]:
    """Counts by status and how long the oldest pending comment has waited."""
    comments = current_app.extensions["moderation"].comments
    oldest = comments.oldest_created_ms("pending")
    return {
        "counts": {status: comments.count(status) for status in STATUSES},
        "oldest_pending_age_seconds": None
        if oldest is None
        else max(0.0, round(time.time() - oldest / 1000, 3)),
    }
