"""What the store runs on: one Redis, or a Redis Cluster through redis-py's `RedisCluster`.

Every key of a deployment carries the same hash tag (see keys.py), so each script, each
MULTI and each pipeline touches one slot, on one node, and the store's code is the same on
both. Two things differ, both in redis-py's cluster pipeline rather than in Redis: it
refuses EVALSHA (it cannot load a missing script on the right node) and keyless commands
such as TIME. The few places that pipeline those ask `is_cluster` and take one round trip
more on a cluster; on one Redis they run exactly as before.
"""

from __future__ import annotations

from typing import TypeAlias

import redis
from redis.cluster import RedisCluster

RedisClient: TypeAlias = redis.Redis | RedisCluster


def is_cluster(client: RedisClient) -> bool:
    return isinstance(client, RedisCluster)


def server_time(client: RedisClient, key: str) -> tuple[int, int]:
    """TIME (seconds, microseconds) of the node holding `key`: the clock the scripts that
    write `key` read. A cluster's TIME would otherwise go to any node, whose clock may
    differ from the one that timed a lease."""
    if isinstance(client, RedisCluster):
        return client.time(target_nodes=client.get_node_from_key(key))
    return client.time()
