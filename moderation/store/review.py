"""The review queue's moving parts: claims with leases, and decisions made exactly once.

Every change is one Lua script, so a moderator's decision, its audit entry, its training
label and every index it touches are all written or none are, even when the connection
drops half-way. Leases are timed by the Redis server's clock, the one clock every host of
a deployment shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moderation.store.client import RedisClient, is_cluster, server_time
from moderation.store.comments import HOUR_MS, lua_script, padded
from moderation.store.keys import Keys
from moderation.store.tokens import TokenInfo

ACTIONS = {"approve": "published", "reject": "rejected", "spam": "spam"}
# What each decision teaches the classifier. A rejection (off-topic, rude) is not spam,
# so training decides for itself what to make of it.
LABELS = {"approve": "ham", "reject": "rejected", "spam": "spam"}
DEFAULT_LEASE_SECONDS = 300
# A claim passes over other moderators' live claims; this bounds that walk.
MAX_SCAN = 20_000


@dataclass(frozen=True)
class Claim:
    ids: list[str]
    lease_expires_ms: int
    unavailable: list[str]


@dataclass(frozen=True)
class Decision:
    id: int
    action: str
    outcome: str  # decided | already_decided | conflict | not_found
    status: str | None = None
    previous_status: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    holder: str | None = None  # who holds the claim, on a conflict


def owner_of(moderator: TokenInfo) -> str:
    return f"{moderator.id}:{moderator.name}"


def holder_name(owner: str) -> str:
    return owner.partition(":")[2]


def utc_iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


class ReviewQueue:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._claim = client.register_script(lua_script("claim.lua"))
        self._claim_ids = client.register_script(lua_script("claim_ids.lua"))
        self._release = client.register_script(lua_script("release.lua"))
        self._decide = client.register_script(lua_script("decide.lua"))

    # -- claims --------------------------------------------------------------------

    def claim_next(
        self,
        moderator: TokenInfo,
        limit: int,
        *,
        status: str = "pending",
        order: str = "oldest",
        thread: str | None = None,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
    ) -> Claim:
        """Claim the next `limit` comments nobody else holds; your own claims are renewed."""
        keys = self.keys
        if order == "uncertain":
            index = keys.thread_uncertainty(thread, status) if thread else keys.uncertainty(status)
            members = "padded"
        elif thread:
            index, members = keys.thread_status(thread, status), "ids"
        else:
            index, members = keys.status(status), "ids"
        expires, taken = self._claim(
            keys=[index, keys.leases, keys.lease_owners],
            args=[
                owner_of(moderator),
                lease_seconds * 1000,
                limit,
                "desc" if order == "newest" else "asc",
                members,
                MAX_SCAN,
            ],
        )
        return Claim(ids=list(taken), lease_expires_ms=int(expires), unavailable=[])

    def claim_ids(
        self, moderator: TokenInfo, ids: list[int], lease_seconds: int = DEFAULT_LEASE_SECONDS
    ) -> Claim:
        unique = list(dict.fromkeys(str(i) for i in ids))
        keys = self.keys
        expires, taken, unavailable = self._claim_ids(
            keys=[keys.leases, keys.lease_owners, *(keys.comment(i) for i in unique)],
            args=[owner_of(moderator), lease_seconds * 1000, *unique],
        )
        return Claim(ids=list(taken), lease_expires_ms=int(expires), unavailable=list(unavailable))

    def release(self, moderator: TokenInfo, comment_id: int) -> str:
        """'released', 'not_claimed' or 'held_by_other' (an admin may release any claim)."""
        force = "1" if moderator.role == "admin" else "0"
        return self._release(
            keys=[self.keys.leases, self.keys.lease_owners],
            args=[comment_id, owner_of(moderator), force],
        )

    def leases(self, ids: list[Any]) -> dict[str, tuple[str, int]]:
        """Who holds each of these comments and until when (ms); only live leases."""
        if not ids:
            return {}
        members = [str(i) for i in ids]
        cluster = is_cluster(self.client)
        pipe = self.client.pipeline(transaction=False)
        if not cluster:
            pipe.time()
        pipe.zmscore(self.keys.leases, members)
        pipe.hmget(self.keys.lease_owners, members)
        answers = pipe.execute()
        # A cluster pipeline refuses TIME: there it is asked apart, of the leases' node.
        seconds, micros = server_time(self.client, self.keys.leases) if cluster else answers.pop(0)
        ends, owners = answers
        now = seconds * 1000 + micros // 1000
        return {
            cid: (holder_name(owner), int(end))
            for cid, end, owner in zip(members, ends, owners, strict=True)
            if end is not None and owner is not None and end > now
        }

    def live_claims(self) -> int:
        seconds, micros = server_time(self.client, self.keys.leases)
        return int(
            self.client.zcount(self.keys.leases, f"({seconds * 1000 + micros // 1000}", "+inf")
        )

    # -- decisions -----------------------------------------------------------------

    def decide(self, comment_id: int, action: str, moderator: TokenInfo) -> Decision:
        return self.decide_many([comment_id], action, moderator)[0]

    def decide_many(self, ids: list[int], action: str, moderator: TokenInfo) -> list[Decision]:
        """Decide each comment atomically; two round trips for the lot (on a cluster, one
        and one per comment) unless a comment changed status between reading and
        deciding, which is retried on its own."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        ids = list(dict.fromkeys(int(i) for i in ids))
        results: dict[int, Decision] = {}
        pending = ids
        for _ in range(5):
            if not pending:
                break
            pipe = self.client.pipeline(transaction=False)
            for cid in pending:
                pipe.hmget(self.keys.comment(cid), "status", "thread", "parent")
            rows = pipe.execute()
            now_ms = int(datetime.now(UTC).timestamp() * 1000)
            # A cluster pipeline refuses EVALSHA: there each comment is one round trip
            # (each decision was its own atomic script anyway); one Redis pipelines them.
            pipe = None if is_cluster(self.client) else self.client.pipeline(transaction=False)
            called = []
            answers = []
            for cid, (status, thread, parent) in zip(pending, rows, strict=True):
                if status is None:
                    results[cid] = Decision(id=cid, action=action, outcome="not_found")
                    continue
                answer = self._decide(
                    keys=self._decision_keys(cid, status, ACTIONS[action], thread, parent, now_ms),
                    args=[
                        cid,
                        status,
                        ACTIONS[action],
                        action,
                        owner_of(moderator),
                        moderator.name,
                        utc_iso(now_ms),
                        LABELS[action],
                        padded(cid),
                        now_ms // HOUR_MS,
                    ],
                    client=pipe,
                )
                if pipe is None:
                    answers.append(answer)
                called.append((cid, utc_iso(now_ms)))
            if pipe is not None and called:
                answers = pipe.execute()
            pending = []
            for (cid, decided_at), answer in zip(called, answers, strict=True):
                outcome = answer[0]
                if outcome == "stale":
                    pending.append(cid)
                elif outcome == "decided":
                    results[cid] = Decision(
                        cid,
                        action,
                        "decided",
                        ACTIONS[action],
                        answer[1],
                        moderator.name,
                        decided_at,
                    )
                elif outcome == "already":
                    results[cid] = Decision(
                        cid,
                        action,
                        "already_decided",
                        answer[1],
                        answer[1],
                        answer[2] or None,
                        answer[3] or None,
                    )
                elif outcome == "conflict":
                    results[cid] = Decision(
                        cid,
                        action,
                        "conflict",
                        answer[1],
                        answer[1],
                        holder=holder_name(answer[2]),
                    )
                else:
                    results[cid] = Decision(id=cid, action=action, outcome="not_found")
        for cid in pending:  # still moving after five tries: report it as contended
            results[cid] = Decision(id=cid, action=action, outcome="conflict")
        return [results[cid] for cid in ids]

    def _decision_keys(
        self,
        cid: int,
        old: str,
        new: str,
        thread: str,
        parent: str | None,
        now_ms: int,
    ) -> list[str]:
        keys = self.keys
        day = datetime.fromtimestamp(now_ms / 1000, UTC).date().isoformat()
        return [
            keys.comment(cid),
            keys.status(old),
            keys.status(new),
            keys.thread_status(thread, old),
            keys.thread_status(thread, new),
            keys.uncertainty(old),
            keys.uncertainty(new),
            keys.thread_published(thread),
            keys.replies(parent) if parent else keys.thread_roots(thread),
            keys.leases,
            keys.lease_owners,
            keys.audit,
            keys.training_log,
            keys.decisions_on(day),
            keys.activity,
            keys.thread_uncertainty(thread, old),
            keys.thread_uncertainty(thread, new),
        ]

    # -- what happened -------------------------------------------------------------

    def decisions_per_day(self, days: int = 7) -> dict[str, dict[str, int]]:
        today = datetime.now(UTC).date()
        dates = [(today.fromordinal(today.toordinal() - n)).isoformat() for n in range(days)]
        pipe = self.client.pipeline(transaction=False)
        for day in dates:
            pipe.hgetall(self.keys.decisions_on(day))
        return {
            day: {name: int(count) for name, count in counts.items()}
            for day, counts in zip(dates, pipe.execute(), strict=True)
        }

    def pending_over_time(self, hours: int = 24) -> list[dict[str, Any]]:
        """The pending queue's size at the end of each of the last hours, oldest first,
        rebuilt backwards from the current size and the hourly in/out counts."""
        now_hour = int(datetime.now(UTC).timestamp() * 1000) // HOUR_MS
        wanted = [now_hour - n for n in range(hours)]
        fields = [f"{h}:{way}" for h in wanted for way in ("in", "out")]
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.keys.status("pending"))
        pipe.hmget(self.keys.activity, fields)
        size, counts = pipe.execute()
        size = int(size)
        points = []
        for n, hour in enumerate(wanted):
            came, left = (int(c or 0) for c in counts[2 * n : 2 * n + 2])
            points.append({"at": utc_iso((hour + 1) * HOUR_MS), "pending": max(size, 0)})
            size -= came - left
        return points[::-1]

    def audit_entries(
        self, limit: int, cursor: str | None = None, comment_id: int | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first. Filtering by comment walks the stream: an admin's occasional look."""
        entries: list[dict[str, Any]] = []
        if cursor is not None and all(int(part) == 0 for part in cursor.split("-")):
            return [], None  # nothing comes before the first possible entry
        high = f"({cursor}" if cursor else "+"
        while len(entries) <= limit:
            chunk = self.client.xrevrange(self.keys.audit, high, "-", count=500)
            if not chunk:
                break
            for entry_id, fields in chunk:
                if comment_id is None or fields.get("comment_id") == str(comment_id):
                    entries.append({"entry_id": entry_id, **fields})
            high = f"({chunk[-1][0]}"
            if comment_id is None and len(entries) > limit:
                break
        page = entries[:limit]
        next_cursor = page[-1]["entry_id"] if len(entries) > limit else None
        return page, next_cursor
