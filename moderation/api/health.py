"""Liveness and readiness, for load balancers, orchestrators and `moderation serve`.

`/healthz` says the process is up and which model it scores with: it never touches Redis,
so a slow or failing Redis does not get a healthy worker restarted. `/readyz` tells whether
this worker can take comments now: Redis answers, accepts a write (OOM from maxmemory,
READONLY after a failover and BUSY all fail it), and a model is loaded.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from moderation.errors import RETRY_AFTER_SECONDS, STORAGE_ERRORS, storage_error_kind
from moderation.schemas import HealthOut, ReadyOut

log = logging.getLogger(__name__)

blp = Blueprint("health", __name__, description="Service health")


@blp.route("/healthz")
@blp.response(200, HealthOut)
def healthz() -> dict[str, str]:
    """200 while the process runs: liveness, with the model version it scores with."""
    svc = current_app.extensions["moderation"]
    return {"status": "ok", "model_version": svc.model.version}


@blp.route("/readyz")
@blp.response(200, ReadyOut)
@blp.alt_response(503, schema=ReadyOut, description="Storage cannot take writes now")
def readyz() -> tuple[dict[str, Any], int, dict[str, str]]:
    """200 when a comment posted now can be stored: Redis reachable and writable, model loaded."""
    svc = current_app.extensions["moderation"]
    checks: dict[str, str] = {}
    try:
        # A tiny write with a short expiry: PING alone passes on a full or read-only Redis.
        svc.redis.set(svc.comments.keys.readiness_probe, "1", px=10_000)
        checks["redis"] = "ok"
    except STORAGE_ERRORS as exc:
        checks["redis"] = storage_error_kind(exc)
        log.warning("not ready: Redis %s", checks["redis"])
    model = getattr(svc, "model", None)
    checks["model"] = "ok" if model is not None else "missing"
    ready = all(value == "ok" for value in checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "model_version": model.version if model is not None else None,
        "checks": checks,
    }
    headers = {} if ready else {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return body, 200 if ready else 503, headers
