"""Serves the widget's script and stylesheet to any page that embeds the comment form."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC = Path(__file__).parent / "static"
# Short: a fixed widget reaches every page within minutes; the ETag makes rechecks cheap.
MAX_AGE_SECONDS = 300

blp = Blueprint("embed", __name__)


def _asset(name: str, mimetype: str) -> Response:
    response = send_from_directory(STATIC, name, mimetype=mimetype, max_age=MAX_AGE_SECONDS)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Pages that isolate themselves (COEP: require-corp) may still load the widget.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@blp.get("/embed.js")
def script() -> Response:
    return _asset("embed.js", "text/javascript; charset=utf-8")


@blp.get("/embed.css")
def stylesheet() -> Response:
    return _asset("embed.css", "text/css; charset=utf-8")
