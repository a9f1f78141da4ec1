"""The moderators' API: the queue, claims with leases, decisions, statistics, audit."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from moderation.auth import current_moderator, require_role
from moderation.bootstrap import Services, SiteStores
from moderation.errors import ApiError
from moderation.metrics import count_decisions
from moderation.schemas import (
    BulkDecisionIn,
    BulkDecisionOut,
    ClaimIn,
    ClaimOut,
    DecisionIn,
    DecisionOut,
    ErrorOut,
    QueuePage,
    QueueQuery,
    StatsOut,
)
from moderation.site_request import current_site
from moderation.sites import SITE_ID_PATTERN
from moderation.store.keys import STATUSES
from moderation.store.review import utc_iso
from moderation.text import render_content

blp = Blueprint(
    "moderation", __name__, url_prefix="/api/v1/moderation", description="Moderators' API"
)
BEARER = [{"bearerAuth": []}]


def services() -> Services:
    return current_app.extensions["moderation"]


SITE_PARAMETER = {
    "in": "query",
    "name": "site",
    "required": False,
    "schema": {"type": "string", "pattern": SITE_ID_PATTERN},
    "description": "The site whose comments these are (default: the default site). The "
    "X-Moderation-Site header does the same.",
}


def per_site(blueprint: Blueprint):
    """Document the `site` parameter of a route that works on one site's comments."""
    return blueprint.doc(parameters=[SITE_PARAMETER])


def site_data() -> SiteStores:
    """This request's site's stores, once the moderator is one of the site's (403 if not)."""
    site = current_site()
    moderator = current_moderator()
    if not site.admits(moderator.name, moderator.role):
        raise ApiError(403, "You do not moderate this site.", code="not_this_site")
    return services().stores(site)


ERROR_DESCRIPTIONS = {
    401: "No or invalid token",
    403: "Role not allowed",
    404: "No such comment",
    409: "Claimed by another moderator",
    422: "Invalid input",
    503: "Storage unavailable; retry later",
}


def documented(blueprint: Blueprint, *statuses: int, **described: str):
    """The error answers an authenticated route gives, in the OpenAPI document.
    `described` overrides a description: `documented(blp, 404, e404="No such model")`."""
    descriptions = {**ERROR_DESCRIPTIONS, **{int(k[1:]): v for k, v in described.items()}}

    def decorate(view):
        for status in sorted({401, 403, 503, *statuses}, reverse=True):
            view = blueprint.alt_response(
                status, schema=ErrorOut, description=descriptions[status]
            )(view)
        return blueprint.doc(security=BEARER)(view)

    return decorate


@blp.route("/stats")
@per_site(blp)
@documented(blp)
@blp.response(200, StatsOut)
@require_role("moderator")
def stats() -> dict[str, Any]:
    """Counts by status, the oldest pending age, live claims, decisions per moderator per
    day and the pending queue over the last 24 hours."""
    data = site_data()
    oldest = data.comments.oldest_created_ms("pending")
    return {
        "counts": {status: data.comments.count(status) for status in STATUSES},
        "oldest_pending_age_seconds": None
        if oldest is None
        else max(0.0, round(time.time() - oldest / 1000, 3)),
        "claimed": data.review.live_claims(),
        "decisions": data.review.decisions_per_day(7),
        "queue_over_time": data.review.pending_over_time(24),
    }


def _queue_items(data: SiteStores, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    histories = data.comments.commenter_histories(
        [r["email_hash"] for r in records if r.get("email_hash")]
    )
    leases = data.review.leases([r["id"] for r in records])
    svc = services()
    return [_queue_item(r, svc, histories, leases.get(str(r["id"]))) for r in records]


def _queue_item(
    record: dict[str, Any],
    svc: Services,
    histories: dict[str, Any],
    lease: tuple[str, int] | None,
) -> dict[str, Any]:
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
        "claimed_by": lease[0] if lease else None,
        "lease_expires_at": utc_iso(lease[1]) if lease else None,
        "decided_by": record.get("decided_by"),
        "decided_at": record.get("decided_at"),
    }


@blp.route("/queue")
@per_site(blp)
@documented(blp, 422)
@blp.arguments(QueueQuery, location="query")
@blp.response(200, QueuePage)
@require_role("moderator")
def queue(query: dict[str, Any]) -> dict[str, Any]:
    """The review queue: pending by default, also spam (rescue) and published (take-down)."""
    data = site_data()
    comments = data.comments
    time_order = query["order"] in ("oldest", "newest")
    if query["cursor"] and time_order != query["cursor"].isdigit():
        fields = {"cursor": ["This cursor belongs to another order; start again without one."]}
        raise ApiError(422, "The request has invalid fields.", fields=fields)
    records, next_cursor = comments.queue_page(
        query["status"], query["order"], query["limit"], query["cursor"], query["thread"]
    )
    return {"items": _queue_items(data, records), "next_cursor": next_cursor}


@blp.route("/claims", methods=["POST"])
@per_site(blp)
@documented(blp, 422)
@blp.arguments(ClaimIn)
@blp.response(200, ClaimOut)
@require_role("moderator")
def claim(body: dict[str, Any]) -> dict[str, Any]:
    """Claim the next comments (or the ones named) for a while; others' claims skip them.

    Claiming again renews your own claims, so a reloaded page gets its items back.
    """
    data = site_data()
    moderator = current_moderator()
    if "ids" in body:
        result = data.review.claim_ids(moderator, body["ids"], body["lease_seconds"])
    else:
        result = data.review.claim_next(
            moderator,
            body.get("limit", 10),
            status=body.get("status", "pending"),
            order=body.get("order", "oldest"),
            thread=body.get("thread"),
            lease_seconds=body["lease_seconds"],
        )
    return {
        "items": _queue_items(data, data.comments.get_many(result.ids)),
        "lease_expires_at": utc_iso(result.lease_expires_ms),
        "unavailable": [int(i) for i in result.unavailable],
    }


@blp.route("/claims/<int:comment_id>", methods=["DELETE"])
@per_site(blp)
@documented(blp, 404, 409)
@blp.response(204)
@require_role("moderator")
def release(comment_id: int) -> None:
    """Give a claimed comment back early (admins may release anyone's claim)."""
    outcome = site_data().review.release(current_moderator(), comment_id)
    if outcome == "not_claimed":
        raise ApiError(404, f"You hold no claim on comment {comment_id}.")
    if outcome == "held_by_other":
        raise ApiError(409, f"Comment {comment_id} is claimed by another moderator.")


@blp.route("/comments/<int:comment_id>/decision", methods=["POST"])
@per_site(blp)
@documented(blp, 404, 409, 422)
@blp.arguments(DecisionIn)
@blp.response(200, DecisionOut)
@require_role("moderator")
def decide(body: dict[str, Any], comment_id: int) -> dict[str, Any]:
    """Approve (publish), reject or mark as spam; the same verbs take down or rescue.

    Deciding again what is already so changes and counts nothing and says so.
    """
    result = site_data().review.decide(comment_id, body["action"], current_moderator())
    count_decisions([result])
    if result.outcome == "not_found":
        raise ApiError(404, f"There is no comment {comment_id}.")
    if result.outcome == "conflict":
        holder = f" ({result.holder})" if result.holder else ""
        raise ApiError(409, f"Comment {comment_id} is claimed by another moderator{holder}.")
    return {
        "id": result.id,
        "action": result.action,
        "status": result.status,
        "previous_status": result.previous_status,
        "already_decided": result.outcome == "already_decided",
        "decided_by": result.decided_by,
        "decided_at": result.decided_at,
    }


@blp.route("/decisions", methods=["POST"])
@per_site(blp)
@documented(blp, 422)
@blp.arguments(BulkDecisionIn)
@blp.response(200, BulkDecisionOut)
@require_role("moderator")
def decide_many(body: dict[str, Any]) -> dict[str, Any]:
    """One action on many comments; each is decided atomically and reported on its own."""
    results = site_data().review.decide_many(body["ids"], body["action"], current_moderator())
    count_decisions(results)
    return {
        "results": [
            {
                "id": r.id,
                "outcome": r.outcome,
                "status": r.status,
                "previous_status": r.previous_status,
                "claimed_by": r.holder,
            }
            for r in results
        ]
    }
