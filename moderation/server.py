"""`moderation serve`: gunicorn in-process, with the embedded Redis owned by its master."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from moderation.config import Settings
from moderation.redis_server import EmbeddedRedis

log = logging.getLogger(__name__)

_JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# gunicorn's own lines ("Booting worker ...") as JSON too: one log format for operators.
LOGCONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "moderation.logs.RedactingJsonFormatter", "fmt": _JSON_FORMAT},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
}


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            # Newer gunicorn settings are skipped on releases that do not have them.
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):  # noqa: ANN201 - gunicorn's hook
        from moderation import create_app

        return create_app(self.settings)


def serve(settings: Settings, host: str, port: int, workers: int, threads: int = 1) -> None:
    embedded = None
    if settings.redis_url is None:
        # Started once, here in the master, before workers fork: every worker shares it.
        embedded = EmbeddedRedis(settings.data_dir).start()
        settings = dataclasses.replace(settings, redis_url=embedded.url)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        # Load the app (and train or load the model) once before forking: workers share it,
        # and the port only opens when the service is ready.
        "preload_app": True,
        "accesslog": None,
        "logconfig_dict": LOGCONFIG,
        "timeout": 30,
        "graceful_timeout": 10,
        # gunicorn 24+ opens a control socket at one fixed path per user: a second service
        # on the machine would take over the first one's. We do not use it.
        "control_socket_disable": True,
    }
    try:
        _Gunicorn(settings, options).run()
    finally:
        if embedded is not None:
            embedded.stop()
