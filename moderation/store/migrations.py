"""Bring a deployment's data up to the key layout this version reads.

Each step is additive and safe to run again, on a live deployment, from several hosts at
once: the version number is only raised after the step has finished.
"""

from __future__ import annotations

import logging

from moderation.store.client import RedisClient
from moderation.store.keys import STATUSES, Keys

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_BATCH = 1000


def migrate(client: RedisClient, keys: Keys) -> int:
    """Run the steps this deployment has not had yet; the schema version it is at now."""
    current = int(client.get(keys.schema_version) or 1)
    if current < 2:
        moved = _index_thread_uncertainty(client, keys)
        log.info("migration 2: indexed %d comments by thread and uncertainty", moved)
        current = 2
        client.set(keys.schema_version, current)
    return current


def _index_thread_uncertainty(client: RedisClient, keys: Keys) -> int:
    # Version 2 ranks a thread's queue by uncertainty from its own index (it used to rank
    # at most 5,000 members in memory): fill it from the deployment-wide one.
    done = 0
    for status in STATUSES:
        source = keys.uncertainty(status)
        start = 0
        while True:
            rows = client.zrange(source, start, start + _BATCH - 1, withscores=True)
            if not rows:
                break
            start += len(rows)
            pipe = client.pipeline(transaction=False)
            for member, _ in rows:
                pipe.hmget(keys.comment(int(member)), "thread", "status")
            found = pipe.execute()
            pipe = client.pipeline(transaction=False)
            for (member, distance), (thread, now) in zip(rows, found, strict=True):
                # A comment decided meanwhile is in its new status's index already.
                if thread is not None and now == status:
                    pipe.zadd(keys.thread_uncertainty(thread, status), {member: distance})
                    done += 1
            pipe.execute()
    return done
