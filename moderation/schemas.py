"""What goes in and out of the public API, validated and normalised with marshmallow."""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from moderation import websites
from moderation.sites import SITE_ID_PATTERN

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# The same rules, written into the OpenAPI document so that clients (and fuzzers) know them.
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
_TEXT_CHAR = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
TEXT_PATTERN = rf"^{_TEXT_CHAR}*[^\s\x00-\x1f\x7f-\x9f]{_TEXT_CHAR}*$"


def _no_control(value: str) -> None:
    if _CONTROL_OR_NEWLINE.search(value):
        raise ValidationError("Must not contain control characters or line breaks.")


def _no_control_in_text(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("Must not contain control characters.")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _valid_email(value: str) -> None:
    # The message never repeats the address: errors are shown and logged.
    try:
        # Syntax only: nobody verifies a commenter's mailbox, and test domains are fine.
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise ValidationError("Not a valid email address.") from None


class Text(fields.String):
    """A string that is valid Unicode: JSON can carry lone surrogates ("\\ud800"), which no
    encoder (Redis, the log, the page) accepts, so they are refused here, as a field error."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("Must be valid Unicode text (no lone surrogates).") from None
        return raw


class Trimmed(Text):
    """A string with surrounding whitespace removed, at most `max_length` long before and after."""

    def __init__(self, *, max_length: int, document_length: bool = True, **kwargs: Any) -> None:
        validators = kwargs.pop("validate", [])
        if not isinstance(validators, list):
            validators = [validators]
        if document_length:
            validators = [validate.Length(min=1, max=max_length), *validators]
        super().__init__(validate=validators, **kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if len(raw) > self.max_length:
            raise ValidationError(f"Longer than maximum length {self.max_length}.")
        return raw.strip()


class CommentIn(Schema):
    thread = Trimmed(
        required=True,
        max_length=500,
        validate=[_no_control],
        metadata={
            "description": "Identifier of the page the comment belongs to.",
            "pattern": ONE_LINE_PATTERN,
        },
    )
    author = Trimmed(
        required=True,
        max_length=245,
        validate=[_no_control],
        metadata={"pattern": ONE_LINE_PATTERN},
    )
    email = Trimmed(
        required=True,
        max_length=254,
        # Not in the document: a fuzzer's 254-character address breaks other RFC limits.
        document_length=False,
        load_only=True,
        validate=_valid_email,
        metadata={
            "description": "At most 254 characters. Never published; stored encrypted.",
            "format": "email",
        },
    )
    url = Trimmed(
        load_default=None,
        allow_none=True,
        max_length=200,
        document_length=False,
        # IDNA decides which hosts are valid, which no pattern can say: the documented pattern
        # and format admit everything the check accepts (and some hosts it refuses).
        validate=[websites.check_website],
        metadata={
            "description": "The commenter's website, or empty: an http or https URL whose host "
            "is a domain name valid under IDNA 2008 (UTS 46), in Unicode (https://مثال.ایران/) "
            "or punycode (https://xn--mgbh0fb.xn--mgba3a4f16a/), with a top-level domain; no "
            "user name, IP address, spaces, control or bidi characters.",
            "maxLength": 200,
            "format": "iri",
            "pattern": websites.WEBSITE_PATTERN,
        },
    )
    content = Text(
        required=True,
        validate=[_not_blank, _no_control_in_text],
        metadata={
            "description": "Plain text; the length limit is MODERATION_MAX_CONTENT_LENGTH.",
            "pattern": TEXT_PATTERN,
            "maxLength": 10_000,
        },
    )
    parent = fields.Integer(
        load_default=None, allow_none=True, strict=False, validate=validate.Range(min=1)
    )
    homepage = Text(
        load_default=None,
        allow_none=True,
        load_only=True,
        validate=validate.Length(max=2000),
        metadata={"description": "Honeypot: hidden from people, left empty by them."},
    )
    stamp = Text(
        load_default=None,
        allow_none=True,
        load_only=True,
        validate=validate.Length(max=200),
        metadata={
            "description": "The signed stamp issued with the form (GET /api/v1/form-stamp). "
            "A form sent too soon after it was issued, or a forged stamp, is held for review."
        },
    )
    site = Text(
        load_default=None,
        allow_none=True,
        load_only=True,
        validate=validate.Regexp(SITE_ID_PATTERN),
        metadata={
            "description": "The site the comment is for (the embed snippet's data-site); "
            "without it, the site that lists the page's origin, else the default site.",
            "pattern": SITE_ID_PATTERN,
        },
    )
    trust_token = Text(
        load_default=None,
        allow_none=True,
        load_only=True,
        validate=validate.Length(max=512),
        metadata={
            "description": "The `trust_token` this service answered an earlier comment of "
            "the same commenter with: once that comment is approved, a new one the "
            "classifier is unsure of is published without review.",
            "maxLength": 512,
        },
    )

    def __init__(self, *args: Any, max_content_length: int = 10_000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["content"].validators = [
            *self.fields["content"].validators,
            validate.Length(max=max_content_length),
        ]


class CommentForm(CommentIn):
    """The same comment as an HTML form post (documentation only: loading uses CommentIn).

    A form sends every field, empty when left blank, so "" means "not given"; fields it
    does not know (a submit button's name) are ignored.
    """

    class Meta:
        unknown = EXCLUDE

    url = Trimmed(
        max_length=200,
        document_length=False,
        validate=CommentIn._declared_fields["url"].validators,
        metadata=CommentIn._declared_fields["url"].metadata,
    )
    parent = Text(
        metadata={"pattern": r"^$|^[1-9][0-9]{0,17}$", "description": "Comment id, or empty."}
    )
    homepage = Text(
        load_only=True,
        validate=validate.Length(max=2000),
        metadata=CommentIn._declared_fields["homepage"].metadata,
    )
    stamp = Text(
        load_only=True,
        validate=validate.Length(max=200),
        metadata=CommentIn._declared_fields["stamp"].metadata,
    )
    site = Text(
        load_only=True,
        validate=CommentIn._declared_fields["site"].validators,
        metadata=CommentIn._declared_fields["site"].metadata,
    )
    trust_token = Text(
        load_only=True,
        validate=validate.Length(max=512),
        metadata=CommentIn._declared_fields["trust_token"].metadata,
    )


class FormStampOut(Schema):
    stamp = Text(required=True, metadata={"description": "Send it back as `stamp`."})


class _CommentView(Schema):
    """The fields every view of a comment shows, public or moderator."""

    id = fields.Integer(required=True)
    thread = Text(required=True)
    parent = fields.Integer(allow_none=True)
    author = Text(required=True)
    url = Text(allow_none=True)
    content = Text(
        required=True, metadata={"description": "Safe HTML: escaped text in paragraphs."}
    )
    created_at = Text(required=True)


class CommentOut(_CommentView):
    status = Text(
        required=True,
        validate=validate.OneOf(["published", "pending"]),
        metadata={"description": "`pending` also for comments held as spam."},
    )
    trust_token = Text(
        metadata={
            "description": "Keep it and send it with this commenter's next comments "
            "(`trust_token`): it vouches for them once this comment is approved."
        },
    )


class ThreadComment(Schema):
    id = fields.Integer(required=True)
    parent = fields.Integer(allow_none=True)
    author = Text(required=True)
    url = Text(allow_none=True)
    content = Text(required=True)
    created_at = Text(required=True)
    replies = fields.List(
        fields.Nested(lambda: ThreadComment()),
        required=True,
        metadata={"description": "The first published replies, oldest first (a bounded page)."},
    )
    reply_count = fields.Integer(
        required=True, metadata={"description": "All published replies to this comment."}
    )
    replies_cursor = Text(
        required=True,
        allow_none=True,
        metadata={
            "description": "Set when more replies exist than `replies` holds: pass it as "
            "`cursor` to GET /api/v1/comments/{id}/replies for the rest."
        },
    )


class ThreadQuery(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = Text(load_default=None, validate=validate.Regexp(r"^[0-9]{1,18}$"))
    site = Text(
        load_default=None,
        validate=validate.Regexp(SITE_ID_PATTERN),
        metadata={"description": "The site (default: the one listing the page's origin)."},
    )


class RepliesPageOut(Schema):
    parent = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata={"description": "Published replies in all."})
    items = fields.List(fields.Nested(ThreadComment), required=True)
    next_cursor = Text(allow_none=True)


class ThreadPageOut(Schema):
    thread = Text(required=True)
    total = fields.Integer(required=True)
    items = fields.List(fields.Nested(ThreadComment), required=True)
    next_cursor = Text(allow_none=True)


class ErrorBody(Schema):
    code = Text(required=True)
    message = Text(required=True)
    field_errors = fields.Dict(keys=Text(), values=fields.Raw(), data_key="fields")


class ErrorOut(Schema):
    error = fields.Nested(ErrorBody, required=True)


class HealthOut(Schema):
    status = Text(required=True)
    model_version = Text(required=True)


class ReadyOut(Schema):
    status = Text(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    model_version = Text(required=True, allow_none=True)
    checks = fields.Dict(
        keys=Text(),
        values=Text(),
        required=True,
        metadata={"description": "Each check: `ok`, or what failed (e.g. `ResponseError OOM`)."},
    )


class QueuePoint(Schema):
    at = Text(required=True, metadata={"description": "End of the hour (UTC)."})
    pending = fields.Integer(required=True)


class StatsOut(Schema):
    counts = fields.Dict(keys=Text(), values=fields.Integer(), required=True)
    oldest_pending_age_seconds = fields.Float(allow_none=True, required=True)
    claimed = fields.Integer(required=True, metadata={"description": "Comments under a lease."})
    decisions = fields.Dict(
        keys=Text(),
        values=fields.Dict(keys=Text(), values=fields.Integer()),
        required=True,
        metadata={"description": "Per UTC day (last 7), decisions per moderator."},
    )
    queue_over_time = fields.List(
        fields.Nested(QueuePoint),
        required=True,
        metadata={"description": "Pending comments at the end of each of the last 24 hours."},
    )


QUEUE_STATUSES = ["pending", "spam", "published", "rejected"]
QUEUE_ORDERS = ["oldest", "newest", "uncertain"]


class QueueQuery(Schema):
    status = Text(load_default="pending", validate=validate.OneOf(QUEUE_STATUSES))
    order = Text(load_default="oldest", validate=validate.OneOf(QUEUE_ORDERS))
    thread = Text(load_default=None, validate=validate.Length(min=1, max=500))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = Text(
        load_default=None,
        # Issued by the previous page: an id (time order) or "distance:id" (uncertain order).
        validate=validate.Regexp(
            r"^(?:[0-9]{1,18}|[0-9](?:\.[0-9]{1,20})?(?:e-[0-9]{1,3})?:[0-9]{1,18})$"
        ),
    )

    class Meta:
        unknown = RAISE


class Reason(Schema):
    feature = Text(required=True)
    weight = fields.Float(required=True)


class RuleHitOut(Schema):
    rule = Text(required=True)
    outcome = Text(required=True)
    detail = Text(metadata={"description": "In English."})
    params = fields.Dict(
        keys=Text(),
        metadata={"description": "The detail's values (links and limit, seconds, words...)."},
    )


class QueueItem(_CommentView):
    email = Text(required=True, allow_none=True, metadata={"description": "Moderator view only."})
    status = Text(required=True)
    machine_status = Text(allow_none=True)
    score = fields.Float(allow_none=True)
    model_version = Text(allow_none=True)
    rules = fields.List(fields.Nested(RuleHitOut), required=True)
    reasons = fields.List(fields.Nested(Reason), required=True)
    commenter = fields.Dict(keys=Text(), values=fields.Integer(), required=True)
    ip = Text(allow_none=True)
    user_agent = Text(allow_none=True)
    referrer = Text(allow_none=True)
    claimed_by = Text(allow_none=True, metadata={"description": "Holder of the lease."})
    lease_expires_at = Text(allow_none=True)
    decided_by = Text(allow_none=True)
    decided_at = Text(allow_none=True)


class QueuePage(Schema):
    items = fields.List(fields.Nested(QueueItem), required=True)
    next_cursor = Text(allow_none=True, required=True)


_COMMENT_ID = fields.Integer(validate=validate.Range(min=1, max=10**15))


class ClaimIn(Schema):
    """Either the next `limit` comments (optionally of one thread, status and order) or
    the comments named in `ids`."""

    class Meta:
        unknown = RAISE

    limit = fields.Integer(validate=validate.Range(min=1, max=100))
    thread = Text(validate=validate.Length(min=1, max=500))
    status = Text(validate=validate.OneOf(QUEUE_STATUSES))
    order = Text(validate=validate.OneOf(QUEUE_ORDERS))
    ids = fields.List(_COMMENT_ID, validate=validate.Length(min=1, max=100))
    lease_seconds = fields.Integer(
        load_default=300,
        validate=validate.Range(min=1, max=3600),
        metadata={"description": "How long the claim lasts; 5 minutes unless said."},
    )

    @validates_schema
    def _one_way(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "ids" in data and data.keys() & {"limit", "thread", "status", "order"}:
            raise ValidationError(
                "Give either ids, or limit with thread/status/order, not both.", "ids"
            )


class ClaimOut(Schema):
    items = fields.List(fields.Nested(QueueItem), required=True)
    lease_expires_at = Text(required=True)
    unavailable = fields.List(
        fields.Integer(),
        required=True,
        metadata={"description": "Requested ids that are unknown or held by someone else."},
    )


ACTIONS = ["approve", "reject", "spam"]


class DecisionIn(Schema):
    class Meta:
        unknown = RAISE

    action = Text(required=True, validate=validate.OneOf(ACTIONS))


class BulkDecisionIn(DecisionIn):
    ids = fields.List(_COMMENT_ID, required=True, validate=validate.Length(min=1, max=500))


class DecisionOut(Schema):
    id = fields.Integer(required=True)
    action = Text(required=True)
    status = Text(required=True, metadata={"description": "Status after the call."})
    previous_status = Text(required=True)
    already_decided = fields.Boolean(
        required=True, metadata={"description": "True when nothing changed: decided before."}
    )
    decided_by = Text(allow_none=True)
    decided_at = Text(allow_none=True)


class BulkResult(Schema):
    id = fields.Integer(required=True)
    outcome = Text(
        required=True,
        validate=validate.OneOf(["decided", "already_decided", "conflict", "not_found"]),
    )
    status = Text(allow_none=True)
    previous_status = Text(allow_none=True)
    claimed_by = Text(allow_none=True, metadata={"description": "On a conflict."})


class BulkDecisionOut(Schema):
    results = fields.List(fields.Nested(BulkResult), required=True)


def _stream_id_in_range(value: str) -> None:
    # A Redis stream id is two unsigned 64-bit numbers; the pattern alone allows more.
    parts = value.split("-")
    if all(part.isdigit() for part in parts) and any(int(part) >= 2**64 for part in parts):
        raise ValidationError("Not a cursor from a previous page.")


class AuditQuery(Schema):
    class Meta:
        unknown = RAISE

    comment = _COMMENT_ID
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    cursor = Text(
        load_default=None,
        validate=[validate.Regexp(r"^[0-9]{1,20}-[0-9]{1,20}$"), _stream_id_in_range],
    )


class AuditEntry(Schema):
    entry_id = Text(required=True)
    comment_id = fields.Integer(required=True)
    action = Text(required=True)
    previous_status = Text(required=True, data_key="from")
    status = Text(required=True, data_key="to")
    moderator = Text(required=True)
    at = Text(required=True)


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEntry), required=True)
    next_cursor = Text(allow_none=True, required=True)


class RetrainIn(Schema):
    class Meta:
        unknown = RAISE

    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "Train and compare, register nothing."}
    )


class RetrainJobOut(Schema):
    id = Text(required=True)
    state = Text(required=True, validate=validate.OneOf(["queued", "running", "done", "failed"]))
    dry_run = fields.Boolean(required=True)
    created_at = Text(required=True)
    started_at = Text()
    finished_at = Text()
    progress = Text(allow_none=True, metadata={"description": "The current step."})
    error = Text()
    result = fields.Dict(
        metadata={"description": "The report: candidate, promoted, reasons, metrics of both."}
    )


class ModelOut(Schema):
    version = Text(required=True)
    created_at = Text(required=True)
    active = fields.Boolean(required=True)
    status = Text(required=True)
    metrics = fields.Dict(required=True)
    training = fields.Dict(required=True)
    sha256 = Text(required=True)
    size = fields.Integer(required=True)


class ModelList(Schema):
    items = fields.List(fields.Nested(ModelOut), required=True)
    serving = Text(
        required=True, metadata={"description": "The version this worker scores with now."}
    )


# --- sites -------------------------------------------------------------------------------


class SiteUpdateIn(Schema):
    """What a site may set; what is left out follows the deployment's settings."""

    class Meta:
        unknown = RAISE

    name = Text(validate=validate.Length(min=1, max=200))
    allowed_origins = fields.List(
        Text(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=500),
        metadata={"description": "Origins of the site's pages, e.g. https://news.example.com"},
    )
    default_language = Text(metadata={"description": "en, fa or ar (or another catalogue)"})
    publish_below = fields.Float(validate=validate.Range(min=0, max=1))
    spam_above = fields.Float(validate=validate.Range(min=0, max=1))
    max_links = fields.Integer(validate=validate.Range(min=1, max=1000), strict=True)
    moderation_words = fields.List(
        Text(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=500),
        metadata={"description": "A match in any field holds the comment for review."},
    )
    disallowed_words = fields.List(
        Text(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=500),
        metadata={
            "description": "A match in any field (content, name, email, website, IP, "
            "user agent) marks the comment spam."
        },
    )
    blocked_networks = fields.List(
        Text(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=500),
        metadata={
            "description": "IP addresses or networks (203.0.113.0/24, 2001:db8::/32) "
            "whose comments are marked spam."
        },
    )
    trust_approved_authors = fields.Boolean(
        metadata={
            "description": "Publish without review a commenter whose earlier comment "
            "was approved, when only the classifier's doubt would hold it."
        }
    )
    webhook_url = Text(allow_none=True, validate=validate.Length(max=2000))
    moderators = fields.List(
        Text(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=500),
        metadata={
            "description": "Names of the moderator tokens that work on this site; "
            "empty: every moderator. Admins work on every site."
        },
    )


class SiteCreateIn(SiteUpdateIn):
    id = Text(
        required=True,
        validate=validate.Regexp(SITE_ID_PATTERN),
        metadata={"pattern": SITE_ID_PATTERN, "description": "Lower-case letters, digits, -"},
    )


class SiteOut(Schema):
    id = Text(required=True)
    name = Text(required=True)
    allowed_origins = fields.List(Text(), required=True)
    default_language = Text(required=True)
    publish_below = fields.Float(required=True)
    spam_above = fields.Float(required=True)
    max_links = fields.Integer(required=True)
    moderation_words = fields.List(Text(), required=True)
    disallowed_words = fields.List(Text(), required=True)
    blocked_networks = fields.List(Text(), required=True)
    trust_approved_authors = fields.Boolean(required=True)
    webhook_url = Text(allow_none=True, required=True)
    moderators = fields.List(Text(), required=True)
    counts = fields.Dict(
        keys=Text(),
        values=fields.Integer(),
        metadata={"description": "Comments by status (in the list of sites)."},
    )


class SiteList(Schema):
    items = fields.List(fields.Nested(SiteOut), required=True)
