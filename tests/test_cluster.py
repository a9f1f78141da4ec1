"""The service on a Redis Cluster (issue 13): three masters of real redis-servers.

REDIS_URL=redis+cluster://... gives the service redis-py's RedisCluster. The first part
runs a representative set of the existing submission, queue, decision and retraining
tests unchanged, with this module's fixtures putting their app on the cluster; the second
part is the cluster's own: the URL, two deployments whose hash-tag slots sit on different
masters, every key of a deployment on its one master, the limits the store script
checks, and a dead master answered with 503 like a dead Redis.

Rate limits run on the cluster through limits' RedisClusterStorage, and a slot no node
serves (redis-py's RedisClusterException, which is no RedisError) is a 503 like a dead Redis.
"""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from redis.cluster import RedisCluster

from moderation import create_app
from moderation.config import Settings
from moderation.redis_server import cluster_startup, connect, free_port
from moderation.store.keys import Keys
from tests import test_faults as faults_tests
from tests import test_limits as limits_tests
from tests import test_metrics as metrics_tests
from tests import test_moderate_session as session_tests
from tests import test_queue as queue_tests
from tests import test_retrain_lock as lock_tests
from tests import test_retraining as retraining_tests
from tests import test_review as review_tests
from tests import test_review_concurrency as concurrency_tests
from tests import test_submission as submission_tests
from tests.cluster import Cluster, running_cluster
from tests.conftest import comment, stored_keys

# The fixtures of tests/test_retrain_lock.py, for its tests run below.
from tests.test_retrain_lock import admin, fake_retrain, release  # noqa: F401


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as started:
        yield started


@pytest.fixture
def redis_url(cluster: Cluster) -> str:
    """conftest's `settings` (and so `app`, `client`, `live`, `services`) on the cluster."""
    return cluster.url


@pytest.fixture
def sites(cluster: Cluster) -> tuple[str, str]:
    """Two deployments' key prefixes, fresh per test, whose slots are on different masters."""
    first, second = cluster.prefixes_on_distinct_masters(f"test-{uuid.uuid4().hex[:8]}")
    assert cluster.master_of(first) != cluster.master_of(second)
    return first, second


@pytest.fixture
def settings(settings: Settings, sites: tuple[str, str]) -> Settings:
    return dataclasses.replace(settings, key_prefix=sites[0])


def run_existing(test: Callable[..., None], request: pytest.FixtureRequest) -> None:
    """Run an existing test function with its fixtures as this module resolves them."""
    test(**{name: request.getfixturevalue(name) for name in inspect.signature(test).parameters})


def named(tests: list[Callable[..., None]]) -> dict[str, object]:
    return {"argvalues": tests, "ids": [test.__name__.removeprefix("test_") for test in tests]}


# --- the existing tests, on the cluster ----------------------------------------------


class TestSubmission:
    @pytest.mark.parametrize(
        "test",
        **named(
            [
                submission_tests.test_ordinary_comment_is_published_and_listed,
                submission_tests.test_honeypot_is_spam_but_answered_like_pending,
                submission_tests.test_obvious_spam_is_not_published,
                submission_tests.test_replies_nest_under_their_parent_oldest_first,
                submission_tests.test_parent_must_exist_in_the_same_thread,
                submission_tests.test_reply_chains_stop_at_the_depth_limit,
                submission_tests.test_thread_is_paginated_by_cursor,
                submission_tests.test_thread_ids_with_slashes_and_unicode,
                faults_tests.test_idempotency_key_stores_a_submission_once,
                faults_tests.test_a_root_with_many_replies_is_paged,
                faults_tests.test_migration_builds_the_thread_uncertainty_index,
            ]
        ),
    )
    def test_on_the_cluster(self, test, request):
        run_existing(test, request)


class TestQueue:
    @pytest.fixture
    def settings(self, settings):
        return dataclasses.replace(settings, spam_above=0.99)  # as tests/test_queue.py

    @pytest.fixture
    def moderator(self, services):
        return review_tests.bearer(services, "Ada")

    @pytest.mark.parametrize(
        "test",
        **named(
            [
                queue_tests.test_pending_items_carry_what_a_moderator_needs,
                queue_tests.test_oldest_newest_and_pagination,
                queue_tests.test_filter_by_status_and_thread,
                queue_tests.test_uncertain_order_puts_scores_nearest_the_boundary_first,
                queue_tests.test_uncertain_cursor_is_exact_across_equal_scores,
                faults_tests.test_a_threads_uncertain_queue_ranks_every_member,
                metrics_tests.test_queue_depth_equals_the_store_and_the_model_version_is_shown,
            ]
        ),
    )
    def test_on_the_cluster(self, test, request):
        run_existing(test, request)


class TestReview:
    @pytest.fixture
    def settings(self, settings):
        return dataclasses.replace(settings, spam_above=0.99)  # as tests/test_review.py

    @pytest.fixture
    def ada(self, services):
        return review_tests.bearer(services, "Ada")

    @pytest.fixture
    def ben(self, services):
        return review_tests.bearer(services, "Ben")

    @pytest.mark.parametrize(
        "test",
        **named(
            [
                review_tests.test_claims_take_the_oldest_and_hide_them_from_other_moderators,
                review_tests.test_claim_order_thread_and_status_filters,
                review_tests.test_claim_by_ids_reports_what_it_could_not_claim,
                review_tests.test_an_expired_lease_gives_the_comment_back,
                review_tests.test_release_gives_it_back_early,
                review_tests.test_queue_listing_shows_who_holds_a_claim,
                review_tests.test_approve_publishes_into_the_thread,
                review_tests.test_deciding_twice_changes_and_counts_nothing,
                review_tests.test_a_comment_claimed_by_someone_else_answers_409,
                review_tests.test_take_down_and_rescue_with_the_same_verbs,
                review_tests.test_an_approved_reply_nests_under_its_parent,
                review_tests.test_bulk_decisions_report_each_comment,
                review_tests.test_stats_count_decisions_per_moderator_and_the_queue_over_time,
                review_tests.test_audit_is_for_admins,
                review_tests.test_confirming_what_the_machine_decided_is_a_decision_once,
                metrics_tests.test_decisions_are_counted_by_action_and_outcome,
            ]
        ),
    )
    def test_on_the_cluster(self, test, request):
        run_existing(test, request)

    def test_ten_moderators_never_share_an_item(self, request):
        # Default thresholds, as in its own module: the comments are seeded, not scored.
        run_existing(concurrency_tests.test_ten_moderators_over_http_never_share_an_item, request)


class TestModeratorSessions:
    @pytest.fixture
    def settings(self, settings):
        return dataclasses.replace(settings, spam_above=1.0)  # as tests/test_moderate_session.py

    @pytest.fixture
    def ada(self, services):
        return services.tokens.create("Ada", "moderator")

    @pytest.fixture
    def signed_in(self, client, ada):
        assert session_tests.sign_in(client, ada[0]).status_code == 303
        page = client.get("/moderate").get_data(as_text=True)
        return client, session_tests.page_csrf(page)

    @pytest.mark.parametrize(
        "test",
        **named(
            [
                session_tests.test_signing_in_keeps_the_digest_never_the_token,
                session_tests.test_signing_out_ends_the_session_for_every_copy_of_the_cookie,
                session_tests.test_failed_sign_ins_are_limited_per_address,
            ]
        ),
    )
    def test_on_the_cluster(self, test, request):
        run_existing(test, request)


class TestRetraining:
    @pytest.mark.parametrize(
        "test",
        **named(
            [
                retraining_tests.test_the_default_model_is_the_first_active_version,
                retraining_tests.test_model_list_json_is_the_fixed_contract,
                retraining_tests.test_a_tampered_model_is_refused_and_the_workers_keep_theirs,
                retraining_tests.test_a_candidate_trained_on_mislabeled_data_is_not_promoted,
                retraining_tests.test_admin_retrain_runs_in_the_background,
                retraining_tests.test_every_decision_carries_the_model_version_that_scored_it,
                retraining_tests.test_the_registry_keeps_what_rollback_and_the_gate_need,
                lock_tests.test_a_dead_workers_job_reads_failed_once_its_lock_expires,
                lock_tests.test_a_job_holding_the_lock_blocks_another_and_reads_running,
                lock_tests.test_the_heartbeat_keeps_a_running_jobs_lock,
            ]
        ),
    )
    def test_on_the_cluster(self, test, request):
        run_existing(test, request)

    @pytest.mark.slow
    def test_decisions_teach_a_new_kind_of_spam_and_rollback_undoes_it(self, request):
        # `moderation serve` with two workers, `retrain` and `model rollback`, all given
        # REDIS_URL=redis+cluster://...
        run_existing(
            retraining_tests.test_decisions_teach_a_new_kind_of_spam_and_rollback_undoes_it,
            request,
        )


# --- the cluster's own -----------------------------------------------------------------


def test_a_cluster_url_gives_a_cluster_client_that_finds_every_master(cluster):
    client = connect(cluster.url)
    assert isinstance(client, RedisCluster)
    assert sorted(node.port for node in client.get_primaries()) == sorted(
        node.port for node in cluster.nodes
    )
    # One node is enough to find the others, and a dead first node is passed over.
    last = connect(f"redis+cluster://127.0.0.1:{cluster.nodes[-1].port}")
    assert len(last.get_primaries()) == 3
    dead_first = connect(
        f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{cluster.nodes[0].port}"
    )
    assert dead_first.ping() is True
    # Anything else stays one Redis, connected lazily as before.
    assert type(connect(f"redis://127.0.0.1:{free_port()}/0")) is redis.Redis


def test_an_unreachable_cluster_is_a_redis_connection_error():
    with pytest.raises(redis.ConnectionError, match="cannot be connected"):
        connect(f"redis+cluster://127.0.0.1:{free_port()}", timeout=1)


def test_the_cluster_url_carries_password_tls_and_options_to_every_node():
    first, others = cluster_startup(
        "rediss+cluster://:s%40cret@db-1:7000,db-2:7001,[::1]:7002/0?ssl_cert_reqs=none"
    )
    assert first == "rediss://:s%40cret@db-1:7000/0?ssl_cert_reqs=none"
    assert others == [("db-2", 7001), ("::1", 7002)]
    for bad in ("redis+cluster://", "redis+cluster://db-1", "redis+cluster://:7000"):
        with pytest.raises(ValueError):
            cluster_startup(bad)


def tagged_keys_by_master(cluster: Cluster, prefix: str) -> dict[int, set[str]]:
    """Where the keys of one deployment are: master port -> its keys under the prefix."""
    base = Keys(prefix).base
    return {
        node.port: {key for key in cluster.keys_on(node.port) if key.startswith(base)}
        for node in cluster.nodes
    }


def test_two_sites_on_different_masters_work_and_keep_apart(
    cluster, sites, settings, client, services, tmp_path: Path
):
    other_app = create_app(  # spam_above as tests/test_review.py: LINKS is held, not spam
        dataclasses.replace(
            settings, key_prefix=sites[1], data_dir=tmp_path / "other", spam_above=0.99
        )
    )
    other, other_services = other_app.test_client(), other_app.extensions["moderation"]
    thread = "news/2026/city-budget"
    here = review_tests.post(client, content="Written on the first site.")
    there = review_tests.post(other, content="Written on the second site.")
    there_held = review_tests.post(
        other, content=f"{review_tests.LINKS} (held)", email="held@example.org"
    )
    assert there_held["status"] == "pending"

    def listed(c) -> list[str]:
        items = c.get(f"/api/v1/threads/{thread}/comments").get_json()["items"]
        return [item["content"] for item in items]

    assert listed(client) == ["<p>Written on the first site.</p>"]
    assert listed(other) == ["<p>Written on the second site.</p>"]
    # Each deployment counts its own ids and sees only its own comments and tokens.
    assert here["id"] == there["id"] == 1
    assert services.comments.get(there_held["id"]) is None
    ada_here = review_tests.bearer(services, "Ada")
    ada_there = review_tests.bearer(other_services, "Ada")
    assert other.get("/api/v1/moderation/queue", headers=ada_here).status_code == 401
    assert client.get("/api/v1/moderation/queue", headers=ada_here).get_json()["items"] == []
    queue = other.get("/api/v1/moderation/queue", headers=ada_there).get_json()["items"]
    assert [item["id"] for item in queue] == [there_held["id"]]
    decided = review_tests.decide(other, ada_there, there_held["id"], "spam")
    assert decided.status_code == 200, decided.text
    assert services.training_log.labeled_examples() == []
    assert len(other_services.training_log.labeled_examples()) == 1

    # Every key of a deployment, its model registry included, is on its slot's master.
    for prefix, svc in ((sites[0], services), (sites[1], other_services)):
        where = tagged_keys_by_master(cluster, prefix)
        home = cluster.master_of(prefix)
        assert set(stored_keys(svc)) <= where[home]
        assert Keys(prefix).active_model in where[home]
        assert all(not keys for port, keys in where.items() if port != home), where


def test_the_store_scripts_limits_hold_on_the_cluster(settings):
    # Flood control, duplicates and the cap on held comments are checked by the store
    # script on the deployment's one slot (moderation/limits.py; rate limits: below).
    post, refused = limits_tests.post, limits_tests.assert_refused
    flood, _ = limits_tests.limited(settings, flood_interval=3600)
    client = flood.test_client()
    assert post(client, content="First.").status_code == 201
    refused(post(client, ip="198.51.100.9", content="Second, from elsewhere."), 429, "rate_limited")

    duplicates, _ = limits_tests.limited(settings, duplicate_window=86_400)
    client = duplicates.test_client()
    assert post(client, content="Said once.", thread="news/dup").status_code == 201
    refused(post(client, content="Said once.", thread="news/dup"), 409, "duplicate")

    # The thresholds as in the test_limits.py twin: only the link rule holds the comment.
    capped, services = limits_tests.limited(
        settings, max_pending_per_client=1, publish_below=1.0, spam_above=1.0
    )
    client = capped.test_client()
    held = post(client, content=limits_tests.HELD, thread="news/cap")
    assert held.status_code == 201 and held.get_json()["status"] == "pending"
    again = post(client, email="b@example.org", content=f"{limits_tests.HELD} 2", thread="news/cap")
    refused(again, 429, "too_many_pending")
    assert services.comments.count("pending") == 1


def test_rate_limits_on_the_cluster(settings):
    app, _ = limits_tests.limited(settings, rate_limit="2/minute")
    client = app.test_client()
    for n in range(2):
        assert limits_tests.post(client, content=f"Comment {n}.").status_code == 201
    limits_tests.assert_refused(
        limits_tests.post(client, content="One too many."), 429, "rate_limited"
    )


def test_a_dead_master_is_503_like_a_dead_redis(settings, tmp_path: Path):
    # A cluster of its own: this one loses a master.
    with running_cluster(tmp_path / "doomed") as doomed:
        app = create_app(dataclasses.replace(settings, redis_url=doomed.url))
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        assert client.post("/api/v1/comments", json=comment()).status_code == 201
        victim = next(n for n in doomed.nodes if n.port == doomed.master_of(settings.key_prefix))
        victim.process.kill()
        victim.process.wait()
        r = client.post("/api/v1/comments", json=comment(content="After the master died."))
        assert r.status_code == 503, r.get_data(as_text=True)
        assert r.get_json()["error"]["code"] == "storage_unavailable"
        assert int(r.headers["Retry-After"]) > 0
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["redis"] == "ConnectionError"


@pytest.fixture
def uncovered(settings, tmp_path: Path) -> Iterator[tuple[Flask, Cluster]]:
    """An app on a cluster of its own that then stops serving the app's slots (its master's
    slots deleted everywhere): redis-py answers RedisClusterException, not a RedisError."""
    with running_cluster(tmp_path / "uncovered") as lost:
        app = create_app(dataclasses.replace(settings, redis_url=lost.url))
        assert app.test_client().post("/api/v1/comments", json=comment()).status_code == 201
        home = next(n for n in lost.nodes if n.port == lost.master_of(settings.key_prefix))
        for node in lost.nodes:
            with node.client() as client:
                client.execute_command("CLUSTER DELSLOTS", *home.slots)
        yield app, lost


def test_metrics_answer_while_the_cluster_lacks_the_slot(uncovered):
    app, _ = uncovered
    found, _ = metrics_tests.scrape(app.test_client())
    assert metrics_tests.value(found, "moderation_storage_up") == 0


def test_a_slot_no_node_serves_is_503(uncovered):
    app, _ = uncovered
    client = app.test_client()
    r = client.post("/api/v1/comments", json=comment(content="While the slot is lost."))
    assert r.status_code == 503, r.get_data(as_text=True)
    assert client.get("/readyz").status_code == 503


# --- several sites of one deployment, spread over the masters ------------------------


def test_sites_of_one_deployment_spread_over_the_masters(cluster, settings, client, services):
    """`{prefix:site}` tags: one deployment's sites land on different masters, and the
    submission, queue, decision and retraining paths work on each."""
    prefix = settings.key_prefix
    by_master: dict[int, str] = {}
    for n in range(10_000):
        site_id = f"site-{n}"
        by_master.setdefault(cluster.master_of(f"{prefix}:{site_id}"), site_id)
        if len(by_master) == len(cluster.nodes):
            break
    assert len(by_master) == 3
    token, _ = services.tokens.create("Root", "admin")
    admin_headers = {"Authorization": f"Bearer {token}"}
    for site_id in by_master.values():
        # Everything is held: the queue and the decisions are what is under test.
        r = client.post(
            "/api/v1/admin/sites",
            json={"id": site_id, "publish_below": 0.0, "spam_above": 0.999},
            headers=admin_headers,
        )
        assert r.status_code == 201, r.get_json()
        r = client.patch(
            f"/api/v1/admin/sites/{site_id}", json={"max_links": 3}, headers=admin_headers
        )
        assert r.status_code == 200, r.get_json()  # WATCH/MULTI on the cluster

    posted = {}
    for master, site_id in by_master.items():
        body = {**comment(content=f"A question for {site_id} about the budget."), "site": site_id}
        r = client.post("/api/v1/comments", json=body)
        assert r.status_code == 201, r.get_json()
        posted[site_id] = r.get_json()["id"]
        queue = client.get(f"/api/v1/moderation/queue?site={site_id}", headers=admin_headers)
        assert [i["id"] for i in queue.get_json()["items"]] == [posted[site_id]]
        claim = client.post(
            f"/api/v1/moderation/claims?site={site_id}", json={"limit": 5}, headers=admin_headers
        )
        assert [i["id"] for i in claim.get_json()["items"]] == [posted[site_id]]
        decided = client.post(
            f"/api/v1/moderation/comments/{posted[site_id]}/decision?site={site_id}",
            json={"action": "approve"},
            headers=admin_headers,
        )
        assert decided.status_code == 200 and decided.get_json()["status"] == "published"
        again = client.post(
            f"/api/v1/moderation/comments/{posted[site_id]}/decision?site={site_id}",
            json={"action": "approve"},
            headers=admin_headers,
        )
        assert again.get_json()["already_decided"] is True
        # The site's keys, its training log among them, all live on its own master.
        base = Keys(prefix, site_id).base
        on_master = {k for k in cluster.keys_on(master) if k.startswith(base)}
        assert Keys(prefix, site_id).comment(posted[site_id]) in on_master
        assert Keys(prefix, site_id).training_log in on_master
        for other in cluster.nodes:
            if other.port != master:
                assert not [k for k in cluster.keys_on(other.port) if k.startswith(base)]

    # One model learns from every site's decisions.
    labeled = [ex for log in services.training_logs() for ex in log.labeled_examples()]
    assert len(labeled) == 3
    listing = client.get("/api/v1/admin/sites", headers=admin_headers).get_json()["items"]
    counts = {s["id"]: s["counts"]["published"] for s in listing}
    assert all(counts[site_id] == 1 for site_id in by_master.values())
