"""Which data directory and which Redis a process works on, opened once and said once.

Without REDIS_URL the data is wherever MODERATION_DATA_DIR points (`./var` by default):
a command started from another directory would work on, and create, an empty store of
its own. So only `serve` may create a data directory; every other command refuses.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from moderation.config import Settings
from moderation.datadir import ensure_data_dir
from moderation.redis_server import EmbeddedRedis

log = logging.getLogger(__name__)


def mask_url(url: str) -> str:
    """`url` with its password (if any) replaced by ***, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def needs_data_dir(settings: Settings, *, files: bool) -> bool:
    """Whether the data directory holds something this process needs: the embedded
    Redis' file, or (for a process that loads `files`) the development secret and model."""
    if settings.redis_url is None:
        return True
    return files and (settings.secret_key is None or settings.model_path is None)


@dataclass
class Target:
    settings: Settings  # with redis_url set: the embedded server's if it is that one
    data_dir: Path
    data_dir_used: bool
    created: bool
    embedded: EmbeddedRedis | None

    def describe(self) -> str:
        folder = (
            f"data directory {self.data_dir} (MODERATION_DATA_DIR)"
            if self.data_dir_used
            else "no data directory needed"
        )
        redis_url = self.settings.redis_url or ""
        which = self.embedded.describe() if self.embedded else f"Redis {mask_url(redis_url)}"
        return f"{folder}; {which}"

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def open_target(settings: Settings, *, serve: bool = False, files: bool = True) -> Target:
    """Check (or for `serve`, create) the data directory, and start or find the embedded
    Redis if REDIS_URL is unset. Raises MissingDataDir rather than create one elsewhere."""
    data_dir = settings.data_dir.absolute()
    used = needs_data_dir(settings, files=files)
    created = ensure_data_dir(data_dir, create=serve) if used else False
    if created:
        # A warning: if it is the wrong directory, this is where the operator learns it.
        log.warning("created a new, empty data directory %s (MODERATION_DATA_DIR)", data_dir)
    # Absolute: the line a command prints must say which directory, not "var".
    settings = dataclasses.replace(settings, data_dir=data_dir)
    embedded = None
    if settings.redis_url is None:
        # Started here, in the main thread of the process that will live longest (for
        # `serve` the gunicorn master, before it forks): see EmbeddedRedis on why.
        embedded = EmbeddedRedis(data_dir, shared=serve).start()
        settings = dataclasses.replace(settings, redis_url=embedded.url)
    return Target(settings, data_dir, used or data_dir.is_dir(), created, embedded)
