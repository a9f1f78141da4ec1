"""One JSON error shape for every failure: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, Response, jsonify, request
from redis.exceptions import RedisClusterException
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}

RETRY_AFTER_SECONDS = 5
# What Redis or Redis Cluster raises when storage cannot serve now. A cluster that has lost
# a slot ("All slots are not covered") raises RedisClusterException, not a RedisError.
STORAGE_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, RedisClusterException)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def error_response(error: ApiError) -> Response:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.fields:
        body["fields"] = error.fields
    response = jsonify({"error": body})
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def _flatten_webargs(messages: dict[str, Any]) -> dict[str, Any]:
    # webargs nests errors by location ({"query": {"limit": [...]}}); clients want fields.
    flat: dict[str, Any] = {}
    for value in messages.values():
        if isinstance(value, dict):
            flat.update(value)
    return flat


def from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    fields = _flatten_webargs(data["messages"]) if "messages" in data else None
    if status == 422:
        message = "The request has invalid fields."
    elif status == 413:
        message = "The request body is too large."
    else:
        message = exc.description or exc.name
    headers = dict(exc.get_headers()) if status == 405 else {}
    headers.pop("Content-Type", None)
    return ApiError(status, message, fields=fields, headers=headers)


def storage_unavailable(writing: bool = False) -> ApiError:
    """The answer when Redis fails. A write may have reached Redis before the failure
    (a timeout fires after the script was sent), so a write is never told "nothing was
    saved": it is told that sending it again is safe, which idempotency keys make true."""
    message = (
        "Comment storage did not answer, so it is not known whether this was saved. "
        "Please try again shortly: sending the same request again is safe (for a comment, "
        "with the same Idempotency-Key), nothing is stored or decided twice."
        if writing
        else "Comment storage is unavailable; please try again shortly."
    )
    return ApiError(
        503,
        message,
        code="storage_unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def storage_error_kind(exc: Exception) -> str:
    """A short name of what went wrong, for logs: never the command or its arguments."""
    text = str(exc).split(" ", 1)[0]
    # Redis error replies start with a code word: BUSY, OOM, READONLY, LOADING, NOSCRIPT...
    code = text if text.isupper() and text.isalpha() and len(text) <= 20 else ""
    return f"{type(exc).__name__}{' ' + code if code else ''}"


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, error_response)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return error_response(from_http_exception(exc))

    # Every Redis failure, not only a refused connection: BUSY (a long script), OOM
    # (maxmemory), READONLY (a replica after failover) and LOADING are all "try later".
    def _redis_down(exc: Exception) -> Response:
        log.warning("Redis unavailable: %s", storage_error_kind(exc))
        return error_response(storage_unavailable(writing=request.method in WRITE_METHODS))

    for kind in STORAGE_ERRORS:
        app.register_error_handler(kind, _redis_down)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(ApiError(500, "Internal error.", code="internal_error"))
