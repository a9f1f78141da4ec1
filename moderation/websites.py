"""Website URLs whose host may be an internationalised domain name (https://مثال.ایران/).

The host is checked by IDNA 2008 (the `idna` package, UTS 46 mapping) rather than a
hand-written pattern; the rest of the URL by RFC 3987's IRI syntax. A website is stored as
typed, linked in its ASCII form (punycode host, %-encoded path) and shown to people with
its host in Unicode.
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import quote

import idna
from marshmallow import ValidationError

# Nowhere in a website: spaces, controls and the characters that reorder text.
_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# RFC 3987's ucschar: the non-ASCII characters an IRI may hold (its path, query, fragment).
_UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    + "".join(f"{chr(plane << 16)}-{chr((plane << 16) + 0xFFFD)}" for plane in range(1, 14))
    + "\U000e1000-\U000efffd"
)
_ICHAR = rf"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{{2}}|[{_UCSCHAR}])"
_REST = re.compile(rf"(?:/{_ICHAR}*)*(?:\?(?:{_ICHAR}|[/?])*)?(?:#(?:{_ICHAR}|[/?])*)?")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
_PRINTABLE_ASCII = "".join(map(chr, range(0x21, 0x7F)))
# Documented in the OpenAPI document: everything the service accepts (and more: only IDNA
# can say which hosts are valid). ECMA-262 syntax, as OpenAPI patterns are.
WEBSITE_PATTERN = (
    r"^$|^https?://[^\s/?#@:\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+"
    r"(?::[0-9]{1,5})?(?:[/?#][^\s\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*)?$"
)


def _website_parts(url: str) -> tuple[str, str, str, str] | None:
    """(scheme, ASCII host, ":port" or "", the rest) of a valid website URL, else None."""
    scheme = next((s for s in ("https://", "http://") if url.startswith(s)), None)
    if scheme is None or _URL_FORBIDDEN.search(url):
        return None
    after = url[len(scheme) :]
    end = min([i for i in map(after.find, "/?#") if i >= 0] or [len(after)])
    netloc, rest = after[:end], after[end:]
    host, colon, port = netloc.partition(":")
    if (colon and not re.fullmatch(r"[0-9]{1,5}", port)) or not _REST.fullmatch(rest):
        return None
    try:
        ascii_host = idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    labels = ascii_host.split(".")
    if len(labels) < 2 or not _TLD.fullmatch(labels[-1]):
        return None  # a name with a top-level domain: no bare hosts or IP addresses
    return scheme, ascii_host, colon + port, rest


def is_website(url: str) -> bool:
    """Whether `url` is an http(s) URL with a valid (IDNA 2008) host name and TLD."""
    return _website_parts(url) is not None


def check_website(value: str) -> None:
    """A marshmallow validator: "" or an http(s) URL whose host is valid IDNA 2008."""
    if value and not is_website(value):
        raise ValidationError("Not a valid http or https URL.")


def website_href(url: str) -> str | None:
    """The URL as ASCII for href (punycode host, %-encoded path); None if not a website."""
    parts = _website_parts(url)
    if parts is None:
        return None
    scheme, host, port, rest = parts
    return scheme + host + port + quote(rest, safe=_PRINTABLE_ASCII)


def website_text(url: str) -> str:
    """The URL with its host in Unicode, for people to read: https://مثال.ایران/."""
    parts = _website_parts(url)
    if parts is None:
        return url
    scheme, host, port, rest = parts
    with contextlib.suppress(idna.IDNAError, UnicodeError):
        host = idna.decode(host)
    return scheme + host + port + rest
