"""The model registry, in Redis so that every worker and every host of a deployment sees
the same versions, the same files and the same active model.

Each version keeps its skops file (bytes) and an entry: metrics, what it was trained on,
when, its SHA-256. A file whose checksum does not match its entry is refused, and loading
goes through skops' trusted-types check like any model file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier.model import SpamModel
from classifier.persistence import load_model, save_model
from moderation.store.client import RedisClient
from moderation.store.keys import Keys

_PROMOTE = """
-- KEYS: 1 active version, 2 history of previous actives, 3 registry entries
-- ARGV: 1 version to activate
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then
  return 'unknown'
end
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  return 'already'
end
if current then
  redis.call('LPUSH', KEYS[2], current)
  redis.call('LTRIM', KEYS[2], 0, 49)
end
redis.call('SET', KEYS[1], ARGV[1])
return 'promoted'
"""

_ROLLBACK = """
-- KEYS: 1 active version, 2 history of previous actives
local previous = redis.call('LPOP', KEYS[2])
if not previous then
  return false
end
redis.call('SET', KEYS[1], previous)
return previous
"""


class RegistryError(ValueError):
    """A version is unknown, or its file does not match its entry."""


@dataclass(frozen=True)
class ModelEntry:
    version: str
    created_at: str
    sha256: str
    size: int
    metrics: dict[str, Any]
    training: dict[str, Any]
    metadata: dict[str, Any]
    status: str  # registered | promoted | refused

    def as_dict(self, active: bool = False) -> dict[str, Any]:
        return {**self.__dict__, "active": active}


class ModelRegistry:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._promote = client.register_script(_PROMOTE)
        self._rollback = client.register_script(_ROLLBACK)

    def register(
        self,
        model: SpamModel,
        *,
        metrics: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
        status: str = "registered",
    ) -> ModelEntry:
        with tempfile.TemporaryDirectory() as tmp:
            data = save_model(model, Path(tmp) / "model.skops").read_bytes()
        return self.register_file(model, data, metrics=metrics, training=training, status=status)

    def register_file(
        self,
        model: SpamModel,
        data: bytes,
        *,
        metrics: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
        status: str = "registered",
    ) -> ModelEntry:
        """Register a model whose skops file is already written (`data` is its bytes)."""
        entry = ModelEntry(
            version=model.version,
            created_at=model.metadata.get("created_at")
            or datetime.now(UTC).isoformat(timespec="seconds"),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            metrics=metrics or {},
            training=training or {},
            metadata=model.metadata,
            status=status,
        )
        # The file first: an entry never points at bytes that are not there.
        # Base64: the client decodes replies as text; a model file is about half a megabyte.
        self.client.set(self.keys.model_file(model.version), base64.b64encode(data).decode())
        self.client.hset(self.keys.models, model.version, json.dumps(entry.__dict__))
        return entry

    def mark(self, version: str, status: str) -> None:
        entry = self.entry(version)
        self.client.hset(
            self.keys.models, version, json.dumps({**entry.__dict__, "status": status})
        )

    def entry(self, version: str) -> ModelEntry:
        raw = self.client.hget(self.keys.models, version)
        if raw is None:
            raise RegistryError(f"no model version {version!r} in the registry")
        return ModelEntry(**json.loads(raw))

    def entries(self) -> list[ModelEntry]:
        entries = [ModelEntry(**json.loads(v)) for v in self.client.hvals(self.keys.models)]
        return sorted(entries, key=lambda e: (e.created_at, e.version))

    def active_version(self) -> str | None:
        return self.client.get(self.keys.active_model)

    def activate_if_none(self, version: str) -> bool:
        """Make `version` active unless a model already is (first start of a deployment)."""
        return bool(self.client.set(self.keys.active_model, version, nx=True))

    def promote(self, version: str) -> str:
        """'promoted' or 'already'; the previous active model is remembered for rollback."""
        outcome = self._promote(
            keys=[self.keys.active_model, self.keys.model_history, self.keys.models],
            args=[version],
        )
        if outcome == "unknown":
            raise RegistryError(f"no model version {version!r} in the registry")
        if outcome == "promoted":
            self.mark(version, "promoted")
        return outcome

    def rollback(self) -> str:
        previous = self._rollback(keys=[self.keys.active_model, self.keys.model_history])
        if not previous:
            raise RegistryError("there is no earlier model to roll back to")
        return previous

    def prune(self, keep: int = 10) -> list[str]:
        """Forget all but the newest `keep` versions, never the active one, one that
        rollback could return to, or the first (the yardstick of every retrain)."""
        entries = self.entries()
        protected = {self.active_version(), *self.client.lrange(self.keys.model_history, 0, -1)}
        if entries:
            protected.add(entries[0].version)
        doomed = [e.version for e in entries[:-keep] if e.version not in protected]
        for version in doomed:
            self.client.delete(self.keys.model_file(version))
            self.client.hdel(self.keys.models, version)
        return doomed

    def load(self, version: str, cache_dir: Path) -> SpamModel:
        """The model of this version, checked against its entry, through skops' allow-list."""
        entry = self.entry(version)
        encoded = self.client.get(self.keys.model_file(version))
        if encoded is None:
            raise RegistryError(f"the file of model {version} is missing")
        data = base64.b64decode(encoded)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise RegistryError(f"the file of model {version} does not match its checksum")
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = cache_dir / f"{version}.skops"
        path.write_bytes(data)
        model = load_model(path)
        return SpamModel(estimator=model.estimator, metadata=entry.metadata)
