"""A validated comment becomes a stored, scored, routed record. No web framework here.

privacy -> rules -> classifier -> policy -> store, as one plain function the HTTP
endpoints (and later the Akismet endpoint and the importers) all call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from classifier.model import SpamModel
from moderation.policy import route
from moderation.privacy import EmailVault
from moderation.rules import Network, RuleHit, check_rules
from moderation.store.comments import CommentStore, idempotency_digest

if TYPE_CHECKING:
    from moderation.limits import PostLimits


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None
    referrer: str | None = None


@dataclass(frozen=True)
class Thresholds:
    publish_below: float
    spam_above: float
    max_links: int
    min_fill_seconds: float = 0.0
    word_list: tuple[str, ...] = ()
    disallowed_words: tuple[str, ...] = ()
    blocked_networks: tuple[Network, ...] = ()


def submit_comment(
    data: dict[str, Any],
    client: ClientInfo,
    *,
    store: CommentStore,
    vault: EmailVault,
    model: SpamModel,
    thresholds: Thresholds,
    stamp_key: str | bytes | None = None,
    idempotency_key: str | None = None,
    limits: PostLimits | None = None,
    trust_token: str | None = None,
    trusted_by: Callable[[str, str], int | None] | None = None,
) -> dict[str, Any]:
    """Score, route and store one comment; return the stored record (with secrets).

    `stamp_key` checks the form stamp (`data["stamp"]`); without it the stamp is not looked at.
    With `idempotency_key`, the same submission sent again (a retry after a timeout) is
    not stored twice: the earlier record comes back, with `replayed` set.
    With `limits`, a post over a limit raises `Refused` and stores nothing
    (moderation/limits.py); without, nothing is limited (imports, tests).
    `trusted_by(identity, trust_token)` names the approved comment that vouches for this
    commenter, or None (moderation/trust.py); a vouched-for commenter skips review when
    only the classifier's doubt would hold the comment.
    """
    identity = vault.identity(data["email"])
    submitted = {**data, "email_hash": identity, "url": data.get("url") or None}
    digest = idempotency_digest(idempotency_key, submitted) if idempotency_key else None
    if limits is not None and limits.limiter is not None:
        # A retry after a timeout gets its comment back, however many posts it follows
        # (the store script answers replays before its own limits, too).
        earlier = store.replayed(digest) if digest else None
        if earlier is not None:
            return {**earlier, "replayed": True}
        # Before scoring: a client over its limit costs no classifier time.
        limits.check_rate(client.ip, identity)
    features = {"content": data["content"], "author": data["author"], "url": data.get("url") or ""}
    hits = check_rules(
        {
            **features,
            "email": data["email"],
            "ip": client.ip,
            "user_agent": client.user_agent,
            "honeypot": data.get("homepage"),
            "stamp": data.get("stamp"),
        },
        thresholds.max_links,
        word_list=thresholds.word_list,
        disallowed_words=thresholds.disallowed_words,
        blocked_networks=thresholds.blocked_networks,
        min_fill_seconds=thresholds.min_fill_seconds,
        stamp_key=stamp_key,
    )
    score = model.score(features)
    vouched_by = trusted_by(identity, trust_token) if trust_token and trusted_by else None
    if vouched_by is not None:
        hits.append(
            RuleHit(
                "trusted_author",
                "published",
                f"comment {vouched_by} of this commenter was approved",
                {"comment": vouched_by},
            )
        )
    status = route(
        score, hits, thresholds.publish_below, thresholds.spam_above, trusted=vouched_by is not None
    )
    now = datetime.now(UTC)
    record: dict[str, Any] = {
        "id": store.next_id(),
        "thread": data["thread"],
        "parent": data.get("parent"),
        "author": data["author"],
        "url": data.get("url") or None,
        "content": data["content"],
        "created_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "created_ms": int(now.timestamp() * 1000),
        "status": status,
        "machine_status": status,
        "score": round(score, 6),
        "model_version": model.version,
        "rules": [hit.as_dict() for hit in hits],
        # A person reads the reasons of held comments; published ones skip the extra pass.
        "reasons": []
        if status == "published"
        else [{"feature": name, "weight": weight} for name, weight in model.explain(features)],
        "email_encrypted": vault.encrypt(data["email"]),
        "email_hash": identity,
        "ip": client.ip,
        "user_agent": (client.user_agent or "")[:512] or None,
        "referrer": (client.referrer or "")[:1024] or None,
    }
    stored_id = store.add(record, digest, limits.guard if limits is not None else None)
    if stored_id != record["id"]:
        earlier = store.get(stored_id)
        if earlier is not None:
            return {**earlier, "replayed": True}
    return record


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """What the commenter is told. Spam is reported exactly like pending: spammers learn nothing."""
    return {
        "id": record["id"],
        "thread": record["thread"],
        "parent": record.get("parent"),
        "author": record["author"],
        "url": record.get("url"),
        "content": record["content"],
        "created_at": record["created_at"],
        "status": "published" if record["status"] == "published" else "pending",
    }
