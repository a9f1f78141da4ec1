"""Limits and flood control on comment posts, per client IP and per commenter (issue 13).

A client is an IP address (IPv6 by its /64: `address_key`) and, separately, a commenter
(the keyed email hash). Four checks, all held in Redis so they hold across workers and hosts:

- Rate limits (MODERATION_RATE_LIMIT, e.g. "10/minute;100/hour"): a moving window for each
  client, counted by the `limits` package (Flask-Limiter's storage and strategies) in
  `check_rate`, before the comment is scored. Every post that passes validation counts,
  also one refused later: the limit is on attempts.
- Flood control (MODERATION_FLOOD_INTERVAL, WordPress's 15 s): no second comment from the
  same IP or commenter within the interval;
- duplicates (MODERATION_DUPLICATE_WINDOW): the same commenter's same text (whitespace
  aside) under the same parent of the same thread is refused for a day;
- a cap on held comments (MODERATION_MAX_PENDING_PER_CLIENT per MODERATION_PENDING_WINDOW):
  one IP or one commenter adds at most so many held (pending or spam) comments to the
  queue in the window, so no client can fill Redis. A moderator's decision does not give a
  place back: the cap bounds what a client adds, which is what memory needs.

The last three are checked by the store script itself (moderation/store/lua/store_comment.lua)
before it writes anything: a refused comment stores nothing, no comment, index, flood key,
fingerprint or idempotency key (only its rate-limit hit, taken earlier, stays counted; and
it may have used an id, as a comment refused for its parent does). A replay under the same
Idempotency-Key is answered before any check (moderation/submission.py looks it up before
the rate limits, the script before its own), so a retry after a timeout gets its 201
replay, never a 429 or a 409.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis
from flask import Flask
from limits import RateLimitItem, parse_many
from limits.storage import RedisClusterStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.cluster import RedisCluster

from moderation.config import Settings
from moderation.errors import ApiError
from moderation.redis_server import cluster_client_options
from moderation.store.comments import Guard, Refused, address_key
from moderation.store.keys import Keys

# WordPress's words, which commenters of many sites know already.
TOO_FAST = "You are posting comments too quickly. Slow down."
DUPLICATE = "Duplicate comment detected; it looks as though you've already said that!"
TOO_MANY_PENDING = (
    "Too many of your comments are waiting for moderation. Nothing was stored: please try "
    "again later."
)


@dataclass(frozen=True)
class PostLimits:
    """The limits of one deployment: `check_rate` before scoring, `guard` for the store."""

    limiter: MovingWindowRateLimiter | None
    items: tuple[RateLimitItem, ...]
    guard: Guard

    def check_rate(self, ip: str | None, identity: str) -> None:
        """Count this post against the IP's and the commenter's rate limits; `Refused`
        ("rate_limited", with the seconds until a post is allowed again) when one is spent."""
        if self.limiter is None:
            return
        clients = [("commenter", identity)]
        address = address_key(ip)
        if address:
            clients.insert(0, ("ip", address))
        for item in self.items:
            for kind, client in clients:
                if not self.limiter.hit(item, "comments", kind, client):
                    reset = self.limiter.get_window_stats(item, "comments", kind, client).reset_time
                    raise Refused("rate_limited", max(1, math.ceil(reset - time.time())))


def build_limits(settings: Settings, client: redis.Redis, keys: Keys) -> PostLimits:
    """The deployment's limits, counted in its Redis (`client`'s connections) under its
    key prefix, so every worker and host shares them (and Redis Cluster's slot, via the tag)."""
    limiter = None
    items: tuple[RateLimitItem, ...] = ()
    if settings.rate_limit:
        items = tuple(parse_many(settings.rate_limit))
        prefix = f"{keys.base}:rate"
        storage: RedisStorage
        if isinstance(client, RedisCluster):
            # No pool to share: the cluster storage opens its own client to the same nodes;
            # its keys start with the deployment's tag, so they share its slot.
            url = settings.redis_url or ""
            options = cluster_client_options(url, settings.redis_timeout)
            # The storage makes its own startup nodes from every host in the URL; limits
            # before 5.8 refuses a second list ("multiple values for startup_nodes").
            del options["startup_nodes"]
            storage = RedisClusterStorage(url, key_prefix=prefix, **options)
        else:
            storage = RedisStorage(
                "redis://", connection_pool=client.connection_pool, key_prefix=prefix
            )
        limiter = MovingWindowRateLimiter(storage)
    guard = Guard(
        flood_ms=round(settings.flood_interval * 1000),
        duplicate_seconds=settings.duplicate_window,
        max_pending=settings.max_pending_per_client,
        pending_window_ms=settings.pending_window * 1000,
    )
    return PostLimits(limiter=limiter, items=items, guard=guard)


def for_app(app: Flask) -> PostLimits:
    """The app's limits, built on first use from its services."""
    found = app.extensions.get("moderation.limits")
    if found is None:
        services = app.extensions["moderation"]
        found = build_limits(services.settings, services.redis, services.comments.keys)
        # Two first requests at once build two equal objects; either one will do.
        found = app.extensions.setdefault("moderation.limits", found)
    return found


def api_error(refused: Refused) -> ApiError:
    """The answer to a refused comment: 409 for a duplicate, else 429 with Retry-After."""
    if refused.reason == "duplicate":
        return ApiError(409, DUPLICATE, code="duplicate")
    headers = {"Retry-After": str(refused.retry_after or 1)}
    if refused.reason == "too_many_pending":
        return ApiError(429, TOO_MANY_PENDING, code="too_many_pending", headers=headers)
    return ApiError(429, TOO_FAST, code="rate_limited", headers=headers)
