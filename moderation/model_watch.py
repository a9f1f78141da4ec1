"""Hot reload: every worker follows the registry's active model without a restart.

A background thread in each process checks the active version once per interval (one
Redis GET), off the request path: a slow or hung Redis never delays a request, a static
file least of all. A new version loads in that thread while requests go on with the
model in hand, and takes over with one attribute assignment. A version that fails its
checksum or skops' trusted-types check is refused once and the current model stays.

Threads do not survive fork: gunicorn builds the app in its master and forks workers, so
`ensure_running` (called on each request, a process-id comparison) starts the thread in
whichever process serves.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
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
        self._thread_pid: int | None = None
        self._starting = threading.Lock()

    def ensure_running(self, services: Any) -> None:
        """Start this process's watch thread if it has none (after a fork, say)."""
        if self._thread_pid == os.getpid():
            return
        with self._starting:
            if self._thread_pid == os.getpid():
                return
            self._thread_pid = os.getpid()
            # A weak reference: an app that is dropped (tests make many) ends its thread.
            threading.Thread(
                target=self._watch, args=(weakref.ref(services),), daemon=True, name="model-watch"
            ).start()

    def _watch(self, services_ref: weakref.ref) -> None:
        pid = os.getpid()
        while self._thread_pid == pid:
            services = services_ref()
            if services is None:
                return
            try:
                self.poll(services, wait=True)
            except Exception:  # the watch must outlive any one failed check
                log.exception("model check failed; trying again in %.0f s", self.interval)
            del services
            time.sleep(self.interval)

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
