"""Liveness and readiness for load balancers and `moderation serve`."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from moderation.schemas import ErrorOut, HealthOut

blp = Blueprint("health", __name__, description="Service health")


@blp.route("/healthz")
@blp.response(200, HealthOut)
@blp.alt_response(503, schema=ErrorOut, description="Redis is unreachable")
def healthz() -> dict[str, str]:
    """200 once the service can store comments and has a model loaded."""
    svc = current_app.extensions["moderation"]
    svc.redis.ping()  # a Redis error becomes the 503 storage_unavailable answer
    return {"status": "ok", "model_version": svc.model.version}
