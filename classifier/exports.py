"""A site's comment history from a WordPress (WXR) or Disqus export file.

Exports come from outside, so they are parsed with defusedxml: a file that declares XML
entities (billion laughs, external entities reading local files) is refused, never
expanded. Files are streamed with iterparse and every processed element is dropped from
the tree, so memory follows the comments' text, not the size of the XML (which also
carries every post body). Gzipped files (Disqus hands out `.xml.gz`) are read as they are.

Decisions:
- WordPress pingbacks and trackbacks are skipped whatever their status: their text is an
  excerpt of another page, not something a person typed into a comment form, and the
  service never scores such text. Other non-comment types (WooCommerce order notes and
  the like) are skipped too: they are private notes, not comments. Types kept: "",
  "comment" and "review".
- Core WordPress leaves spam out of its exports; plugins and other tools may not, so
  "spam" is read when present.
- Outcomes: WordPress "1" approved, "0" pending, "spam", "trash"/"post-trashed" deleted,
  anything else pending (no label). Disqus: isSpam wins over isDeleted (spam that was
  also deleted is still spam), otherwise isDeleted, otherwise approved.
- A comment without text once its HTML is stripped (Disqus empties deleted posts) or
  without a usable date is skipped and counted, not fatal.

Limits, because one hostile file must not exhaust the machine (a 306 KB `.gz` can hold a
300 MB comment):
- At most `max_bytes` of XML are read, counted after decompression (MAX_EXPORT_BYTES,
  200 MB, by default): the file is read through a bounded stream, and the first byte
  over the limit refuses the whole file with ExportError, before anything is imported.
  What the parser holds at once is bounded by the limit too.
- A comment whose text is longer than `max_comment_chars` (MAX_COMMENT_CHARS, 10,000,
  the service's default MODERATION_MAX_CONTENT_LENGTH) is skipped and counted, like
  other comments the service could not have taken: it is one bad comment, not a bad
  file. Markup more than MARKUP_FACTOR times that long is judged too long without
  converting it, so a huge comment costs no copies of itself.
- Names, addresses, IPs and links are cut to MAX_FIELD_CHARS before they are cleaned:
  none is that long, and a hostile one would otherwise be copied and stored whole.
"""

from __future__ import annotations

import gzip
import html
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

import nh3
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from classifier.data import HAM, SPAM, Example

WP_NAMESPACES = tuple(f"http://wordpress.org/export/1.{minor}/" for minor in (2, 1, 0))
DISQUS_NS = "http://disqus.com"
DSQ_NS = "http://disqus.com/disqus-internals"

FORMATS = ("wxr", "disqus")
OUTCOMES = ("approved", "spam", "deleted", "pending")
THREAD_FROM = ("path", "link")

_WP_STATUS = {
    "1": "approved",
    "0": "pending",
    "spam": "spam",
    "trash": "deleted",
    "post-trashed": "deleted",  # trashed together with its post
}
_WP_COMMENT_TYPES = {"", "comment", "review"}

# Tags kept through the first clean only to mark where lines and paragraphs break.
_LINE_TAGS = {"br", "li", "tr"}
_BLOCK_TAGS = {"p", "div", "blockquote", "pre", "ul", "ol", "table", "hr"} | {
    f"h{n}" for n in range(1, 7)
}
_BREAK_TAG = re.compile(r"</?([a-z0-9]+)\s*/?>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\xa0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")

MAX_EXPORT_BYTES = 200_000_000
MAX_COMMENT_CHARS = 10_000
MARKUP_FACTOR = 20
MAX_FIELD_CHARS = 2_000


class ExportError(ValueError):
    """The file cannot be read as a comment export (unreadable, malformed or hostile)."""


def _amount(size: int) -> str:
    return f"{size // 1_000_000} MB" if size % 1_000_000 == 0 else f"{size:,} bytes"


class _BoundedReader:
    """A binary stream that refuses to give more than `limit` bytes in all.

    iterparse reads 16 KiB at a time, so no more than the limit (and one chunk) ever
    reaches the parser, however well the file compresses.
    """

    def __init__(self, source: IO[bytes], limit: int, path: Path, gzipped: bool) -> None:
        self._source, self._limit, self._path, self._gzipped = source, limit, path, gzipped
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        room = self._limit - self._read + 1  # one byte more than allowed tells it is over
        data = self._source.read(room if size < 0 else min(size, room))
        self._read += len(data)
        if self._read > self._limit:
            what = "of XML once decompressed" if self._gzipped else "of XML"
            raise ExportError(
                f"refused {self._path}: it holds more than {_amount(self._limit)} {what}, "
                "the import limit"
            )
        return data


@dataclass(frozen=True)
class ExportedComment:
    """One comment of an export, its text plain and its date in UTC."""

    source_id: str  # "wxr:123", "disqus:456": unique within the exporting site
    thread: str
    parent_id: str | None  # the parent's source_id
    author: str
    email: str
    url: str
    ip: str
    created_at: datetime
    content: str
    outcome: str  # approved | spam | deleted | pending

    @property
    def source(self) -> str:
        return self.source_id.partition(":")[0]

    def label(self, deleted_as: str | None = None) -> int | None:
        """SPAM, HAM or None (not a label). A deletion is a moderator's "reject": it says
        the comment was unwanted, not that it was spam, unless the caller decides so."""
        if deleted_as not in (None, "spam"):
            raise ValueError(f"deleted_as must be None or 'spam', got {deleted_as!r}")
        if self.outcome == "approved":
            return HAM
        if self.outcome == "spam" or (self.outcome == "deleted" and deleted_as == "spam"):
            return SPAM
        return None

    def as_example(self, deleted_as: str | None = None) -> Example | None:
        label = self.label(deleted_as)
        if label is None:
            return None
        return Example(
            content=self.content,
            author=self.author,
            url=self.url,
            label=label,
            source=f"import:{self.source}",
        )


@dataclass
class Export:
    format: str
    comments: list[ExportedComment]
    skipped: Counter[str] = field(default_factory=Counter)


def html_to_text(markup: str) -> str:
    """The text a reader saw: tags stripped, entities decoded, paragraphs as blank lines."""
    if not markup:
        return ""
    # nh3 parses like a browser and re-serialises: only bare break tags and escaped
    # text remain, so the break tags can then be found reliably with a regex.
    cleaned = nh3.clean(
        markup.replace("\r\n", "\n").replace("\r", "\n"),
        tags=_LINE_TAGS | _BLOCK_TAGS,
        attributes={},
        strip_comments=True,
    )

    def breaks(match: re.Match[str]) -> str:
        if match.group(1) not in _LINE_TAGS:
            return "\n\n"
        # A list item or table row starts a line; its end tag adds nothing more.
        return "" if match.group(0).startswith("</") else "\n"

    text = html.unescape(_BREAK_TAG.sub(breaks, cleaned))
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _one_line(value: str | None) -> str:
    value = (value or "")[:MAX_FIELD_CHARS]
    return _SPACES.sub(" ", _CONTROL.sub("", value.replace("\n", " "))).strip()


def _text(elem: Element | None) -> str:
    return (elem.text or "") if elem is not None else ""


def thread_id(link: str, identifier: str, fallback: str, thread_from: str) -> str:
    """The service's thread id: the export's identifier, else the path (and query) of the
    page's link, or the whole link when asked; `fallback` when the export has neither."""
    link = _one_line(link)
    if thread_from == "link":
        return link or _one_line(identifier) or fallback
    if _one_line(identifier):
        return _one_line(identifier)
    if link:
        parts = urlsplit(link)
        # A site with plain permalinks links every post as "/?p=123": the query matters.
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return path
    return fallback


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _wp_date(raw: str) -> datetime | None:
    try:
        return _utc(datetime.strptime(raw.strip(), "%Y-%m-%d %H:%M:%S"))
    except ValueError:  # WordPress writes "0000-00-00 00:00:00" for unknown dates
        return None


def _iso_date(raw: str) -> datetime | None:
    try:
        return _utc(datetime.fromisoformat(raw.strip()))
    except ValueError:
        return None


def _is_true(elem: Element | None) -> bool:
    return _text(elem).strip().lower() == "true"


class ExportReader:
    """Iterates the comments of one export file; `format` and `skipped` fill in as it goes.

    Raises ExportError (lazily, while iterating) for a file that is unreadable, not
    well-formed, hostile, or not an export of the requested format.
    """

    def __init__(
        self,
        path: str | Path,
        fmt: str = "auto",
        *,
        thread_from: str = "path",
        max_bytes: int | None = None,
        max_comment_chars: int | None = None,
    ) -> None:
        if fmt not in ("auto", *FORMATS):
            raise ValueError(f"format must be auto, wxr or disqus, got {fmt!r}")
        if thread_from not in THREAD_FROM:
            raise ValueError(f"thread_from must be path or link, got {thread_from!r}")
        self.path = Path(path)
        self.requested = fmt
        self.thread_from = thread_from
        # The module's limits are read here, not bound as defaults, so that they stay
        # adjustable in one place (tests lower them to stay fast).
        self.max_bytes = MAX_EXPORT_BYTES if max_bytes is None else max_bytes
        self.max_comment_chars = (
            MAX_COMMENT_CHARS if max_comment_chars is None else max_comment_chars
        )
        self.format: str | None = None
        self.skipped: Counter[str] = Counter()

    def __iter__(self) -> Iterator[ExportedComment]:
        try:
            raw = self.path.open("rb")
        except OSError as err:
            raise ExportError(f"cannot read {self.path}: {err.strerror or err}") from None
        with raw:
            try:
                gzipped = raw.peek(2)[:2] == b"\x1f\x8b"
            except OSError as err:
                raise ExportError(f"cannot read {self.path}: {err.strerror or err}") from None
            stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if gzipped else raw
            source = _BoundedReader(stream, self.max_bytes, self.path, gzipped)
            events = self._events(source)
            namespaces, root = self._root(events)
            self.format = self._detect(root, namespaces)
            if self.requested not in ("auto", self.format):
                raise ExportError(
                    f"{self.path} is a {self.format} export, not {self.requested} as requested"
                )
            if self.format == "wxr":
                wp = next(uri for uri in namespaces if uri in WP_NAMESPACES)
                yield from self._wxr(events, root, wp)
            else:
                yield from self._disqus(events, root)

    def _events(self, source: _BoundedReader) -> Iterator[tuple[str, Any]]:
        try:
            yield from iterparse(source, events=("start-ns", "start", "end"))
        except DefusedXmlException as err:
            raise ExportError(
                f"refused {self.path}: it declares XML entities or external references "
                f"({type(err).__name__}); comment exports never need them"
            ) from None
        except ParseError as err:
            raise ExportError(f"{self.path} is not well-formed XML: {err}") from None
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            raise ExportError(f"cannot read {self.path}: {err}") from None

    def _root(self, events: Iterator[tuple[str, Any]]) -> tuple[list[str], Element]:
        namespaces: list[str] = []
        for event, value in events:
            if event == "start-ns":
                namespaces.append(value[1])
            elif event == "start":
                return namespaces, value
        raise ExportError(f"{self.path} has no XML element")  # pragma: no cover - expat says so

    def _detect(self, root: Element, namespaces: list[str]) -> str:
        if root.tag == "rss":
            if any(uri in WP_NAMESPACES for uri in namespaces):
                return "wxr"
            raise ExportError(
                f"{self.path} is an RSS feed without the WordPress export namespace "
                f"({WP_NAMESPACES[0]}): not a WXR export"
            )
        if root.tag == f"{{{DISQUS_NS}}}disqus":
            return "disqus"
        local = root.tag.rpartition("}")[2]
        raise ExportError(
            f"{self.path} is neither a WordPress (WXR) nor a Disqus export: "
            f"its root element is <{local}>"
        )

    @staticmethod
    def _children(
        events: Iterator[tuple[str, Any]], root: Element, depth: int
    ) -> Iterator[Element]:
        """Each complete element `depth` levels below the root; it is dropped from the
        tree once the caller is done with it, which is what keeps the parse streaming."""
        stack = [root]
        for event, elem in events:
            if event == "start":
                stack.append(elem)
            elif event == "end":
                stack.pop()
                if len(stack) == depth:
                    yield elem
                    stack[-1].remove(elem)

    def _comment_text(self, markup: str) -> str:
        """The comment's plain text, or "" (counted as skipped) when there is none or it
        is longer than the service takes."""
        limit = self.max_comment_chars
        too_long = f"longer than {limit:,} characters"
        if len(markup) > MARKUP_FACTOR * limit:
            self.skipped[too_long] += 1
            return ""
        content = html_to_text(markup)
        if not content:
            self.skipped["empty text"] += 1
        elif len(content) > limit:
            self.skipped[too_long] += 1
            return ""
        return content

    def _wxr(
        self, events: Iterator[tuple[str, Any]], root: Element, wp: str
    ) -> Iterator[ExportedComment]:
        for item in self._children(events, root, 2):
            if item.tag != "item":
                continue
            post_id = _text(item.find(f"{{{wp}}}post_id")).strip()
            thread = thread_id(_text(item.find("link")), "", f"wp-post:{post_id}", self.thread_from)
            for node in item.iterfind(f"{{{wp}}}comment"):
                comment = self._wxr_comment(node, wp, thread)
                if comment is not None:
                    yield comment

    def _wxr_comment(self, node: Element, wp: str, thread: str) -> ExportedComment | None:
        def get(name: str) -> str:
            return _text(node.find(f"{{{wp}}}{name}"))

        comment_id = get("comment_id").strip()
        kind = get("comment_type").strip().lower()
        if not comment_id:
            self.skipped["no comment id"] += 1
            return None
        if kind not in _WP_COMMENT_TYPES:
            self.skipped[kind if kind in ("pingback", "trackback") else f"type {kind}"] += 1
            return None
        created = _wp_date(get("comment_date_gmt")) or _wp_date(get("comment_date"))
        if created is None:
            self.skipped["no valid date"] += 1
            return None
        content = self._comment_text(get("comment_content"))
        if not content:
            return None
        parent = get("comment_parent").strip()
        return ExportedComment(
            source_id=f"wxr:{comment_id}",
            thread=thread,
            parent_id=f"wxr:{parent}" if parent not in ("", "0") else None,
            author=_one_line(get("comment_author")),
            email=_one_line(get("comment_author_email")),
            url=_one_line(get("comment_author_url")),
            ip=_one_line(get("comment_author_IP")),
            created_at=created,
            content=content,
            outcome=_WP_STATUS.get(get("comment_approved").strip().lower(), "pending"),
        )

    def _disqus(
        self, events: Iterator[tuple[str, Any]], root: Element
    ) -> Iterator[ExportedComment]:
        d, dsq_id = f"{{{DISQUS_NS}}}", f"{{{DSQ_NS}}}id"
        threads: dict[str, str] = {}
        # Disqus lists threads before posts, but nothing guarantees it: a post whose
        # thread has not appeared yet waits for it.
        waiting: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for elem in self._children(events, root, 1):
            if elem.tag == f"{d}thread":
                key = elem.get(dsq_id) or ""
                threads[key] = thread_id(
                    _text(elem.find(f"{d}link")),
                    _text(elem.find(f"{d}id")),
                    f"disqus-thread:{key}",
                    self.thread_from,
                )
                for fields in waiting.pop(key, []):
                    yield ExportedComment(thread=threads[key], **fields)
            elif elem.tag == f"{d}post":
                fields = self._disqus_post(elem, d, dsq_id)
                if fields is None:
                    continue
                ref = fields.pop("thread_ref")
                if ref in threads:
                    yield ExportedComment(thread=threads[ref], **fields)
                else:
                    waiting[ref].append(fields)
        for posts in waiting.values():
            self.skipped["thread not in the file"] += len(posts)

    def _disqus_post(self, elem: Element, d: str, dsq_id: str) -> dict[str, Any] | None:
        post_id = elem.get(dsq_id) or ""
        thread_ref = elem.find(f"{d}thread")
        if not post_id or thread_ref is None:
            self.skipped["no post or thread id"] += 1
            return None
        created = _iso_date(_text(elem.find(f"{d}createdAt")))
        if created is None:
            self.skipped["no valid date"] += 1
            return None
        content = self._comment_text(_text(elem.find(f"{d}message")))
        if not content:
            return None
        if _is_true(elem.find(f"{d}isSpam")):
            outcome = "spam"
        elif _is_true(elem.find(f"{d}isDeleted")):
            outcome = "deleted"
        else:
            outcome = "approved"
        author = elem.find(f"{d}author")
        parent = elem.find(f"{d}parent")
        parent_id = parent.get(dsq_id) if parent is not None else None
        return {
            "thread_ref": thread_ref.get(dsq_id) or "",
            "source_id": f"disqus:{post_id}",
            "parent_id": f"disqus:{parent_id}" if parent_id else None,
            "author": _one_line(_text(author.find(f"{d}name")) if author is not None else ""),
            "email": _one_line(_text(author.find(f"{d}email")) if author is not None else ""),
            "url": "",  # Disqus exports carry no author website
            "ip": _one_line(_text(elem.find(f"{d}ipAddress"))),
            "created_at": created,
            "content": content,
            "outcome": outcome,
        }


def read_export(
    path: str | Path,
    fmt: str = "auto",
    *,
    thread_from: str = "path",
    max_bytes: int | None = None,
    max_comment_chars: int | None = None,
) -> Export:
    """Every comment of the file, parsed to the end before anything is returned, so a file
    broken near its end (or over `max_bytes`) is refused as a whole. The limits default
    to MAX_EXPORT_BYTES and MAX_COMMENT_CHARS (see the module's docstring)."""
    reader = ExportReader(
        path,
        fmt,
        thread_from=thread_from,
        max_bytes=max_bytes,
        max_comment_chars=max_comment_chars,
    )
    comments = list(reader)
    return Export(format=reader.format or fmt, comments=comments, skipped=reader.skipped)
