"""The public API: readers submit comments and read published threads."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, RAISE, ValidationError
from werkzeug.exceptions import BadRequest

from moderation.bootstrap import Services
from moderation.errors import ApiError
from moderation.schemas import CommentIn, CommentOut, ErrorOut, ThreadPageOut, ThreadQuery
from moderation.store.comments import ParentError
from moderation.submission import ClientInfo, public_view, submit_comment
from moderation.text import render_content

log = logging.getLogger(__name__)

blp = Blueprint("public", __name__, url_prefix="/api/v1", description="Submit and read comments")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
OPTIONAL_FORM_FIELDS = ("url", "parent", "homepage")


def services() -> Services:
    return current_app.extensions["moderation"]


def _request_body() -> tuple[Any, str]:
    """The submitted fields and how unknown fields are treated (forms carry buttons)."""
    mimetype = request.mimetype
    if mimetype == "application/json":
        try:
            return request.get_json(), RAISE
        except BadRequest:
            raise ApiError(400, "The body is not valid JSON.", code="malformed_json") from None
        except RecursionError:
            # Python's JSON parser recurses per nesting level; hostile bodies nest thousands.
            message = "The JSON body is nested too deeply."
            raise ApiError(400, message, code="malformed_json") from None
    if mimetype in FORM_TYPES:
        form = request.form.to_dict(flat=True)
        # A form sends every input; one left blank means "not given".
        for name in OPTIONAL_FORM_FIELDS:
            if form.get(name) == "":
                del form[name]
        return form, EXCLUDE
    raise ApiError(
        415,
        "Send the comment as application/json or application/x-www-form-urlencoded.",
    )


@blp.route("/comments")
class Comments(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": "CommentIn"},
                "application/x-www-form-urlencoded": {"schema": "CommentForm"},
            },
        }
    )
    @blp.response(201, CommentOut)
    @blp.alt_response(400, schema=ErrorOut, description="Malformed JSON")
    @blp.alt_response(413, schema=ErrorOut, description="Body too large")
    @blp.alt_response(415, schema=ErrorOut, description="Unsupported content type")
    @blp.alt_response(422, schema=ErrorOut, description="Invalid fields")
    @blp.alt_response(503, schema=ErrorOut, description="Storage unavailable; retry later")
    def post(self) -> tuple[dict[str, Any], int]:
        """Submit a comment. It is published, held for review, or held as spam."""
        svc = services()
        body, unknown = _request_body()
        schema = CommentIn(max_content_length=svc.settings.max_content_length)
        try:
            data = schema.load(body, unknown=unknown)
        except ValidationError as err:
            fields = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
            raise ApiError(422, "The comment has invalid fields.", fields=fields) from None
        client = ClientInfo(
            ip=request.remote_addr,
            user_agent=request.user_agent.string or None,
            referrer=request.referrer,
        )
        try:
            record = submit_comment(
                data,
                client,
                store=svc.comments,
                vault=svc.vault,
                model=svc.model,
                thresholds=svc.thresholds,
            )
        except ParentError as err:
            fields = {"parent": [str(err)]}
            raise ApiError(422, "The comment has invalid fields.", fields=fields) from None
        log.info(
            "comment %s in thread %r: %s (score %.3f, rules %s)",
            record["id"],
            record["thread"],
            record["status"],
            record["score"],
            [r["rule"] for r in record["rules"]] or "none",
        )
        view = public_view(record)
        view["content"] = render_content(view["content"])
        return view, 201


@blp.route("/threads/<thread:thread>/comments")
class ThreadComments(MethodView):
    @blp.arguments(ThreadQuery, location="query")
    @blp.response(200, ThreadPageOut)
    @blp.alt_response(422, schema=ErrorOut, description="Invalid query")
    @blp.alt_response(503, schema=ErrorOut, description="Storage unavailable; retry later")
    def get(self, query: dict[str, Any], thread: str) -> dict[str, Any]:
        """Published comments of a thread, oldest first, replies nested under their parent."""
        cursor = int(query["cursor"]) if query.get("cursor") else None
        page = services().comments.thread_page(thread, query["limit"], cursor)

        def render(item: dict[str, Any]) -> dict[str, Any]:
            return {
                **item,
                "content": render_content(item["content"] or ""),
                "replies": [render(r) for r in item["replies"]],
            }

        return {
            "thread": thread,
            "total": page.total,
            "items": [render(i) for i in page.items],
            "next_cursor": page.next_cursor,
        }
