"""`moderation serve`: gunicorn in-process, with the embedded Redis owned by its master."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from moderation.config import Settings
from moderation.logs import json_formatter
from moderation.redis_target import open_target

log = logging.getLogger(__name__)


class JsonLogger(glogging.Logger):
    """gunicorn's own lines as JSON on stderr, at MODERATION_LOG_LEVEL, and no access log.

    Not `logconfig_dict`: gunicorn runs dictConfig with it, whose defaults reset the root
    logger to INFO (MODERATION_LOG_LEVEL lost for every app logger) and turn the access
    log on whatever `accesslog` says, two JSON lines per request.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(json_formatter())

    @property
    def access_log_enabled(self) -> bool:
        return False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        # Requests are not logged: the app logs what matters, with emails redacted.
        return None


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
        from moderation.app import create_app

        return create_app(self.settings)


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def metrics_dir(enabled: bool) -> Iterator[str | None]:
    """A fresh, owner-only directory for the workers' metric files, named in
    PROMETHEUS_MULTIPROC_DIR for as long as the service runs, then removed.

    Fresh per run: files left by an earlier run would be added to this one's counters.
    Under the system's temporary directory (TMPDIR), not the data directory: it is
    scratch written on every request, best on a local or in-memory filesystem.
    """
    if not enabled:
        yield None
        return
    previous = os.environ.get(MULTIPROC_ENV)
    path = tempfile.mkdtemp(prefix="moderation-metrics-")  # mode 0700
    os.environ[MULTIPROC_ENV] = path  # before the app is built and the workers fork
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(path, ignore_errors=True)


def _child_exit(path: str) -> Any:
    from prometheus_client import multiprocess

    def child_exit(server: Any, worker: Any) -> None:
        # Drops the dead worker's live gauges; its counters stay in the sums, as they must.
        multiprocess.mark_process_dead(worker.pid, path)

    return child_exit


def serve(settings: Settings, host: str, port: int, workers: int, threads: int = 1) -> None:
    # The embedded Redis (if REDIS_URL is unset) is started once, here in the master's
    # main thread before workers fork: every worker shares it, and it dies with the master.
    target = open_target(settings, serve=True)
    log.info("serving with %s", target.describe())
    try:
        with metrics_dir(target.settings.metrics) as path:
            options = gunicorn_options(target.settings, host, port, workers, threads, path)
            _Gunicorn(target.settings, options).run()
    finally:
        target.close()


def gunicorn_options(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    threads: int = 1,
    metrics_path: str | None = None,
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        # Load the app (and train or load the model) once before forking: workers share it,
        # and the port only opens when the service is ready.
        "preload_app": True,
        "accesslog": None,
        "logger_class": JsonLogger,
        "loglevel": settings.log_level.lower(),
        "timeout": 30,
        "graceful_timeout": 10,
        # gunicorn 24+ opens a control socket at one fixed path per user: a second service
        # on the machine would take over the first one's. We do not use it.
        "control_socket_disable": True,
    }
    if metrics_path is not None:
        options["child_exit"] = _child_exit(metrics_path)
    return options
