"""Comment text as safe HTML: everything escaped, paragraphs and line breaks kept."""

from __future__ import annotations

import re

from markupsafe import escape

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def render_content(text: str) -> str:
    """Comments are plain text: no markup from a commenter ever renders as markup."""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n"))]
    return "".join(f"<p>{escape(p)}</p>".replace("\n", "<br>") for p in paragraphs if p)
