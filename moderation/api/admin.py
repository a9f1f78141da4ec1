"""The admins' API: the audit trail, retraining in the background, the model registry."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from moderation import retrain_jobs
from moderation.api.moderation import documented, per_site, services
from moderation.auth import require_role
from moderation.errors import ApiError
from moderation.schemas import (
    AuditPage,
    AuditQuery,
    ModelList,
    ModelOut,
    RetrainIn,
    RetrainJobOut,
    SiteCreateIn,
    SiteList,
    SiteOut,
    SiteUpdateIn,
)
from moderation.site_request import current_site
from moderation.sites import Site, SiteError, SiteExists
from moderation.store.keys import STATUSES
from moderation.store.models import RegistryError

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Admins' API")


@blp.route("/audit")
@per_site(blp)
@documented(blp, 422)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditPage)
@require_role("admin")
def audit(query: dict[str, Any]) -> dict[str, Any]:
    """Who decided what and when, newest first; optionally for one comment."""
    entries, next_cursor = (
        services()
        .stores(current_site())
        .review.audit_entries(query["limit"], query["cursor"], query.get("comment"))
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


# --- sites -------------------------------------------------------------------------------


def _site_view(site: Site, *, counts: bool = False) -> dict[str, Any]:
    view = site.as_dict()
    if counts:
        comments = services().stores(site).comments
        view["counts"] = {status: comments.count(status) for status in STATUSES}
    return view


@blp.route("/sites")
@documented(blp)
@blp.response(200, SiteList)
@require_role("admin")
def list_sites() -> dict[str, Any]:
    """Every site with its settings and its comments by status: the view across sites."""
    return {"items": [_site_view(s, counts=True) for s in services().sites.all(fresh=True)]}


@blp.route("/sites", methods=["POST"])
@documented(blp, 409, 422, e409="A site with this id exists")
@blp.arguments(SiteCreateIn)
@blp.response(201, SiteOut)
@require_role("admin")
def create_site(body: dict[str, Any]) -> dict[str, Any]:
    """Add a site; what is not given follows the deployment's settings."""
    site_id = body.pop("id")
    try:
        return _site_view(services().sites.create(site_id, body))
    except SiteExists as err:
        raise ApiError(409, str(err), code="site_exists") from None
    except SiteError as err:
        raise ApiError(422, str(err)) from None


def _existing_site(site_id: str) -> Site:
    site = services().sites.get(site_id, fresh=True)
    if site is None:
        raise ApiError(404, "There is no site with this id.", code="unknown_site")
    return site


@blp.route("/sites/<site_id>")
@documented(blp, 404, e404="No such site")
@blp.response(200, SiteOut)
@require_role("admin")
def get_site(site_id: str) -> dict[str, Any]:
    return _site_view(_existing_site(site_id), counts=True)


@blp.route("/sites/<site_id>", methods=["PATCH"])
@documented(blp, 404, 422, e404="No such site")
@blp.arguments(SiteUpdateIn)
@blp.response(200, SiteOut)
@require_role("admin")
def update_site(body: dict[str, Any], site_id: str) -> dict[str, Any]:
    """Change some of a site's settings; the others stay as they are."""
    _existing_site(site_id)
    try:
        return _site_view(services().sites.update(site_id, body))
    except SiteError as err:
        raise ApiError(422, str(err)) from None
