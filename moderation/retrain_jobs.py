"""Retraining in the background for the admin API: one job at a time per deployment,
its progress and result kept in Redis so that any worker (or host) can answer for it.

The job holds a Redis lock with a short TTL that a heartbeat thread keeps renewing while
the job runs. A worker that dies (killed, OOM, host lost) stops renewing it: the lock
expires within LOCK_TTL_SECONDS, a new retrain may start, and the dead job, which still
says "running", reads as failed from then on.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from datetime import UTC, datetime
from typing import Any

import redis
from redis.exceptions import LockError, LockNotOwnedError
from redis.lock import Lock

from moderation.retraining import retrain_service

log = logging.getLogger(__name__)
JOB_TTL_SECONDS = 7 * 86400
# How long a dead worker's job blocks retraining. The heartbeat renews well within it, so
# that a Redis hiccup or a busy worker misses a beat or two without losing the lock.
LOCK_TTL_SECONDS = 30.0
HEARTBEAT_SECONDS = 10.0
WORKER_STOPPED = "the worker running this job stopped"
_UNFINISHED = ("queued", "running")


class JobRunning(RuntimeError):
    """Another retrain is in progress."""


class LockLost(RuntimeError):
    """The job's lock expired under it (its heartbeat could not reach Redis in time), so
    another job may be running: this one stops at its next step rather than race it."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _lock(services: Any) -> Lock:
    # Not thread-local: the request thread takes it, the job's threads renew and free it.
    return services.redis.lock(
        services.comments.keys.retrain_lock, timeout=LOCK_TTL_SECONDS, thread_local=False
    )


class _Heartbeat(threading.Thread):
    def __init__(self, lock: Lock, job_id: str) -> None:
        super().__init__(daemon=True, name=f"retrain-heartbeat-{job_id}")
        self.lock = lock
        self.job_id = job_id
        # Several beats per TTL whatever the two are set to, or one late beat loses it.
        self.interval = min(HEARTBEAT_SECONDS, LOCK_TTL_SECONDS / 3)
        self.lost = threading.Event()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            try:
                self.lock.reacquire()
            except LockNotOwnedError:
                log.error("retrain job %s lost its lock: it stops at its next step", self.job_id)
                self.lost.set()
                return
            except redis.RedisError as err:  # the next beat may get through in time
                log.warning("retrain job %s could not renew its lock: %s", self.job_id, err)

    def stop(self) -> None:
        self._done.set()
        self.join()


def start(services: Any, dry_run: bool = False) -> dict[str, Any]:
    job_id = secrets.token_hex(8)
    lock = _lock(services)
    if not lock.acquire(blocking=False, token=job_id):
        raise JobRunning(services.redis.get(services.comments.keys.retrain_lock) or "")
    job = {"id": job_id, "state": "queued", "dry_run": dry_run, "created_at": _now()}
    try:
        _save(services, job)
    except BaseException:
        lock.release()
        raise
    heartbeat = _Heartbeat(lock, job_id)
    heartbeat.start()
    threading.Thread(
        target=_run, args=(services, job, lock, heartbeat), daemon=True, name="retrain"
    ).start()
    return job


def get(services: Any, job_id: str) -> dict[str, Any] | None:
    """The job; one that says it is unfinished but no longer holds the lock is failed."""
    keys = services.comments.keys
    job_key = keys.retrain_job(job_id)

    def read(pipe: Any) -> dict[str, Any] | None:
        raw = pipe.get(job_key)
        job = json.loads(raw) if raw else None
        if job is None or job["state"] not in _UNFINISHED:
            return job
        if pipe.get(keys.retrain_lock) == job_id:
            return job
        job.update(state="failed", error=WORKER_STOPPED, finished_at=_now(), progress=None)
        pipe.multi()
        pipe.set(job_key, json.dumps(job), ex=JOB_TTL_SECONDS)
        return job

    # WATCH: a job that finished between the two reads (it saves, then frees the lock)
    # must keep its result, not be overwritten as failed.
    return services.redis.transaction(read, job_key, value_from_callable=True)


def _save(services: Any, job: dict[str, Any]) -> None:
    services.redis.set(
        services.comments.keys.retrain_job(job["id"]), json.dumps(job), ex=JOB_TTL_SECONDS
    )


def _run(services: Any, job: dict[str, Any], lock: Lock, heartbeat: _Heartbeat) -> None:
    job.update(state="running", started_at=_now())

    def progress(step: str) -> None:
        if heartbeat.lost.is_set():
            raise LockLost("the job lost its lock (Redis unreachable for too long)")
        job["progress"] = step
        _save(services, job)

    try:
        _save(services, job)
        report = retrain_service(services, dry_run=job["dry_run"], progress=progress)
    except Exception as err:  # the job reports any failure; the worker carries on
        log.exception("retrain job %s failed", job["id"])
        job.update(state="failed", error=f"{type(err).__name__}: {err}")
    else:
        job.update(state="done", result=report.as_dict())
    finally:
        heartbeat.stop()
        job.update(finished_at=_now(), progress=None)
        # Saved before the lock is freed: `get` takes a freed lock for a dead worker.
        _save(services, job)
        try:
            lock.release()
        except LockError:  # expired, and perhaps another job's now: not ours to free
            log.warning("retrain job %s finished after its lock had expired", job["id"])
