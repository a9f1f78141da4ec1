"""Retraining in the background for the admin API: one job at a time per deployment,
its progress and result kept in Redis so that any worker (or host) can answer for it."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from datetime import UTC, datetime
from typing import Any

from moderation.retraining import retrain_service

log = logging.getLogger(__name__)
JOB_TTL_SECONDS = 7 * 86400
LOCK_SECONDS = 3600  # a worker that died mid-job frees the lock after an hour


# Free the lock only if it is still this job's (it may have expired and been retaken).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"


class JobRunning(RuntimeError):
    """Another retrain is in progress."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def start(services: Any, dry_run: bool = False) -> dict[str, Any]:
    keys = services.comments.keys
    client = services.redis
    job_id = secrets.token_hex(8)
    if not client.set(keys.retrain_lock, job_id, nx=True, ex=LOCK_SECONDS):
        raise JobRunning(client.get(keys.retrain_lock) or "")
    job = {"id": job_id, "state": "queued", "dry_run": dry_run, "created_at": _now()}
    _save(services, job)
    threading.Thread(target=_run, args=(services, job), daemon=True, name="retrain").start()
    return job


def get(services: Any, job_id: str) -> dict[str, Any] | None:
    raw = services.redis.get(services.comments.keys.retrain_job(job_id))
    return json.loads(raw) if raw else None


def _save(services: Any, job: dict[str, Any]) -> None:
    services.redis.set(
        services.comments.keys.retrain_job(job["id"]), json.dumps(job), ex=JOB_TTL_SECONDS
    )


def _run(services: Any, job: dict[str, Any]) -> None:
    job.update(state="running", started_at=_now())

    def progress(step: str) -> None:
        job["progress"] = step
        _save(services, job)

    try:
        report = retrain_service(services, dry_run=job["dry_run"], progress=progress)
    except Exception as err:  # the job reports any failure; the worker carries on
        log.exception("retrain job %s failed", job["id"])
        job.update(state="failed", error=f"{type(err).__name__}: {err}")
    else:
        job.update(state="done", result=report.as_dict())
    finally:
        job.update(finished_at=_now(), progress=None)
        _save(services, job)
        services.redis.eval(_RELEASE, 1, services.comments.keys.retrain_lock, job["id"])
