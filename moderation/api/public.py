"""The public API: readers submit comments and read published threads."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, RAISE, ValidationError
from werkzeug.exceptions import BadRequest

from moderation import limits, webhooks
from moderation.bootstrap import Services, SiteStores
from moderation.cors import require_allowed_origin
from moderation.errors import ApiError
from moderation.formstamp import issue_stamp
from moderation.metrics import count_submission, timed
from moderation.schemas import (
    CommentIn,
    CommentOut,
    ErrorOut,
    FormStampOut,
    RepliesPageOut,
    ThreadPageOut,
    ThreadQuery,
)
from moderation.site_request import current_site, site_stores
from moderation.sites import Site
from moderation.store.comments import ParentError, Refused
from moderation.submission import ClientInfo, public_view, submit_comment
from moderation.text import render_content
from moderation.trust import issue_trust_token, vouching_comment

log = logging.getLogger(__name__)

blp = Blueprint("public", __name__, url_prefix="/api/v1", description="Submit and read comments")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
OPTIONAL_FORM_FIELDS = ("url", "parent", "homepage", "stamp")


def services() -> Services:
    return current_app.extensions["moderation"]


def request_body() -> tuple[Any, str]:
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


def load_comment(body: Any, unknown: str) -> dict[str, Any]:
    """The submitted fields validated and normalised, or a 422 ApiError naming the fields."""
    schema = CommentIn(max_content_length=services().settings.max_content_length)
    try:
        return schema.load(body, unknown=unknown)
    except ValidationError as err:
        fields = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        raise ApiError(422, "The comment has invalid fields.", fields=fields) from None


IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def idempotency_key(data: dict[str, Any]) -> str | None:
    """The client's `Idempotency-Key` header, else the form stamp: each rendering of a form
    carries a new stamp, so a form sent twice (a retry, a double click) stores one comment."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return data.get("stamp") or None
    if not _IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            400,
            f"{IDEMPOTENCY_HEADER} must be 1 to 200 visible ASCII characters.",
            code="bad_idempotency_key",
        )
    return key


def store_comment(data: dict[str, Any]) -> dict[str, Any]:
    """Score, route and store a validated comment from this request's client: the record."""
    svc = services()
    site = current_site(data.pop("site", None))
    stores = svc.stores(site)
    trust_token = data.pop("trust_token", None)
    client = ClientInfo(
        ip=request.remote_addr,
        user_agent=request.user_agent.string or None,
        referrer=request.referrer,
    )
    try:
        record = submit_comment(
            data,
            client,
            store=stores.comments,
            vault=svc.vault,
            model=timed(svc.model),
            thresholds=svc.thresholds_for(site),
            stamp_key=current_app.secret_key,
            idempotency_key=idempotency_key(data),
            limits=limits.for_app(current_app),
            trust_token=trust_token if site.trust_approved_authors else None,
            trusted_by=lambda identity, token: vouched_for(stores, site, identity, token),
        )
    except ParentError as err:
        fields = {"parent": [str(err)]}
        raise ApiError(422, "The comment has invalid fields.", fields=fields) from None
    except Refused as err:
        log.info("comment refused (%s): nothing stored", err.reason)
        raise limits.api_error(err) from None
    record["trust_token"] = issue_trust_token(
        current_app.secret_key,  # type: ignore[arg-type]
        site.id,
        record["email_hash"],
        record["id"],
    )
    if record.get("replayed"):
        log.info("comment %s sent again under its idempotency key: not stored twice", record["id"])
        return record
    count_submission(record["status"])
    webhooks.notify_pending(site.webhook_url, site.id, record)
    log.info(
        "comment %s in thread %r: %s (score %.3f, rules %s, site %s)",
        record["id"],
        record["thread"],
        record["status"],
        record["score"],
        [r["rule"] for r in record["rules"]] or "none",
        site.id,
    )
    return record


def vouched_for(stores: SiteStores, site: Site, identity: str, token: str) -> int | None:
    """The approved comment of this commenter that `token` names, if it is still approved."""
    comment_id = vouching_comment(token, current_app.secret_key, site.id, identity)  # type: ignore[arg-type]
    if comment_id is None:
        return None
    earlier = stores.comments.get(comment_id)
    if earlier is None or earlier.get("email_hash") != identity:
        return None
    return comment_id if earlier.get("status") == "published" else None


@blp.route("/comments")
class Comments(MethodView):
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": IDEMPOTENCY_HEADER,
                "required": False,
                "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,200}$"},
                "description": "Unique per comment; the same value on a retry stores nothing "
                "twice. Defaults to the form stamp.",
            }
        ],
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": "CommentIn"},
                "application/x-www-form-urlencoded": {"schema": "CommentForm"},
            },
        },
    )
    @blp.response(201, CommentOut)
    @blp.alt_response(400, schema=ErrorOut, description="Malformed JSON")
    @blp.alt_response(403, schema=ErrorOut, description="Posted by a page of another origin")
    @blp.alt_response(413, schema=ErrorOut, description="Body too large")
    @blp.alt_response(415, schema=ErrorOut, description="Unsupported content type")
    @blp.alt_response(422, schema=ErrorOut, description="Invalid fields")
    @blp.alt_response(409, schema=ErrorOut, description="Duplicate of the commenter's comment")
    @blp.alt_response(
        429,
        schema=ErrorOut,
        description="Posting too quickly, or too many comments awaiting moderation",
        headers={
            "Retry-After": {
                "description": "Seconds until this client may post again",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    )
    @blp.alt_response(503, schema=ErrorOut, description="Storage unavailable; retry later")
    def post(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Submit a comment. It is published, held for review, or held as spam.

        Send an `Idempotency-Key` header (any unique string, e.g. a UUID, kept for retries
        of the same comment) so that a retry after a timeout or a 503 never stores it twice:
        the first comment is answered again, with `Idempotent-Replayed: true`. Without the
        header, the form stamp serves as the key.

        A browser post from a page whose origin is not allowed (MODERATION_ALLOWED_ORIGINS)
        is refused with 403; requests without an Origin header are not browser posts.

        Limits per client IP and per commenter (email): over the rate limit or within the
        flood interval of the last comment, 429 `rate_limited`; with too many comments
        awaiting moderation, 429 `too_many_pending`; both with `Retry-After`. The same text
        again under the same parent is 409 `duplicate`. A refused comment is not stored; a
        retry under the same `Idempotency-Key` is answered its comment, never refused.
        """
        body, unknown = request_body()
        data = load_comment(body, unknown)
        require_allowed_origin(current_site(data.get("site")))
        record = store_comment(data)
        view = public_view(record)
        view["content"] = render_content(view["content"])
        view["trust_token"] = record["trust_token"]
        headers = {"Idempotent-Replayed": "true"} if record.get("replayed") else {}
        return view, 201, headers


@blp.route("/threads/<thread:thread>/comments")
class ThreadComments(MethodView):
    @blp.arguments(ThreadQuery, location="query")
    @blp.response(200, ThreadPageOut)
    @blp.alt_response(422, schema=ErrorOut, description="Invalid query")
    @blp.alt_response(503, schema=ErrorOut, description="Storage unavailable; retry later")
    def get(self, query: dict[str, Any], thread: str) -> dict[str, Any]:
        """Published comments of a thread, oldest first, replies nested under their parent."""
        cursor = int(query["cursor"]) if query.get("cursor") else None
        page = site_stores().comments.thread_page(thread, query["limit"], cursor)
        return {
            "thread": thread,
            "total": page.total,
            "items": [rendered(i) for i in page.items],
            "next_cursor": page.next_cursor,
        }


def rendered(item: dict[str, Any]) -> dict[str, Any]:
    """A comment tree as readers get it: content as safe HTML."""
    return {
        **item,
        "content": render_content(item["content"] or ""),
        "replies": [rendered(r) for r in item["replies"]],
    }


@blp.route("/comments/<int:comment_id>/replies")
class CommentReplies(MethodView):
    @blp.arguments(ThreadQuery, location="query")
    @blp.response(200, RepliesPageOut)
    @blp.alt_response(404, schema=ErrorOut, description="No such published comment")
    @blp.alt_response(422, schema=ErrorOut, description="Invalid query")
    @blp.alt_response(503, schema=ErrorOut, description="Storage unavailable; retry later")
    def get(self, query: dict[str, Any], comment_id: int) -> dict[str, Any]:
        """More replies to a published comment (a thread page shows the first few), oldest
        first, from the `replies_cursor` that page gave, each with its first replies."""
        cursor = int(query["cursor"]) if query.get("cursor") else None
        page = site_stores().comments.replies_page(comment_id, query["limit"], cursor)
        if page is None:
            raise ApiError(404, "There is no published comment with this id.")
        return {
            "parent": comment_id,
            "total": page.total,
            "items": [rendered(i) for i in page.items],
            "next_cursor": page.next_cursor,
        }


@blp.route("/form-stamp")
@blp.response(200, FormStampOut)
def form_stamp() -> tuple[dict[str, str], int, dict[str, str]]:
    """A signed stamp to send back as `stamp` with the comment form it was fetched for."""
    stamp = issue_stamp(current_app.secret_key)  # type: ignore[arg-type]
    return {"stamp": stamp}, 200, {"Cache-Control": "no-store"}
