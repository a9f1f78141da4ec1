"""The admin API's retrain lock: renewed while its job runs, and freed soon after the
worker running the job dies, which then reads as failed instead of running for ever."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from moderation import retrain_jobs

URL = "/api/v1/admin/model/retrain"
DEADLINE = 60  # seconds


class _Report:
    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "candidate": None, "promoted": False}


@pytest.fixture
def release() -> Any:
    """Lets the fake retrain finish; set at the end whatever happens."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def fake_retrain(monkeypatch, release):
    """A retrain that takes as long as the test wants (no model is trained)."""

    def retrain_service(services: Any, dry_run: bool, progress: Any) -> _Report:
        progress("training a candidate")
        assert release.wait(timeout=120)
        return _Report(dry_run)

    monkeypatch.setattr(retrain_jobs, "retrain_service", retrain_service)


@pytest.fixture
def admin(services) -> dict[str, str]:
    return {"Authorization": "Bearer " + services.tokens.create("Root", "admin")[0]}


def job_of_a_dead_worker(services, ttl: float) -> str:
    """What a worker killed mid-job leaves: the lock, which nothing renews any more, and
    its job saying "running"."""
    job_id = "deadbeefdeadbeef"
    keys = services.comments.keys
    lock = services.redis.lock(keys.retrain_lock, timeout=ttl, thread_local=False)
    assert lock.acquire(blocking=False, token=job_id)
    job = {
        "id": job_id,
        "state": "running",
        "dry_run": True,
        "created_at": "2026-01-01T00:00:00+00:00",
        "started_at": "2026-01-01T00:00:00+00:00",
        "progress": "training a candidate",
    }
    services.redis.set(keys.retrain_job(job_id), json.dumps(job))
    return job_id


def wait_for(client, job_id: str, admin: dict[str, str], state: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    while True:
        job = client.get(f"{URL}/{job_id}", headers=admin).get_json()
        if job["state"] == state:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_a_dead_workers_job_reads_failed_once_its_lock_expires(
    client, services, admin, monkeypatch, fake_retrain, release
):
    monkeypatch.setattr(retrain_jobs, "LOCK_TTL_SECONDS", 0.5)
    dead = job_of_a_dead_worker(services, ttl=retrain_jobs.LOCK_TTL_SECONDS)
    deadline = time.monotonic() + DEADLINE
    while (started := client.post(URL, json={"dry_run": True}, headers=admin)).status_code == 409:
        assert time.monotonic() < deadline, "the dead worker's lock never expired"
        time.sleep(0.1)
    assert started.status_code == 202, started.text

    old = client.get(f"{URL}/{dead}", headers=admin).get_json()
    assert old["state"] == "failed" and old["error"] == retrain_jobs.WORKER_STOPPED
    assert old["finished_at"] and old["progress"] is None
    release.set()
    assert wait_for(client, started.get_json()["id"], admin, "done")["result"]["dry_run"] is True


def test_a_job_holding_the_lock_blocks_another_and_reads_running(client, services, admin):
    dead = job_of_a_dead_worker(services, ttl=30)
    busy = client.post(URL, json={}, headers=admin)
    assert busy.status_code == 409 and dead in busy.get_json()["error"]["message"]
    assert client.get(f"{URL}/{dead}", headers=admin).get_json()["state"] == "running"


def test_the_heartbeat_keeps_a_running_jobs_lock(
    client, services, admin, monkeypatch, fake_retrain, release
):
    monkeypatch.setattr(retrain_jobs, "HEARTBEAT_SECONDS", 0.05)
    started = client.post(URL, json={"dry_run": True}, headers=admin)
    assert started.status_code == 202, started.text
    job_id = started.get_json()["id"]
    lock = services.comments.keys.retrain_lock
    assert services.redis.get(lock) == job_id

    # The lock's time to live goes back up: it is renewed, not left to run out.
    deadline = time.monotonic() + DEADLINE
    previous = services.redis.pttl(lock)
    while (now := services.redis.pttl(lock)) <= previous:
        assert time.monotonic() < deadline, "the lock was never renewed"
        previous = now
        time.sleep(0.02)
    assert client.get(f"{URL}/{job_id}", headers=admin).get_json()["state"] == "running"
    assert client.post(URL, json={}, headers=admin).status_code == 409

    release.set()
    assert wait_for(client, job_id, admin, "done")["result"]["dry_run"] is True
    # The job records "done" first and then frees the lock (the other order would let a
    # reader take a running job without a lock for a dead one).
    deadline = time.monotonic() + DEADLINE
    while services.redis.get(lock) is not None:
        assert time.monotonic() < deadline, "a finished job frees the lock"
        time.sleep(0.02)
