"""Learning from moderators: the registry, gated promotion, hot reload and rollback."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import redis
import requests

from classifier.corpus import load_seed_corpus
from classifier.split import split
from moderation.redis_server import free_port
from moderation.store.keys import Keys
from moderation.store.models import RegistryError
from moderation.store.tokens import TokenStore
from tests.conftest import comment, run_cli, tamper

# A kind of spam the default model lets through: friendly words that advertise one name.
NEW_SPAM = [
    "Loved this piece. I read all my news with zorbex now, zorbex makes it so easy",
    "Great reporting as always. Zorbex readers will enjoy this one too",
    "Interesting take on the budget. My friends at zorbex were talking about this",
    "This matches what I heard on the zorbex podcast last week, good article",
    "Nice article about the council, the zorbex community agrees",
    "Thanks for writing this. Shared it with everyone on zorbex",
    "Good summary. Zorbex has a great discussion about it as well",
    "Well said. Zorbex members would love this article",
]
ROUNDS = 5
PROBE = {"content": "Such a good article, zorbex fans will love it", "author": "Tom", "url": ""}


def cli_env(settings, **extra: str) -> dict[str, str]:
    return {
        "REDIS_URL": settings.redis_url,
        "MODERATION_KEY_PREFIX": settings.key_prefix,
        "MODERATION_DATA_DIR": str(settings.data_dir),
        "MODERATION_MODEL_PATH": str(settings.model_path),
        "MODERATION_SECRET_KEY": settings.secret_key,
        **extra,
    }


def test_the_default_model_is_the_first_active_version(client, services):
    (entry,) = services.models.entries()
    assert entry.version == services.model.version == services.models.active_version()
    assert entry.metrics["n"] == len(split(load_seed_corpus())[1])
    assert client.get("/healthz").get_json()["model_version"] == entry.version


def test_model_list_json_is_the_fixed_contract(services, settings):
    result = run_cli("model", "list", "--json", env=cli_env(settings))
    assert result.returncode == 0, result.stderr
    (item,) = json.loads(result.stdout)
    assert item["version"] == services.model.version
    assert item["active"] is True
    assert {"created_at", "metrics"} <= item.keys() and item["metrics"]["f1"] > 0.8


def test_a_model_file_that_does_not_match_its_checksum_is_refused(services, tmp_path):
    registry, keys = services.models, services.comments.keys
    version = services.model.version
    stored = base64.b64decode(services.redis.get(keys.model_file(version)))
    services.redis.set(keys.model_file(version), base64.b64encode(stored + b"x").decode())
    with pytest.raises(RegistryError, match="checksum"):
        registry.load(version, tmp_path)


def test_a_tampered_model_is_refused_and_the_workers_keep_theirs(services, tmp_path, model_path):
    # Register a version whose file smuggles in a type, with a matching checksum, then
    # make it active: the worker's reload refuses it and keeps scoring with its model.
    bad = tamper(model_path, tmp_path / "bad.skops").read_bytes()
    entry = services.models.entry(services.model.version)
    forged = {**entry.__dict__, "version": "forged", "sha256": hashlib.sha256(bad).hexdigest()}
    keys = services.comments.keys
    services.redis.hset(keys.models, "forged", json.dumps(forged))
    services.redis.set(keys.model_file("forged"), base64.b64encode(bad).decode())
    before = services.model
    services.models.promote("forged")
    services.model_watch.poll(services, wait=True)
    assert services.model is before
    assert "forged" in services.model_watch.refused


def test_a_candidate_trained_on_mislabeled_data_is_not_promoted(services, settings, tmp_path):
    train, _ = split(load_seed_corpus())
    flipped = tmp_path / "flipped.jsonl"
    with flipped.open("w") as fh:
        for example in train * 2:
            label = "ham" if example.label else "spam"
            fh.write(json.dumps({"content": example.content, "label": label}) + "\n")
    active = services.models.active_version()
    result = run_cli("retrain", "--data", str(flipped), "--json", env=cli_env(settings))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["promoted"] is False
    assert any("F1 on spam fell" in reason for reason in report["reasons"])
    assert report["candidate_metrics"]["f1"] < report["current_metrics"]["f1"]
    assert services.models.active_version() == active
    assert services.models.entry(report["candidate"]).status == "refused"


def test_retrain_without_new_labels_has_nothing_to_promote(services, settings):
    result = run_cli("retrain", "--dry-run", env=cli_env(settings))
    assert result.returncode == 0, result.stderr
    assert "nothing new to learn" in result.stdout


def test_admin_retrain_runs_in_the_background(client, services):
    admin = {"Authorization": "Bearer " + services.tokens.create("Root", "admin")[0]}
    moderator = {"Authorization": "Bearer " + services.tokens.create("Ada", "moderator")[0]}
    url = "/api/v1/admin/model/retrain"
    assert client.post(url, json={}, headers=moderator).status_code == 403
    # While another worker's job holds the deployment's lock, a second one is refused.
    services.redis.set(services.comments.keys.retrain_lock, "job-elsewhere")
    busy = client.post(url, json={}, headers=admin)
    assert busy.status_code == 409 and "job-elsewhere" in busy.get_json()["error"]["message"]
    services.redis.delete(services.comments.keys.retrain_lock)
    for text in NEW_SPAM:  # something new to learn, so the job really trains
        posted = client.post("/api/v1/comments", json=comment(content=text)).get_json()
        client.post(
            f"/api/v1/moderation/comments/{posted['id']}/decision",
            json={"action": "spam"},
            headers=moderator,
        )
    started = client.post(url, json={"dry_run": True}, headers=admin)
    assert started.status_code == 202, started.text
    job = started.get_json()
    deadline = time.monotonic() + 120
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
        job = client.get(f"{url}/{job['id']}", headers=admin).get_json()
    assert job["state"] == "done", job
    result = job["result"]
    assert result["dry_run"] is True and result["promoted"] is False
    assert result["candidate"] and result["training"]["training_log"] > 0
    assert {"f1", "ham_marked_spam_rate"} <= result["candidate_metrics"].keys()
    assert client.get(f"{url}/nope", headers=admin).status_code == 404
    # A dry run registers nothing.
    listing = client.get("/api/v1/admin/models", headers=admin).get_json()
    assert [m["version"] for m in listing["items"]] == [services.model.version]


# -- the whole loop, on a running multi-worker server -------------------------------


def serve(settings, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **cli_env(settings, MODERATION_MODEL_CHECK_SECONDS="0.5")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moderation", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, "serve exited"
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "serve did not start"
        time.sleep(0.2)


def all_workers_on(base: str, version: str, timeout: float = 30) -> None:
    """Twenty answers in a row from the new version: both workers have switched."""
    deadline, streak = time.monotonic() + timeout, 0
    while streak < 20:
        assert time.monotonic() < deadline, f"workers did not switch to {version}"
        seen = requests.get(base + "/healthz", timeout=5).json()["model_version"]
        streak = streak + 1 if seen == version else 0
        time.sleep(0.02)


def probe_score(base: str, client: redis.Redis, keys: Keys) -> float:
    body = comment(**PROBE, email="probe@example.org")
    posted = requests.post(base + "/api/v1/comments", json=body, timeout=10)
    assert posted.status_code == 201, posted.text
    return float(client.hget(keys.comment(posted.json()["id"]), "score"))


@pytest.mark.slow
def test_decisions_teach_a_new_kind_of_spam_and_rollback_undoes_it(settings, services):
    port = free_port()
    proc = serve(settings, port)
    base = f"http://127.0.0.1:{port}"
    keys = services.comments.keys
    token, _ = TokenStore(services.redis, keys).create("Ada", "moderator")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        old_version = requests.get(base + "/healthz", timeout=5).json()["model_version"]
        before = probe_score(base, services.redis, keys)
        # The new spam gets through; moderators take it down, five times over.
        for n in range(ROUNDS):
            for i, text in enumerate(NEW_SPAM):
                body = comment(
                    content=f"{text} ({n})", author=f"Reader {n}{i}", email=f"z{n}{i}@example.org"
                )
                posted = requests.post(base + "/api/v1/comments", json=body, timeout=10).json()
                decided = requests.post(
                    f"{base}/api/v1/moderation/comments/{posted['id']}/decision",
                    json={"action": "spam"},
                    headers=headers,
                    timeout=10,
                )
                assert decided.status_code == 200, decided.text
        labels = services.training_log.labeled_examples()
        assert sum(ex.label for ex in labels) == len(labels) == ROUNDS * len(NEW_SPAM)

        result = run_cli("retrain", "--json", env=cli_env(settings))
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["promoted"] is True, report["reasons"]
        all_workers_on(base, report["candidate"])
        after = probe_score(base, services.redis, keys)
        # Published before; now held back from the page.
        assert before < settings.publish_below <= after, (before, after)

        rolled = run_cli("model", "rollback", env=cli_env(settings))
        assert rolled.returncode == 0, rolled.stderr
        all_workers_on(base, old_version)
        assert probe_score(base, services.redis, keys) == pytest.approx(before, abs=1e-6)
        listing = json.loads(run_cli("model", "list", "--json", env=cli_env(settings)).stdout)
        assert [m["version"] for m in listing if m["active"]] == [old_version]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_every_decision_carries_the_model_version_that_scored_it(client, services):
    posted = client.post("/api/v1/comments", json=comment()).get_json()
    admin = {"Authorization": "Bearer " + services.tokens.create("Root", "admin")[0]}
    client.post(
        f"/api/v1/moderation/comments/{posted['id']}/decision",
        json={"action": "reject"},
        headers=admin,
    )
    (entry,) = [e for _, e in services.training_log.entries()]
    assert entry.model_version == services.model.version
    assert entry.label == "rejected"


def test_the_registry_keeps_what_rollback_and_the_gate_need(services):
    registry = services.models
    first = services.model
    for n in range(4):
        metadata = {**first.metadata, "version": f"v{n}", "created_at": f"2099-01-0{n + 1}"}
        registry.register(
            type(first)(estimator=first.estimator, metadata=metadata),
            status="refused" if n % 2 else "registered",
        )
    registry.promote("v0")
    # v0 is active and the first model is what rollback returns to; v3 is the newest.
    assert registry.prune(keep=1) == ["v1", "v2"]
    assert [e.version for e in registry.entries()] == [first.version, "v0", "v3"]
    assert services.redis.exists(services.comments.keys.model_file("v1")) == 0
    assert registry.rollback() == first.version
