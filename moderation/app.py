"""The Flask application: settings, services, the API's blueprints and error handlers."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import PathConverter

from moderation import errors, i18n, metrics, request_log
from moderation.bootstrap import Services, build_services
from moderation.config import Settings
from moderation.logs import configure_logging
from moderation.schemas import ErrorOut


class _Api(Api):
    # flask-smorest installs its own error payload; ours has one shape everywhere.
    ERROR_SCHEMA = ErrorOut

    def _register_error_handlers(self) -> None:
        pass


class ThreadConverter(PathConverter):
    """Like `path`, but a thread id may start with "/" (it is often the page's path)."""

    regex = r"[\s\S]+?"
    part_isolating = False  # werkzeug would infer True: the regex has no "/" in it


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_body_bytes,
        API_TITLE="Comment moderation",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Before any other hook: the request id and the timing cover them all.
    request_log.init_app(app)
    metrics.init_app(app, settings)
    # Thread ids are often page paths ("/blog/post/"): keep "//" so a leading slash survives.
    app.url_map.merge_slashes = False
    app.url_map.converters["thread"] = ThreadConverter
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    app.extensions["moderation"] = services = services or build_services(settings)
    app.secret_key = services.signing_key
    # Follow the registry's active model from a thread of each serving process (no I/O here).
    app.before_request(lambda: services.model_watch.ensure_running(services))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
    )

    errors.init_app(app)
    i18n.init_app(app, settings)
    api = _Api(app)
    from moderation.api import admin as admin_api
    from moderation.api import health, public
    from moderation.api import moderation as moderator_api
    from moderation.schemas import CommentForm, CommentIn

    api.spec.components.schema("CommentIn", schema=CommentIn)
    api.spec.components.schema("CommentForm", schema=CommentForm)
    api.register_blueprint(health.blp)
    api.register_blueprint(public.blp)
    from moderation import cors
    from moderation.embed import assets, pages

    # CORS for the public API and the widget; its assets and no-JS page are not API.
    cors.init_app(app)
    app.register_blueprint(assets.blp)
    app.register_blueprint(pages.blp)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.register_blueprint(moderator_api.blp)
    api.register_blueprint(admin_api.blp)
    from moderation import ui

    # The moderators' page is HTML, not API: registered on the app, outside the OpenAPI spec.
    app.register_blueprint(ui.blp)
    return app
