"""Labeled comments and the file formats they arrive in.

Formats: the YouTube Spam Collection CSV (COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS), a plain
`label,text` CSV or TSV, and JSON Lines. Bad rows are reported with file and line and
skipped: one broken export must not stop a training run.
"""

from __future__ import annotations

import csv
import html
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SPAM, HAM = 1, 0
_LABELS = {"spam": SPAM, "1": SPAM, "ham": HAM, "0": HAM}


@dataclass(frozen=True)
class Example:
    """One comment as the model sees it, with its label when known (1 spam, 0 ham)."""

    content: str
    author: str = ""
    url: str = ""
    label: int | None = None
    source: str = ""
    # What sort of comment it is ("seo_praise_link", "tech_code"): the seed corpus says, for
    # evaluations that leave one sort out. Never a feature, and not in the training hash.
    kind: str = ""

    def as_features(self) -> dict[str, str]:
        return {"content": self.content, "author": self.author, "url": self.url}


@dataclass(frozen=True)
class BadRow:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def parse_label(raw: object) -> int:
    label = _LABELS.get(str(raw).strip().lower())
    if label is None:
        raise ValueError(f"label must be spam/ham or 1/0, got {str(raw)[:20]!r}")
    return label


def _clean_youtube(text: str) -> str:
    # The collection keeps YouTube's HTML entities and <br /> tags.
    return html.unescape(text.replace("<br />", "\n").replace("<br/>", "\n")).replace("\ufeff", "")


def _read_csv(path: Path, bad: list[BadRow]) -> Iterator[Example]:
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        delimiter = (
            "\t" if path.suffix.lower() == ".tsv" or sample.count("\t") > sample.count(",") else ","
        )
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return
        columns = [c.strip().upper() for c in header]
        if {"CONTENT", "CLASS"} <= set(columns):
            yield from _youtube_rows(path, reader, columns, bad)
        elif {"LABEL", "TEXT"} <= set(columns):
            yield from _label_text_rows(path, reader, columns, bad)
        else:
            # Headerless `label,text`: the first row is data.
            fh.seek(0)
            reader = csv.reader(fh, delimiter=delimiter)
            yield from _label_text_rows(path, reader, ["LABEL", "TEXT"], bad)


def _youtube_rows(path, reader, columns, bad) -> Iterator[Example]:
    i_content, i_class = columns.index("CONTENT"), columns.index("CLASS")
    i_author = columns.index("AUTHOR") if "AUTHOR" in columns else None
    for row in reader:
        line = reader.line_num
        try:
            content = _clean_youtube(row[i_content])
            label = parse_label(row[i_class])
            author = row[i_author] if i_author is not None else ""
        except (IndexError, ValueError) as exc:
            bad.append(BadRow(str(path), line, str(exc) or "missing column"))
            continue
        if not content.strip():
            bad.append(BadRow(str(path), line, "empty content"))
            continue
        yield Example(content=content, author=author, label=label, source=path.name)


def _label_text_rows(path, reader, columns, bad) -> Iterator[Example]:
    i_label, i_text = columns.index("LABEL"), columns.index("TEXT")
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        try:
            label = parse_label(row[i_label])
            text = row[i_text]
        except (IndexError, ValueError) as exc:
            bad.append(BadRow(str(path), line, str(exc) or "missing column"))
            continue
        if not text.strip():
            bad.append(BadRow(str(path), line, "empty text"))
            continue
        yield Example(content=text, label=label, source=path.name)


def _read_jsonl(path: Path, bad: list[BadRow]) -> Iterator[Example]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                content = record["content"]
                if not isinstance(content, str) or not content.strip():
                    raise ValueError("content must be a non-empty string")
                yield Example(
                    content=content,
                    author=str(record.get("author") or ""),
                    url=str(record.get("url") or ""),
                    label=parse_label(record["label"]),
                    source=path.name,
                    kind=str(record.get("kind") or ""),
                )
            except (ValueError, KeyError, TypeError) as exc:
                reason = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
                bad.append(BadRow(str(path), line_no, reason))


def read_examples(paths: Iterable[str | Path], bad: list[BadRow] | None = None) -> list[Example]:
    """Read labeled examples from every file.

    Bad rows go to `bad` when the caller passes a list, and reporting them is then the
    caller's job (`moderation train` prints each one); otherwise each is logged as a
    warning. Never both: the operator would read every bad row twice.
    """
    collected: list[BadRow] = [] if bad is None else bad
    examples: list[Example] = []
    for raw in paths:
        path = Path(raw)
        start = len(collected)
        reader = _read_jsonl if path.suffix.lower() in {".jsonl", ".ndjson"} else _read_csv
        examples.extend(reader(path, collected))
        if bad is None:
            for row in collected[start:]:
                log.warning("skipped bad row %s", row)
    return examples
