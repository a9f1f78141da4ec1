"""The moderators' API (the review queue grows here)."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from moderation.auth import require_role
from moderation.errors import ApiError
from moderation.schemas import ErrorOut, QueuePage, QueueQuery, StatsOut
from moderation.store.keys import STATUSES
from moderation.text import render_content

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


def _queue_item(record: dict[str, Any], svc: Any, histories: dict[str, Any]) -> dict[str, Any]:
    try:
        email = (
            svc.vault.decrypt(record["email_encrypted"]) if "email_encrypted" in record else None
        )
    except ValueError:  # encrypted under another secret key: show the rest, say so by null
        email = None
    return {
        **{k: record.get(k) for k in ("id", "thread", "parent", "author", "url", "created_at")},
        "email": email,
        "content": render_content(record.get("content") or ""),
        "status": record["status"],
        "machine_status": record.get("machine_status"),
        "score": record.get("score"),
        "model_version": record.get("model_version"),
        "rules": record.get("rules") or [],
        "reasons": record.get("reasons") or [],
        "commenter": histories.get(record.get("email_hash"), {}),
        "ip": record.get("ip"),
        "user_agent": record.get("user_agent"),
        "referrer": record.get("referrer"),
    }


@blp.route("/queue")
@blp.doc(security=BEARER)
@blp.arguments(QueueQuery, location="query")
@blp.response(200, QueuePage)
@blp.alt_response(401, schema=ErrorOut, description="No or invalid token")
@blp.alt_response(403, schema=ErrorOut, description="Role not allowed")
@blp.alt_response(422, schema=ErrorOut, description="Invalid query")
@blp.alt_response(503, schema=ErrorOut, description="Storage unavailable; retry later")
@require_role("moderator")
def queue(query: dict[str, Any]) -> dict[str, Any]:
    """The review queue: pending by default, also spam (rescue) and published (take-down)."""
    svc = current_app.extensions["moderation"]
    comments = svc.comments
    time_order = query["order"] in ("oldest", "newest")
    if query["cursor"] and time_order != query["cursor"].isdigit():
        fields = {"cursor": ["This cursor belongs to another order; start again without one."]}
        raise ApiError(422, "The request has invalid fields.", fields=fields)
    records, next_cursor = comments.queue_page(
        query["status"], query["order"], query["limit"], query["cursor"], query["thread"]
    )
    histories = comments.commenter_histories(
        [r["email_hash"] for r in records if r.get("email_hash")]
    )
    items = [_queue_item(r, svc, histories) for r in records]
    return {"items": items, "next_cursor": next_cursor}
