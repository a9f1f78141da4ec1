"""Prometheus metrics at /metrics: requests, submissions, decisions, scoring, queue depth.

Under `moderation serve` every gunicorn worker counts into files of its own in the
directory PROMETHEUS_MULTIPROC_DIR names (made fresh per run by moderation.server), and a
scrape, whichever worker answers it, adds up all of them. Without it (tests, the Flask dev
server) each app counts in a registry of its own, so two apps in one process never mix.

Labels are bounded by construction: the URL rule, never the raw path; a known method or
"OTHER"; outcomes and actions from fixed sets. Nothing about a commenter (email, IP, name,
thread) is ever a label, and neither is a secret.

What is read from Redis (queue depth) and the model version are computed when scraped, by
the answering worker: a gauge written by each worker would be stale or counted twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from moderation.config import Settings
from moderation.errors import STORAGE_ERRORS, storage_error_kind
from moderation.store.keys import STATUSES

log = logging.getLogger(__name__)

PATH = "/metrics"
EXTENSION = "moderation.metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # the route label of requests no URL rule matched (404, 405)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SUBMISSION_OUTCOMES = ("published", "pending", "spam")
DECISION_ACTIONS = ("approve", "reject", "spam")
DECISION_OUTCOMES = ("decided", "already_decided", "conflict", "not_found")
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORING_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def use_multiprocess_values() -> None:
    """Make metrics created from now on count into PROMETHEUS_MULTIPROC_DIR's files.

    prometheus_client picks its value class once, when it is first imported: imported
    before `moderation serve` set the variable, every worker would count alone and a
    scrape would show one worker's share, silently.
    """
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()


class LiveCollector:
    """Queue depth per status (ZCARD of each status index, one round trip) and the model
    version, read when scraped. A Redis failure leaves the depth out and says so in
    `moderation_storage_up`: the rest of the scrape must still be answered."""

    def __init__(self, services: Callable[[], Any]) -> None:
        self._services = services

    def describe(self) -> Iterator[Metric]:
        # Without it the registry would collect (call Redis) just to learn the names.
        yield GaugeMetricFamily("moderation_queue_depth", "", labels=["site", "status"])
        yield GaugeMetricFamily("moderation_storage_up", "")
        yield InfoMetricFamily("moderation_model", "")

    def collect(self) -> Iterator[Metric]:
        svc = self._services()
        up = GaugeMetricFamily(
            "moderation_storage_up", "1 if this scrape could read the queue depth from Redis"
        )
        try:
            sites = [site.id for site in svc.sites.all()]
            pipe = svc.redis.pipeline(transaction=False)
            for site in sites:
                keys = svc.stores(site).keys
                for status in STATUSES:
                    # The same index CommentStore.count reads.
                    pipe.zcard(keys.status(status))
            counts = iter(pipe.execute())
        except STORAGE_ERRORS as exc:
            log.warning("metrics: queue depth unavailable, Redis %s", storage_error_kind(exc))
            up.add_metric([], 0)
        else:
            depth = GaugeMetricFamily(
                "moderation_queue_depth",
                "Comments stored per site and status",
                labels=["site", "status"],
            )
            for site in sites:
                for status in STATUSES:
                    depth.add_metric([site, status], int(next(counts)))
            yield depth
            up.add_metric([], 1)
        yield up
        model = getattr(svc, "model", None)
        if model is not None:
            yield InfoMetricFamily(
                "moderation_model",
                "The model this worker scores with",
                value={"version": str(model.version)},
            )


class Metrics:
    """One app's metrics. With `multiprocess_dir`, values live in that directory's files
    (use_multiprocess_values must have run) and a scrape merges every process's files."""

    def __init__(self, services: Callable[[], Any], multiprocess_dir: str | None = None) -> None:
        own = None if multiprocess_dir else CollectorRegistry()
        self.requests = Counter(
            "moderation_http_requests",
            "HTTP requests answered, by method, URL rule and status",
            ["method", "route", "status"],
            registry=own,
        )
        self.request_seconds = Histogram(
            "moderation_http_request_duration_seconds",
            "Time from the first hook to the finished response, by method and URL rule",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=own,
        )
        self.submissions = Counter(
            "moderation_comments_submitted",
            "Comments stored, by the status they were routed to (replays not counted)",
            ["outcome"],
            registry=own,
        )
        self.decisions = Counter(
            "moderation_decisions",
            "Moderators' decisions, by action and outcome",
            ["action", "outcome"],
            registry=own,
        )
        self.scoring_seconds = Histogram(
            "moderation_scoring_duration_seconds",
            "Time the classifier takes to score one comment",
            buckets=SCORING_BUCKETS,
            registry=own,
        )
        # Zeros from the start: a rate over a series that appears mid-way misses its first step.
        for outcome in SUBMISSION_OUTCOMES:
            self.submissions.labels(outcome)
        for action in DECISION_ACTIONS:
            for outcome in DECISION_OUTCOMES:
                self.decisions.labels(action, outcome)
        if own is None:
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry, path=multiprocess_dir)
        else:
            self.registry = own
        self.registry.register(LiveCollector(services))  # type: ignore[arg-type]

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The metrics and their content type, in the format `accept` asks for (as
        prometheus_client's own server does: OpenMetrics or the classic text format)."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


def current() -> Metrics | None:
    """This app's metrics, or None when MODERATION_METRICS=0."""
    return current_app.extensions.get(EXTENSION)


def count_submission(outcome: str) -> None:
    metrics = current()
    if metrics is not None:
        metrics.submissions.labels(outcome).inc()


def count_decisions(decisions: Iterable[Any]) -> None:
    """Each moderation.store.review.Decision (its `action` and `outcome`) once."""
    metrics = current()
    if metrics is not None:
        for decision in decisions:
            metrics.decisions.labels(decision.action, decision.outcome).inc()


Model = TypeVar("Model")


class _TimedModel:
    """The model, with `score` timed. Only `score`: rules, explanations and Redis belong
    to the request's own latency."""

    __slots__ = ("_model", "_histogram")

    def __init__(self, model: Any, histogram: Histogram) -> None:
        self._model = model
        self._histogram = histogram

    def score(self, features: dict[str, str]) -> float:
        started = time.perf_counter()
        try:
            return self._model.score(features)
        finally:
            self._histogram.observe(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def timed(model: Model) -> Model:
    """`model` with its scoring time measured (itself when metrics are off)."""
    metrics = current()
    if metrics is None:
        return model
    return _TimedModel(model, metrics.scoring_seconds)  # type: ignore[return-value]


def _started() -> None:
    g._metrics_started = time.perf_counter()


def _finished(response: Response) -> Response:
    metrics = current()
    started = g.pop("_metrics_started", None)
    if metrics is None:
        return response
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "OTHER"
    metrics.requests.labels(method, route, str(response.status_code)).inc()
    if started is not None:
        metrics.request_seconds.labels(method, route).observe(time.perf_counter() - started)
    return response


def _metrics_view() -> Response:
    metrics = current()
    assert metrics is not None  # the route exists only with metrics on
    body, content_type = metrics.exposition(request.headers.get("Accept"))
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def init_app(app: Flask, settings: Settings) -> Metrics | None:
    """Count this app's requests and serve /metrics (text, outside the OpenAPI spec).

    Call it before other request hooks are registered, so that the timing covers them.
    """
    if not settings.metrics:
        return None
    path = os.environ.get(MULTIPROC_ENV) or None
    if path is not None:
        use_multiprocess_values()
    metrics = Metrics(lambda: app.extensions["moderation"], multiprocess_dir=path)
    app.extensions[EXTENSION] = metrics
    app.before_request(_started)
    app.after_request(_finished)
    app.add_url_rule(PATH, "metrics", _metrics_view, methods=["GET"])
    return metrics
