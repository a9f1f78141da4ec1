"""The training log: one Redis stream of labeled comments, the data retraining reads.

Moderator decisions (written by decide.lua, in the same transaction as the decision) and
imported site history share the stream. Entries are never edited: a later entry about
the same comment supersedes an earlier one, so the log keeps every change of mind and
training sees only the last word.

Identity of "the same comment": an entry's `source_id` ("comment:<id>" for decisions,
"wxr:123" or "disqus:456" for imports). An imported comment that was also published
carries its `comment_id`, and from then on it is the same comment as "comment:<id>": a
moderator deciding on it later overrides what the import said, and vice versa.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

from classifier.data import HAM, SPAM, Example
from moderation.store.client import RedisClient
from moderation.store.keys import Keys

LABELS = ("spam", "ham", "rejected")
FIELDS = (
    "label",
    "content",
    "author",
    "url",
    "thread",
    "comment_id",
    "source",
    "source_id",
    "moderator",
    "decided_at",
    "model_version",
    "score",
)
CHUNK = 1000


@dataclass(frozen=True)
class TrainingEntry:
    """One labeled comment. Every field is a string; "" means unknown or not applicable."""

    label: str  # spam | ham | rejected
    content: str
    author: str = ""
    url: str = ""
    thread: str = ""
    comment_id: str = ""  # the service's comment id; "" for imports not stored as comments
    source: str = ""  # moderator | import:wxr | import:disqus
    source_id: str = ""  # comment:<id> | wxr:<id> | disqus:<id>
    moderator: str = ""
    decided_at: str = ""  # ISO 8601 UTC
    model_version: str = ""
    score: str = ""

    def fields(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_fields(cls, data: dict[str, str]) -> TrainingEntry:
        # Tolerant on purpose: entries are written by more than one program and version.
        return cls(**{name: str(data.get(name) or "") for name in FIELDS})

    def fingerprint(self) -> str:
        """What an import compares to know whether it logged this entry already."""
        parts = (self.label, self.content, self.author, self.url, self.thread, self.comment_id)
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _check(entry: TrainingEntry) -> dict[str, str]:
    if entry.label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {entry.label!r}")
    return entry.fields()


class TrainingLog:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def __len__(self) -> int:
        return int(self.client.xlen(self.keys.training_log))

    def append_many(self, entries: Iterable[TrainingEntry]) -> list[str]:
        """Append in order, pipelined in chunks; returns the new stream ids."""
        ids: list[str] = []
        pipe = self.client.pipeline(transaction=False)
        queued = 0
        for entry in entries:
            pipe.xadd(self.keys.training_log, _check(entry))
            queued += 1
            if queued == CHUNK:
                ids.extend(pipe.execute())
                queued = 0
        if queued:
            ids.extend(pipe.execute())
        return ids

    def append_imported(self, entries: Iterable[TrainingEntry]) -> list[TrainingEntry]:
        """Append the entries an import has not logged before; returns those appended.

        Each imported source id keeps the fingerprint of its last logged entry; an entry
        is appended only when it differs (a new comment, or an outcome, text or published
        id that changed since). So re-running an import adds nothing, and does not undo a
        moderator's later decision on an imported comment by repeating the old label. Each
        chunk's entries and fingerprints are written in one MULTI, so an interrupted
        import resumes cleanly; two imports racing can at worst log an entry twice, which
        the latest-entry-wins reading makes harmless.
        """
        appended: list[TrainingEntry] = []
        chunk: list[TrainingEntry] = []

        def flush() -> None:
            known = self.client.hmget(self.keys.imported_labels, [e.source_id for e in chunk])
            pipe = self.client.pipeline(transaction=True)
            for entry, fingerprint in zip(chunk, known, strict=True):
                if fingerprint == entry.fingerprint():
                    continue
                pipe.xadd(self.keys.training_log, _check(entry))
                pipe.hset(self.keys.imported_labels, entry.source_id, entry.fingerprint())
                appended.append(entry)
            pipe.execute()
            chunk.clear()

        for entry in entries:
            if not entry.source_id:
                raise ValueError("an imported entry needs its source_id")
            chunk.append(entry)
            if len(chunk) == CHUNK:
                flush()
        if chunk:
            flush()
        return appended

    def entries(self, chunk: int = CHUNK) -> Iterator[tuple[str, TrainingEntry]]:
        """(stream id, entry) for every entry, oldest first, read `chunk` at a time."""
        start = "-"
        while True:
            rows = self.client.xrange(self.keys.training_log, min=start, max="+", count=chunk)
            for stream_id, data in rows:
                yield stream_id, TrainingEntry.from_fields(data)
            if len(rows) < chunk:
                return
            start = f"({rows[-1][0]}"

    def labeled_examples(self, rejected_as: str | None = None) -> list[Example]:
        """The training set: the latest entry of each comment, as an Example.

        "rejected" (off-topic, rude: unwanted but not necessarily spam) is left out unless
        `rejected_as` says what to count it as. A comment whose latest entry is left out
        is left out entirely: an earlier label was overruled. Memory holds one Example per
        comment (the answer itself) plus the imported-to-published id links.
        """
        as_label = {"spam": SPAM, "ham": HAM}
        if rejected_as is not None and rejected_as not in as_label:
            raise ValueError(f"rejected_as must be None, 'spam' or 'ham', got {rejected_as!r}")
        if rejected_as is not None:
            as_label["rejected"] = as_label[rejected_as]
        latest: dict[str, Example | None] = {}
        alias: dict[str, str] = {}  # imported source id -> "comment:<id>" once published
        for stream_id, entry in self.entries():
            if entry.comment_id:
                key = f"comment:{entry.comment_id}"
                if entry.source_id and entry.source_id != key:
                    alias[entry.source_id] = key
                    latest.pop(entry.source_id, None)  # superseded by this entry
            else:
                key = alias.get(entry.source_id, entry.source_id or stream_id)
            label = as_label.get(entry.label)
            # Re-inserting keeps the answer in the order of each comment's latest entry.
            latest.pop(key, None)
            latest[key] = (
                None
                if label is None or not entry.content.strip()
                else Example(
                    content=entry.content,
                    author=entry.author,
                    url=entry.url,
                    label=label,
                    source=entry.source,
                )
            )
        return [example for example in latest.values() if example is not None]
