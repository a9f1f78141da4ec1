"""Structured JSON logs, with email addresses redacted from every record at its creation,
and the id of the request being handled (if any) on every record made while handling it."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from moderation.privacy import redact

_installed = False

# Set by moderation.request_log around each request. A context variable, not flask.g:
# records are made outside Flask's reach too (gunicorn, redis-py, error handlers), and
# threads of a gthread worker each keep their own value.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def _install_redacting_factory() -> None:
    # Redacting when the record is made covers every logger and every handler
    # (gunicorn's, pytest's capture, third parties), not only the handlers we own.
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        current = request_id.get()
        if current is not None:
            # Any attribute not of logging's own becomes a JSON field of the line.
            record.request_id = current
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; leave it visible
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(factory)


class RedactingJsonFormatter(JsonFormatter):
    """Tracebacks are formatted after the record is made, so they are redacted here."""

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return redact(super().formatException(ei))


def json_formatter() -> logging.Formatter:
    """The one log format: a JSON object per line (the app's and gunicorn's lines alike)."""
    return RedactingJsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr at `level`, for the app's loggers and anything propagating to
    the root logger. Under `moderation serve` nothing reconfigures the root afterwards
    (see moderation.server.JsonLogger), so the level set here is the one in force."""
    global _installed
    if _installed:
        return
    _installed = True
    _install_redacting_factory()
    root = logging.getLogger()
    if not any(getattr(h, "_moderation", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(json_formatter())
        handler._moderation = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
