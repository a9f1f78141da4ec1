"""A site's comment history into the service: labels for training, optionally published.

No web framework here: `moderation import` calls this with the service's own store,
vault and model.

Decisions:
- Labels: approved -> "ham", spam -> "spam", deleted/trash -> "rejected" (what a
  moderator's reject writes: training leaves it out unless told otherwise), or "spam"
  with deleted_as="spam"; pending comments teach nothing and are not logged.
- `decided_at` of an imported entry is the comment's date: exports do not say when the
  site's moderator decided, and the import time would make old history look recent.
- Re-running an import duplicates nothing: published comments are remembered in the
  `{prefix}:imported` hash (source id -> comment id) and logged entries by fingerprint
  (TrainingLog.append_imported), so only what changed in a newer export is written.
- Published comments are added oldest first, so their ids (which order a thread) follow
  the export's dates. A reply whose parent is not published (spam, pending, deleted,
  missing from the file) is stored as a top-level comment: it was public on the old site,
  and it is still readable without its parent. So is a reply that would nest deeper than
  the service allows.
- A commenter without an email address gets an identity of their own per comment
  (nothing links anonymous comments to each other); the address itself is never stored
  unencrypted and never published.
- Size: the export arrives through classifier.exports.read_export, which reads at most
  MAX_EXPORT_BYTES (200 MB) of XML after decompression and refuses a larger file with
  ExportError (`moderation import` exits 2, one line, before anything is written), and
  skips and counts a comment longer than the service's content limit (MAX_COMMENT_CHARS,
  10,000 characters): one hostile comment costs neither the machine's memory nor the
  rest of the history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis

from classifier.exports import OUTCOMES, Export, ExportedComment
from classifier.model import SpamModel
from moderation.privacy import EmailVault
from moderation.store.comments import CommentStore, ParentError
from moderation.store.training_log import CHUNK, TrainingEntry, TrainingLog
from moderation.websites import is_website

# The same limits the public API enforces on what a commenter sends.
MAX_AUTHOR, MAX_URL = 245, 200


@dataclass
class ImportSummary:
    format: str
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    labeled: int = 0  # comments of the file with a spam or ham label, new to the log or not
    logged: Counter[str] = field(default_factory=Counter)  # label -> entries appended
    already_logged: int = 0
    published: int = 0
    already_published: int = 0
    replies_as_roots: int = 0

    def lines(self) -> list[str]:
        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{n} {name}" for name, n in sorted(counter.items())) or "none"

        outcomes = ", ".join(f"{self.outcomes[o]} {o}" for o in OUTCOMES)
        lines = [f"read {sum(self.outcomes.values())} comments ({self.format}): {outcomes}"]
        if self.skipped:
            lines.append(f"skipped {sum(self.skipped.values())}: {counts(self.skipped)}")
        lines.append(
            f"labeled {self.labeled} (spam or ham); training log: "
            f"{sum(self.logged.values())} entries added ({counts(self.logged)}), "
            f"{self.already_logged} already there"
        )
        lines.append(
            f"published {self.published} ({self.already_published} already published, "
            f"{self.replies_as_roots} replies stored as top-level comments)"
        )
        return lines


def _iso(comment: ExportedComment) -> str:
    return comment.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _features(comment: ExportedComment) -> dict[str, str]:
    return {"content": comment.content, "author": comment.author, "url": comment.url}


def _label(comment: ExportedComment, deleted_as: str | None) -> str | None:
    if comment.outcome == "approved":
        return "ham"
    if comment.outcome == "spam":
        return "spam"
    if comment.outcome == "deleted":
        return "spam" if deleted_as == "spam" else "rejected"
    return None


def _chunked_hmget(client: redis.Redis, key: str, names: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(names), CHUNK):
        part = names[start : start + CHUNK]
        for name, value in zip(part, client.hmget(key, part), strict=True):
            if value is not None:
                found[name] = int(value)
    return found


class _Publisher:
    def __init__(
        self,
        store: CommentStore,
        vault: EmailVault,
        model: SpamModel,
        scores: dict[str, float],
        summary: ImportSummary,
    ) -> None:
        self.store, self.vault, self.model = store, vault, model
        self.client, self.keys = store.client, store.keys
        self.scores = scores
        self.summary = summary
        self.ids: dict[str, int] = {}  # source id -> comment id, as in the imported hash
        self.placed: set[str] = set()

    def publish(self, approved: list[ExportedComment]) -> None:
        wanted = {c.source_id for c in approved}
        parents = {c.parent_id for c in approved if c.parent_id}
        self.ids = _chunked_hmget(self.client, self.keys.imported, sorted(wanted | parents))
        waiting: defaultdict[str, list[ExportedComment]] = defaultdict(list)

        def place_with_replies(first: ExportedComment, as_root: bool = False) -> None:
            ready = [(first, as_root)]
            while ready:
                current, root = ready.pop()
                self._place(current, as_root=root)
                replies = waiting.pop(current.source_id, [])
                ready.extend((reply, False) for reply in reversed(replies))

        for comment in sorted(approved, key=lambda c: (c.created_at, _numeric(c.source_id))):
            parent = comment.parent_id
            if parent in wanted and parent not in self.placed:
                # Dates can disagree with the reply structure; a reply waits for its parent.
                waiting[parent].append(comment)
            else:
                place_with_replies(comment)
        # Only a parent cycle (a malformed file) leaves replies waiting: one of each cycle
        # becomes a top-level comment, and the rest of it nests under it.
        while waiting:
            _, stuck = waiting.popitem()
            for comment in stuck:
                place_with_replies(comment, as_root=True)

    def _claim(self, source_id: str) -> tuple[int, bool]:
        """The comment id for this source id and whether it is stored already.

        The id is claimed in the hash before the comment is stored: an import cut off
        between the two finds the claim on its next run and stores the comment under it.
        """
        comment_id = self.ids.get(source_id)
        if comment_id is None:
            new_id = self.store.next_id()
            if self.client.hsetnx(self.keys.imported, source_id, new_id):
                comment_id = new_id
            else:  # another import claimed it meanwhile
                comment_id = int(self.client.hget(self.keys.imported, source_id))
            self.ids[source_id] = comment_id
        return comment_id, bool(self.client.exists(self.keys.comment(comment_id)))

    def _place(self, comment: ExportedComment, as_root: bool = False) -> None:
        self.placed.add(comment.source_id)
        comment_id, stored = self._claim(comment.source_id)
        if stored:
            self.summary.already_published += 1
            return
        parent = None if as_root or not comment.parent_id else self.ids.get(comment.parent_id)
        if comment.parent_id and parent is None:
            self.summary.replies_as_roots += 1
        record = self._record(comment, comment_id, parent)
        try:
            self.store.add(record)
        except ParentError:
            self.summary.replies_as_roots += 1
            self.store.add({**record, "parent": None})
        except redis.ResponseError as err:
            if "comment id already used" not in str(err):
                raise
            self.summary.already_published += 1  # a concurrent import stored it
            return
        self.summary.published += 1

    def _record(
        self, comment: ExportedComment, comment_id: int, parent: int | None
    ) -> dict[str, Any]:
        email = comment.email
        url = comment.url if len(comment.url) <= MAX_URL and is_website(comment.url) else None
        record: dict[str, Any] = {
            "id": comment_id,
            "thread": comment.thread,
            "parent": parent,
            "author": (comment.author or "Anonymous")[:MAX_AUTHOR],
            "url": url,
            "content": comment.content,
            "created_at": _iso(comment),
            "created_ms": int(comment.created_at.timestamp() * 1000),
            "status": "published",
            "machine_status": "imported",
            "score": round(self.scores[comment.source_id], 6),
            "model_version": self.model.version,
            "rules": [],
            "reasons": [],
            "email_encrypted": self.vault.encrypt(email) if email else None,
            # A space never occurs in an address: this identity cannot be a real commenter's.
            "email_hash": self.vault.identity(email or f"imported {comment.source_id}"),
            "ip": comment.ip or None,
            "user_agent": None,
            "referrer": None,
            "import_source": comment.source_id,
        }
        return record


def _numeric(source_id: str) -> tuple[int, str]:
    tail = source_id.partition(":")[2]
    return (int(tail), "") if tail.isdigit() else (0, tail)


def import_export(
    export: Export,
    *,
    store: CommentStore,
    vault: EmailVault,
    model: SpamModel,
    publish: bool = False,
    deleted_as: str | None = None,
) -> ImportSummary:
    """Log the labeled comments of `export` for training and, with `publish`, publish the
    approved ones; returns what happened. Safe to run again on the same or a newer file."""
    if deleted_as not in (None, "spam"):
        raise ValueError(f"deleted_as must be None or 'spam', got {deleted_as!r}")
    comments = export.comments
    summary = ImportSummary(format=export.format, skipped=Counter(export.skipped))
    summary.outcomes.update(c.outcome for c in comments)
    scores = {c.source_id: model.score(_features(c)) for c in comments}
    approved = [c for c in comments if c.outcome == "approved"]
    if publish:
        _Publisher(store, vault, model, scores, summary).publish(approved)
    # Entries name the published comment (even on a run without --publish after one with
    # it, or when a newer export says a published comment was spam after all).
    published = _chunked_hmget(store.client, store.keys.imported, [c.source_id for c in comments])
    entries = [
        TrainingEntry(
            label=label,
            content=c.content,
            author=c.author,
            url=c.url,
            thread=c.thread,
            comment_id=str(published.get(c.source_id, "")),
            source=f"import:{export.format}",
            source_id=c.source_id,
            moderator="",
            decided_at=_iso(c),
            model_version=model.version,
            score=f"{round(scores[c.source_id], 6)}",
        )
        for c in comments
        if (label := _label(c, deleted_as)) is not None
    ]
    appended = TrainingLog(store.client, store.keys).append_imported(entries)
    summary.logged.update(e.label for e in appended)
    summary.already_logged = len(entries) - len(appended)
    summary.labeled = sum(e.label in ("spam", "ham") for e in entries)
    return summary
