"""The key layout.

Every key of a site carries the same hash tag, `{prefix}` for the default site and
`{prefix:site}` for the others, so that the multi-key scripts that keep a comment and its
indexes consistent are valid on Redis Cluster (all keys in one slot), and a deployment
outgrowing one Redis node shards by site, not by key. What belongs to the whole
deployment (moderator tokens, the model registry, the sites) sits in the default site's
slot.
Free-form parts (thread ids) are percent-encoded so no two keys can collide.
"""

from __future__ import annotations

from urllib.parse import quote

STATUSES = ("published", "pending", "spam", "rejected")


DEFAULT_SITE = "default"


class Keys:
    """One site's keys. The default site keeps the tag a single-site deployment always
    had (`{prefix}`), so its data needs no migration; any other site's tag is
    `{prefix:site}`, which Redis Cluster hashes to a slot of its own."""

    def __init__(self, prefix: str, site: str = DEFAULT_SITE) -> None:
        self.prefix = prefix
        self.site = site
        self.base = "{" + prefix + "}" if site == DEFAULT_SITE else "{" + f"{prefix}:{site}" + "}"

    @property
    def sequence(self) -> str:
        return f"{self.base}:seq"

    def comment(self, comment_id: int | str) -> str:
        return f"{self.base}:comment:{comment_id}"

    def status(self, status: str) -> str:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return f"{self.base}:status:{status}"

    def _thread(self, thread: str) -> str:
        return f"{self.base}:thread:{quote(thread, safe='')}"

    def thread_published(self, thread: str) -> str:
        return f"{self._thread(thread)}:published"

    def thread_status(self, thread: str, status: str) -> str:
        self.status(status)  # validates the status name
        return f"{self._thread(thread)}:status:{status}"

    def uncertainty(self, status: str) -> str:
        self.status(status)
        return f"{self.base}:uncertain:{status}"

    def thread_uncertainty(self, thread: str, status: str) -> str:
        """A thread's comments of one status by distance from 0.5 (zero-padded ids)."""
        self.status(status)
        return f"{self._thread(thread)}:uncertain:{status}"

    @property
    def schema_version(self) -> str:
        """The key layout this deployment's data has been migrated to."""
        return f"{self.base}:schema-version"

    def thread_roots(self, thread: str) -> str:
        return f"{self._thread(thread)}:roots"

    def replies(self, comment_id: int | str) -> str:
        return f"{self.base}:replies:{comment_id}"

    @property
    def leases(self) -> str:
        """Claimed comment ids scored by when the lease runs out (ms, server clock)."""
        return f"{self.base}:leases"

    @property
    def lease_owners(self) -> str:
        return f"{self.base}:lease_owners"

    @property
    def audit(self) -> str:
        return f"{self.base}:audit"

    @property
    def training_log(self) -> str:
        return f"{self.base}:training"

    def decisions_on(self, day: str) -> str:
        """Decisions per moderator on one UTC day (YYYY-MM-DD)."""
        return f"{self.base}:decisions:{day}"

    @property
    def activity(self) -> str:
        """Hourly counts of comments entering and leaving the pending queue."""
        return f"{self.base}:activity"

    @property
    def models(self) -> str:
        """Registry entries: version -> JSON (metrics, training data, checksum)."""
        return f"{self.base}:models"

    def model_file(self, version: str) -> str:
        return f"{self.base}:model:file:{version}"

    @property
    def active_model(self) -> str:
        return f"{self.base}:model:active"

    @property
    def model_history(self) -> str:
        """Previously active versions, newest first: what rollback returns to."""
        return f"{self.base}:model:history"

    @property
    def holdout_salt(self) -> str:
        """Decides once, for good, which labeled comments are held out for evaluation."""
        return f"{self.base}:model:holdout_salt"

    def retrain_job(self, job_id: str) -> str:
        return f"{self.base}:retrain:job:{job_id}"

    @property
    def retrain_lock(self) -> str:
        return f"{self.base}:retrain:lock"

    def browser_session(self, session_id: str) -> str:
        """A moderator's signed-in browser session (exists while the session is valid)."""
        return f"{self.base}:browser-session:{session_id}"

    def sign_in_failures(self, ip: str) -> str:
        return f"{self.base}:sign-in-failures:{ip}"

    @property
    def tokens(self) -> str:
        return f"{self.base}:tokens"

    def commenter(self, identity: str) -> str:
        return f"{self.base}:commenter:{identity}"

    @property
    def imported(self) -> str:
        """Hash: an imported comment's source id -> the id it was published under."""
        return f"{self.base}:imported"

    @property
    def imported_labels(self) -> str:
        """Hash: an imported comment's source id -> fingerprint of its last logged entry."""
        return f"{self.base}:imported:labels"

    @property
    def readiness_probe(self) -> str:
        """A short-lived key `/readyz` writes: can this deployment's Redis take writes?"""
        return f"{self.base}:readyz"

    def idempotency(self, key_digest: str) -> str:
        """String: the comment stored for one Idempotency-Key (its digest), for a day."""
        return f"{self.base}:idempotency:{key_digest}"
