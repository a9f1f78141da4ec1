"""Hot reload: every worker follows the registry's active model without a restart.

Each request may trigger a check (at most one per interval, one Redis GET); a new
version loads in a background thread while requests go on with the model in hand, and
takes over with one attribute assignment. A version that fails its checksum or skops'
trusted-types check is refused once and the current model stays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from moderation.store.models import ModelRegistry

log = logging.getLogger(__name__)


class ModelWatch:
    def __init__(
        self,
        registry: ModelRegistry,
        cache_dir: Path,
        interval: float,
        bootstrap: Callable[[], object] = lambda: None,
    ) -> None:
        self.registry = registry
        # Registers the default model when a deployment has none yet (Redis was down at start).
        self.bootstrap = bootstrap
        self.cache_dir = cache_dir
        self.interval = interval
        self._next_check = 0.0
        self._loading = threading.Lock()
        self.refused: set[str] = set()

    def poll(self, services: Any, wait: bool = False) -> None:
        """Check the active version if the interval has passed; `wait` loads in-line."""
        now = time.monotonic()
        if now < self._next_check and not wait:
            return
        self._next_check = now + self.interval
        try:
            active = self.registry.active_version()
            if active is None:
                self.bootstrap()
                active = self.registry.active_version()
        except redis.RedisError:
            return  # storage trouble is the request's to report, not the reload's
        if active is None or active == services.model.version or active in self.refused:
            return
        if not self._loading.acquire(blocking=wait):
            return  # already loading in another thread
        if wait:
            if active == services.model.version:  # the other thread just loaded it
                self._loading.release()
                return
            self._load(services, active)
        else:
            threading.Thread(target=self._load, args=(services, active), daemon=True).start()

    def _load(self, services: Any, version: str) -> None:
        try:
            model = self.registry.load(version, self.cache_dir)
        except Exception as err:  # a refused model must never take the worker down
            self.refused.add(version)
            log.error(
                "model %s refused (%s); still scoring with %s", version, err, services.model.version
            )
        else:
            previous = services.model.version
            services.model = model
            log.info("now scoring with model %s (was %s)", version, previous)
        finally:
            self._loading.release()
