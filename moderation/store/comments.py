"""Comments in Redis: one hash per comment, sorted-set indexes by status, thread and parent."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

from moderation.store.client import RedisClient
from moderation.store.keys import STATUSES, Keys

PUBLIC_FIELDS = ("id", "thread", "parent", "author", "url", "content", "created_at")
# Replies nest at most this deep: no page shows more, and readers of a thread are
# protected from a hostile chain thousands of levels deep.
MAX_REPLY_DEPTH = 30
HOUR_MS = 3_600_000
# A page of a thread shows at most this many replies under one comment, and this many
# replies in all: the rest are a "more replies" request away.
REPLIES_PER_COMMENT = 10
REPLIES_PER_PAGE = 100


# A client retrying after a timeout sends the same key again within seconds or minutes;
# a day covers any retry and keeps one small string per comment.
IDEMPOTENCY_SECONDS = 86_400


class ParentError(ValueError):
    """The parent is not a comment of the same thread."""


class Refused(Exception):
    """A limit refused the comment (moderation/limits.py) and nothing of it was stored.

    `reason` is "duplicate", "flood", "too_many_pending" or "rate_limited"; `retry_after`
    the seconds until the same client may post again (None for a duplicate)."""

    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Guard:
    """What the store script checks before it writes anything; 0 turns a check off.

    flood_ms: no second comment from the same IP or commenter within this time;
    duplicate_seconds: how long the same commenter's same text under the same parent is
    refused; max_pending: how many held comments one IP or one commenter may add within
    pending_window_ms (see moderation/limits.py)."""

    flood_ms: int = 0
    duplicate_seconds: int = 0
    max_pending: int = 0
    pending_window_ms: int = 0


@dataclass(frozen=True)
class ThreadPage:
    items: list[dict[str, Any]]
    total: int
    next_cursor: str | None


def lua_script(name: str) -> str:
    return resources.files("moderation.store").joinpath("lua", name).read_text()


def _as_int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


class CommentStore:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._store = client.register_script(lua_script("store_comment.lua"))

    def next_id(self) -> int:
        # Taken outside the store script on purpose: Cluster scripts may only touch the
        # keys they declare, and a gap in ids after a crash costs nothing.
        return int(self.client.incr(self.keys.sequence))

    def add(
        self,
        record: dict[str, Any],
        idempotency_digest: str | None = None,
        guard: Guard | None = None,
    ) -> int:
        """Store the record and every index it belongs to in one atomic script; the id
        stored. With `idempotency_digest` (see `idempotency_digest()`), a submission that
        was stored before under it stores nothing and answers the earlier comment's id.

        With `guard`, the script refuses (`Refused`, nothing written) a duplicate, a post
        within the flood interval and a client over its cap of held comments; a replay
        under the idempotency key is answered before any of these is looked at."""
        keys = self.keys
        comment_id = record["id"]
        parent = record.get("parent")
        thread = record["thread"]
        guard = guard or Guard()
        ip_part = address_key(record.get("ip"))
        # Unused slots name the comment's own key, which the script never reads for them.
        unused = keys.comment(comment_id)
        fingerprint = duplicate_fingerprint(record) if guard.duplicate_seconds else None
        guard_keys = [
            f"{keys.base}:flood:ip:{ip_part}" if ip_part else unused,
            f"{keys.base}:flood:commenter:{record['email_hash']}",
            f"{keys.base}:duplicate:{fingerprint}" if fingerprint else unused,
            f"{keys.base}:held:ip:{ip_part}" if ip_part else unused,
            f"{keys.base}:held:commenter:{record['email_hash']}",
        ]
        guard_args = [
            guard.flood_ms,
            guard.duplicate_seconds,
            guard.max_pending,
            guard.pending_window_ms,
            "1" if ip_part else "",
        ]
        flat: list[Any] = []
        for name, value in record.items():
            if value is None:
                continue
            flat.extend((name, json.dumps(value) if isinstance(value, list | dict) else value))
        result = self._store(
            keys=[
                keys.comment(comment_id),
                keys.comment(parent) if parent is not None else keys.comment(comment_id),
                keys.status(record["status"]),
                keys.thread_published(thread),
                keys.replies(parent) if parent is not None else keys.thread_roots(thread),
                keys.commenter(record["email_hash"]),
                keys.thread_status(thread, record["status"]),
                keys.uncertainty(record["status"]),
                keys.activity,
                keys.thread_uncertainty(thread, record["status"]),
                keys.idempotency(idempotency_digest)
                if idempotency_digest
                else keys.comment(comment_id),
                *guard_keys,
            ],
            args=[
                comment_id,
                record["status"],
                record["created_ms"],
                thread,
                "1" if parent is not None else "0",
                MAX_REPLY_DEPTH,
                uncertainty(record["score"]),
                padded(comment_id),
                record["created_ms"] // HOUR_MS,
                "1" if idempotency_digest else "",
                IDEMPOTENCY_SECONDS,
                *guard_args,
                *flat,
            ],
        )
        if isinstance(result, list) and result and result[0] == "replay":
            return int(result[1])
        if isinstance(result, list) and result and result[0] in ("flood", "too_many_pending"):
            raise Refused(result[0], max(1, math.ceil(int(result[1]) / 1000)))
        if result == "duplicate":
            raise Refused("duplicate")
        if result == "no_parent":
            raise ParentError("There is no such comment to reply to.")
        if result == "parent_in_other_thread":
            raise ParentError("The parent comment belongs to another thread.")
        if result == "too_deep":
            raise ParentError(f"Replies nest at most {MAX_REPLY_DEPTH} levels deep.")
        return int(comment_id)

    def replayed(self, idempotency_digest: str) -> dict[str, Any] | None:
        """The comment stored before under this digest (see `add`), if there is one."""
        stored_id = self.client.get(self.keys.idempotency(idempotency_digest))
        return self.get(stored_id) if stored_id else None

    def get(self, comment_id: int | str) -> dict[str, Any] | None:
        data = self.client.hgetall(self.keys.comment(comment_id))
        return decode(data) if data else None

    def count(self, status: str) -> int:
        return int(self.client.zcard(self.keys.status(status)))

    def oldest_created_ms(self, status: str) -> int | None:
        oldest = self.client.zrange(self.keys.status(status), 0, 0)
        if not oldest:
            return None
        created = self.client.hget(self.keys.comment(oldest[0]), "created_ms")
        return int(created) if created else None

    def queue_page(
        self,
        status: str,
        order: str,
        limit: int,
        cursor: str | None = None,
        thread: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of comments with this status, oldest, newest or most uncertain first.

        Cursors are exact: (id) for time order, (distance, id) for uncertainty order.
        """
        if order == "uncertain":
            ids, next_cursor = self._uncertain_ids(status, limit, cursor, thread)
        else:
            key = self.keys.thread_status(thread, status) if thread else self.keys.status(status)
            after = int(cursor) if cursor else None
            if order == "newest":
                high = f"({after}" if after is not None else "+inf"
                ids = self.client.zrevrangebyscore(key, high, "-inf", start=0, num=limit + 1)
            else:
                low = f"({after}" if after is not None else "-inf"
                ids = self.client.zrangebyscore(key, low, "+inf", start=0, num=limit + 1)
            next_cursor = ids[limit - 1] if len(ids) > limit else None
            ids = ids[:limit]
        return self.get_many(ids), next_cursor

    def get_many(self, ids: list[Any]) -> list[dict[str, Any]]:
        """These comments in this order, in one round trip; ids that are gone are skipped."""
        pipe = self.client.pipeline(transaction=False)
        for cid in ids:
            pipe.hgetall(self.keys.comment(cid))
        return [decode(row) for row in pipe.execute() if row]

    def _uncertain_ids(
        self, status: str, limit: int, cursor: str | None, thread: str | None
    ) -> tuple[list[str], str | None]:
        after = _parse_uncertain_cursor(cursor)
        # Members are zero-padded ids, so equal distances sort by id and the cursor's rank
        # gives an exact, O(log n) place to continue from, in a thread's index as in all.
        keys = self.keys
        key = keys.thread_uncertainty(thread, status) if thread else keys.uncertainty(status)
        rank = self.client.zrank(key, padded(after[1])) if after else None
        if rank is not None:
            raw = self.client.zrange(key, rank + 1, rank + limit + 1, withscores=True)
        elif after:  # the cursor's comment left the queue meanwhile
            raw = self.client.zrangebyscore(
                key, f"({after[0]}", "+inf", start=0, num=limit + 1, withscores=True
            )
        else:
            raw = self.client.zrange(key, 0, limit, withscores=True)
        rows = [(float(score), int(member)) for member, score in raw]
        page = rows[:limit]
        next_cursor = f"{page[-1][0]!r}:{page[-1][1]}" if len(rows) > limit else None
        return [str(cid) for _, cid in page], next_cursor

    def commenter_histories(
        self, identities: list[str], recent: int = 200
    ) -> dict[str, dict[str, int]]:
        """How each commenter's recent comments ended, by status: two round trips in all,
        however many commenters a queue page shows."""
        unique = list(dict.fromkeys(identities))
        pipe = self.client.pipeline(transaction=False)
        for identity in unique:
            pipe.zrevrange(self.keys.commenter(identity), 0, recent - 1)
            pipe.zcard(self.keys.commenter(identity))
        answers = pipe.execute()
        recent_ids = answers[0::2]
        pipe = self.client.pipeline(transaction=False)
        for ids in recent_ids:
            for cid in ids:
                pipe.hget(self.keys.comment(cid), "status")
        statuses = iter(pipe.execute())
        histories: dict[str, dict[str, int]] = {}
        for identity, ids, total in zip(unique, recent_ids, answers[1::2], strict=True):
            history = {status: 0 for status in STATUSES}
            for _ in ids:
                status = next(statuses)
                if status in history:
                    history[status] += 1
            histories[identity] = {**history, "comments": int(total)}
        return histories

    def thread_page(self, thread: str, limit: int, cursor: int | None) -> ThreadPage:
        """Published top-level comments oldest first, each with a bounded page of its
        published replies (see `reply_trees`)."""
        keys = self.keys
        low = f"({cursor}" if cursor is not None else "-inf"
        root_ids = self.client.zrangebyscore(
            keys.thread_roots(thread), low, "+inf", start=0, num=limit + 1
        )
        more = len(root_ids) > limit
        root_ids = root_ids[:limit]
        return ThreadPage(
            items=self.reply_trees(root_ids),
            total=self.thread_total(thread),
            next_cursor=root_ids[-1] if more else None,
        )

    def thread_total(self, thread: str) -> int:
        """Published comments of the thread, replies included."""
        return int(self.client.zcard(self.keys.thread_published(thread)))

    def replies_page(
        self, parent: int, limit: int, cursor: int | None, thread: str | None = None
    ) -> ThreadPage | None:
        """A published comment's published replies after `cursor`, oldest first, each with
        its own bounded replies; None when the parent is not a published comment (of
        `thread`, when given)."""
        status, parent_thread = self.client.hmget(self.keys.comment(parent), "status", "thread")
        if status != "published" or (thread is not None and parent_thread != thread):
            return None
        key = self.keys.replies(parent)
        low = f"({cursor}" if cursor is not None else "-inf"
        ids = self.client.zrangebyscore(key, low, "+inf", start=0, num=limit + 1)
        more = len(ids) > limit
        ids = ids[:limit]
        return ThreadPage(
            items=self.reply_trees(ids),
            total=int(self.client.zcard(key)),
            next_cursor=ids[-1] if more else None,
        )

    def reply_trees(self, top_ids: list[str]) -> list[dict[str, Any]]:
        """These comments with their replies nested, breadth first, within a budget: at
        most REPLIES_PER_COMMENT replies under one comment and REPLIES_PER_PAGE in all.

        A comment whose replies were cut carries `reply_count` (its published replies)
        and `replies_cursor`, to be passed to `replies_page` for the rest ("0" when none
        are shown yet): a thread with thousands of replies costs a reader one bounded page.
        """
        keys = self.keys
        children: dict[str, list[str]] = {}
        counts: dict[str, int] = {}
        budget = REPLIES_PER_PAGE
        frontier = list(top_ids)
        while frontier:
            take = REPLIES_PER_COMMENT if budget > 0 else 0
            pipe = self.client.pipeline(transaction=False)
            for cid in frontier:
                pipe.zcard(keys.replies(cid))
                if take:
                    pipe.zrange(keys.replies(cid), 0, take - 1)
            answers = pipe.execute()
            step = 2 if take else 1
            next_frontier: list[str] = []
            for i, cid in enumerate(frontier):
                counts[cid] = int(answers[i * step])
                shown = answers[i * step + 1][: max(budget, 0)] if take else []
                budget -= len(shown)
                children[cid] = shown
                next_frontier.extend(shown)
            frontier = next_frontier
        pipe = self.client.pipeline(transaction=False)
        all_ids = list(children)
        for cid in all_ids:
            pipe.hmget(keys.comment(cid), PUBLIC_FIELDS)
        rows = {
            cid: decode(dict(zip(PUBLIC_FIELDS, values, strict=True)))
            for cid, values in zip(all_ids, pipe.execute(), strict=True)
        }

        def tree(cid: str) -> dict[str, Any]:
            shown = children[cid]
            more = counts[cid] > len(shown)
            return {
                **rows[cid],
                "replies": [tree(r) for r in shown],
                "reply_count": counts[cid],
                "replies_cursor": (shown[-1] if shown else "0") if more else None,
            }

        return [tree(cid) for cid in top_ids]


def idempotency_digest(key: str, record: dict[str, Any]) -> str:
    """What a submission is remembered by: the client's key and what was submitted, so a
    retry of the same comment finds the first one, and an edited comment sent again under
    the same key (the reader fixed a typo after an error) is a comment of its own."""
    what = [key, record["email_hash"]] + [
        record.get(name) for name in ("thread", "parent", "author", "url", "content")
    ]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()


def address_key(ip: str | None) -> str | None:
    """The client an address names, for limits: an IPv6 host usually holds a whole /64 and
    can post from any address in it, so IPv6 addresses count by their /64."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return quote(ip, safe="")  # not an address (a proxy's header): only itself
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return f"{ipaddress.IPv6Network((address, 64), strict=False).network_address}/64"
    return str(getattr(address, "ipv4_mapped", None) or address)


def duplicate_fingerprint(record: dict[str, Any]) -> str:
    """What makes a comment a duplicate: the same commenter saying the same thing (runs of
    spaces and line breaks aside) under the same parent of the same thread."""
    what = [record["email_hash"], record["thread"], record.get("parent")]
    what.append(" ".join(str(record["content"]).split()))
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()


def padded(comment_id: int | str) -> str:
    """The member form in uncertainty indexes: zero-padded so equal scores sort by id."""
    return f"{int(comment_id):020d}"


def uncertainty(score: float) -> float:
    """Distance from the decision boundary: small means the classifier was unsure."""
    return round(abs(score - 0.5), 6)


def _parse_uncertain_cursor(cursor: str | None) -> tuple[float, int] | None:
    if not cursor:
        return None
    distance, _, cid = cursor.partition(":")
    return float(distance), int(cid)


def decode(data: dict[str, Any]) -> dict[str, Any]:
    """Turn a Redis hash back into typed values."""
    out = dict(data)
    for name in ("id", "parent", "created_ms", "depth"):
        if name in out:
            out[name] = _as_int(out[name])
    if "score" in out and out["score"] is not None:
        out["score"] = float(out["score"])
    for name in ("rules", "reasons"):
        if out.get(name):
            out[name] = json.loads(out[name])
    return out
