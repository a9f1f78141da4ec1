"""The admins' API: the audit trail, retraining in the background, the model registry."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from moderation import retrain_jobs
from moderation.api.moderation import documented, services
from moderation.auth import require_role
from moderation.errors import ApiError
from moderation.schemas import (
    AuditPage,
    AuditQuery,
    ModelList,
    ModelOut,
    RetrainIn,
    RetrainJobOut,
)
from moderation.store.models import RegistryError

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Admins' API")


@blp.route("/audit")
@documented(blp, 422)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditPage)
@require_role("admin")
def audit(query: dict[str, Any]) -> dict[str, Any]:
    """Who decided what and when, newest first; optionally for one comment."""
    entries, next_cursor = services().review.audit_entries(
        query["limit"], query["cursor"], query.get("comment")
    )
    items = [
        {
            "entry_id": e["entry_id"],
            "comment_id": int(e["comment_id"]),
            "action": e["action"],
            "previous_status": e["from"],
            "status": e["to"],
            "moderator": e["moderator"],
            "at": e["at"],
        }
        for e in entries
    ]
    return {"items": items, "next_cursor": next_cursor}


@blp.route("/model/retrain", methods=["POST"])
@documented(blp, 409, 422, e409="A retrain is already running")
@blp.arguments(RetrainIn)
@blp.response(202, RetrainJobOut)
@require_role("admin")
def start_retrain(body: dict[str, Any]) -> dict[str, Any]:
    """Retrain in the background; poll the job for progress and the promotion report."""
    try:
        return retrain_jobs.start(services(), dry_run=body["dry_run"])
    except retrain_jobs.JobRunning as running:
        raise ApiError(409, f"A retrain is already running (job {running}).") from None


@blp.route("/model/retrain/<job_id>")
@documented(blp, 404, e404="No such job (jobs are kept for 7 days)")
@blp.response(200, RetrainJobOut)
@require_role("admin")
def retrain_job(job_id: str) -> dict[str, Any]:
    """A retrain job: queued, running (with its current step), done (with the report) or
    failed (with the error)."""
    job = retrain_jobs.get(services(), job_id)
    if job is None:
        raise ApiError(404, "There is no such retrain job.")
    return job


def _model_list() -> list[dict[str, Any]]:
    registry = services().models
    active = registry.active_version()
    return [e.as_dict(active=e.version == active) for e in registry.entries()]


@blp.route("/models")
@documented(blp)
@blp.response(200, ModelList)
@require_role("admin")
def models() -> dict[str, Any]:
    """Every registered model version, oldest first, with its metrics."""
    return {"items": _model_list(), "serving": services().model.version}


@blp.route("/models/<version>/promote", methods=["POST"])
@documented(blp, 404, e404="No such model version")
@blp.response(200, ModelOut)
@require_role("admin")
def promote(version: str) -> dict[str, Any]:
    """Make this version the active model; every worker follows within seconds."""
    try:
        services().models.promote(version)
    except RegistryError as err:
        raise ApiError(404, str(err)) from None
    return next(m for m in _model_list() if m["version"] == version)


@blp.route("/models/rollback", methods=["POST"])
@documented(blp, 409, e409="No earlier model to roll back to")
@blp.response(200, ModelOut)
@require_role("admin")
def rollback() -> dict[str, Any]:
    """Go back to the model that was active before the current one."""
    try:
        version = services().models.rollback()
    except RegistryError as err:
        raise ApiError(409, str(err)) from None
    return next(m for m in _model_list() if m["version"] == version)
