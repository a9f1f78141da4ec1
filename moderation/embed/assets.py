"""Serves the widget's script and stylesheet to any page that embeds the comment form.

embed.js goes out with the service's catalogues inlined (every language: the widget picks
one in the reader's browser, from data-lang, the page's lang or the browser's languages),
so a page needs no second request and no eval for the plural rules.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, request, send_from_directory

from moderation import i18n

STATIC = Path(__file__).parent / "static"
# Short: a fixed widget reaches every page within minutes; the ETag makes rechecks cheap.
MAX_AGE_SECONDS = 300
# Where embed.js holds its catalogues; what it holds until served (no languages).
CATALOGUES_SLOT = '/* catalogues */ { default: "en", languages: {} }'

blp = Blueprint("embed", __name__)


def _headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Pages that isolate themselves (COEP: require-corp) may still load the widget.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def widget_catalogues(default: str) -> str:
    """Every language's translations of the widget's messages, as a JavaScript literal."""
    msgids = [*i18n.script_messages(STATIC / "embed.js"), *i18n.API_MESSAGES]
    languages = ", ".join(
        f'"{lang}": {i18n.js_catalogue(lang, msgids)}' for lang in i18n.languages()
    )
    return f'{{"default": "{default}", "languages": {{{languages}}}}}'


@cache
def _script(default: str, modified_ns: int) -> tuple[bytes, str]:
    source = (STATIC / "embed.js").read_text(encoding="utf-8")
    if source.count(CATALOGUES_SLOT) != 1:
        raise RuntimeError("embed.js has lost its catalogues slot: " + CATALOGUES_SLOT)
    body = source.replace(CATALOGUES_SLOT, widget_catalogues(default)).encode("utf-8")
    return body, hashlib.sha256(body).hexdigest()[:32]


@blp.get("/embed.js")
def script() -> Response:
    # Keyed by the file's mtime too, so an edited embed.js is served without a restart.
    body, etag = _script(i18n.default_language(), (STATIC / "embed.js").stat().st_mtime_ns)
    response = Response(body, content_type="text/javascript; charset=utf-8")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE_SECONDS
    return _headers(response.make_conditional(request))


@blp.get("/embed.css")
def stylesheet() -> Response:
    response = send_from_directory(
        STATIC, "embed.css", mimetype="text/css; charset=utf-8", max_age=MAX_AGE_SECONDS
    )
    return _headers(response)
