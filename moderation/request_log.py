"""A request id for every request: taken from `X-Request-ID` when it is a sane token,
otherwise made here, put on every log line written while the request is handled
(moderation.logs) and echoed in the response's `X-Request-ID`.

A WSGI wrapper rather than Flask hooks: it covers what runs before the first
`before_request` and after the last teardown (routing errors, error handlers, session
handling), and an early answer from another hook (a 429, a 403) still carries the id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from moderation.logs import request_id

HEADER = "X-Request-ID"
ENVIRON_KEY = "moderation.request_id"
# What a proxy or client sends in practice (UUIDs, hex, `Root=1-5e1b-...`), up to a bound,
# with no spaces, quotes, "@" or control characters: the id goes into log lines and headers
# verbatim, so it must be unable to carry an email address or forge another field.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")


def request_id_from(value: str | None) -> str:
    """`value` if it is a sane request id, else a new random one."""
    if value is not None and _SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request this thread is handling, or None outside a request."""
    return request_id.get()


class RequestIdMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        rid = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = rid

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [(k, v) for k, v in headers if k.lower() != HEADER.lower()]
            headers.append((HEADER, rid))
            return start_response(status, headers, exc_info)

        token = request_id.set(rid)
        try:
            # Flask has built the whole answer (and torn the request down) when this returns.
            return self.app(environ, start)
        finally:
            request_id.reset(token)


def init_app(app: Flask) -> None:
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
