"""What a comment's text and metadata tell about spam, as scikit-learn transformers.

Every transformer takes a sequence of dicts with `content`, `author` and `url`, so one
record flows through the whole pipeline and the service never builds arrays by hand.

Every pattern here runs on text a stranger typed, so each one is linear in the length of
the text: a match may only start where a run of its characters starts (a lookbehind),
and runs are consumed possessively (`++`, `*+`), so no position is scanned over and over.
On 100,000 characters of digits, dots or "www." they take milliseconds, not minutes.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from classifier.normalize import normalize

LINK_RE = re.compile(
    r"(?:https?://|www\.)\S++"
    # No "<" in the attributes: the scan from one "<a " stops where the next tag starts.
    r"|<a\s[^<>]*href"
    r"|\[url[=\]]"
    r"|(?<![\w-])[\w-]++\s*+(?:\.|\bdot\b)\s*+(?:com|net|org|info|biz|ru|xyz|top|io|co)\b",
    re.IGNORECASE,
)
_URL_HOST_RE = re.compile(r"(?:https?://|www\.)([^/\s\"'<>]++)", re.IGNORECASE)
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++\.[\w.-]+")
_MONEY_RE = re.compile(
    r"[$€£]\s?\d|(?<!\d)\d++\s?(?:usd|dollars|k/month|per day|per week)", re.IGNORECASE
)
_NOT_ALNUM_RE = re.compile(r"[^0-9A-Za-z]++")
# Text the identity vectorizer finds a word in: its tokens are two or more word characters.
_HAS_TOKEN_RE = re.compile(r"\w\w")
# The identity text of a comment whose author and website give no word. Without it, data
# with no authors (a `label,text` file) leaves the identity vectorizer without a
# vocabulary and training fails. It only enters a model trained on such comments.
NO_IDENTITY = "__no_identity__"

# Phone numbers: digit groups with the separators people write between them. `\d` is
# every Unicode decimal digit (category Nd, as str.isdecimal), so Persian ۰۹۱۲ and
# Arabic-Indic ٠٥٠ digits count. A candidate never starts inside a word, a number, a
# path or a query string (the lookbehinds); `_is_phone` then judges its shape.
_PHONE_SEP = r"(?:[ \u00a0]?[-.()][ \u00a0]?|[ \u00a0])"
_PHONE_CANDIDATE_RE = re.compile(
    r"(?<![\w/\\=?&#%@~$€£+.\-])(?<!\d[,:٫٬])"
    rf"(?:\+[ \u00a0]?)?\(?\d++(?:{_PHONE_SEP}\d++)*+"
)
_DIGITS_RE = re.compile(r"\d++")
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 9, 15
# One unbroken run of digits longer than this without a "+" is an id or a millisecond
# timestamp (1733093418000), not a number someone is asked to call.
_MAX_BARE_PHONE_DIGITS = 12
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
_DATE_SHAPES = ([4, 2, 2], [2, 2, 4])


def _is_phone(text: str, start: int, end: int) -> bool:
    """Whether the candidate text[start:end] is written as a phone number."""
    after = text[end : end + 2]
    if after:
        first = after[0]
        if first.isalnum() or first in "_=&#%@~\\":  # part of a word, id, hash or query
            return False
        # "22:50", "3,50", "0199.log", "1733093418-slug": it goes on as something else.
        if first in ".,:٫٬-" and len(after) == 2 and (after[1].isalnum() or after[1] == "_"):
            return False
    if text[max(0, start - 2) : start].rstrip()[-1:] in ("$", "€", "£"):  # "$ 1 299 000 000"
        return False
    candidate = text[start:end]
    groups = _DIGITS_RE.findall(candidate)
    digits = sum(len(g) for g in groups)
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
        return False
    if len(groups) == 1:
        return candidate.startswith("+") or digits <= _MAX_BARE_PHONE_DIGITS
    if max(len(g) for g in groups) > _MAX_BARE_PHONE_DIGITS:
        return False
    # Lists of small numbers ("1 2 3 4 5 6 7 8 9", "0.5 0.25 0.125") are not phones; a
    # country code ("+1 800 ...") is the one single digit a phone number usually has.
    if sum(len(g) == 1 for g in groups) > 1:
        return False
    lengths = [len(g) for g in groups]
    seps = [s.strip() for s in _DIGITS_RE.split(candidate)[1:-1]]
    if all(_YEAR_RE.fullmatch(g) for g in groups):  # "2012 2013 2014"
        return False
    # Dates: 2026-12-01 and 01.12.2026, whatever follows.
    if len(groups) >= 3 and seps[0] == seps[1] in ("-", ".") and lengths[:3] in _DATE_SHAPES:
        return False
    if "." in seps:
        # Dotted phone numbers are 800.555.0199 or 06.12.34.56.78. A decimal (3.14159),
        # an IP address (192.168.100.200) or a version (10.0.19045.3803) is not.
        if any(s != "." for s in seps) or len(groups) < 3:
            return False
        if any(not 2 <= n <= 4 for n in lengths[1:]) or lengths[0] > 4:
            return False
        if len(groups) == 4 and max(lengths) <= 3:
            return False
    return True


def has_phone_number(text: str) -> bool:
    """Whether `text` gives a phone number (9 to 15 digits written as one)."""
    for match in _PHONE_CANDIDATE_RE.finditer(text):
        start, end = match.span()
        if _is_phone(text, start, end):
            return True
        # "+1 800 930 9800 24x7", "0912 345 6789 12:30": the last group may belong to
        # what follows it; the number before it is judged once more on its own.
        last = end
        while last > start and text[last - 1].isdecimal():
            last -= 1
        if last - 1 > start and text[last - 1] in " \u00a0" and _is_phone(text, start, last - 1):
            return True
    return False


def content_text(records: Sequence[Mapping[str, str]]) -> list[str]:
    return [r.get("content") or "" for r in records]


def _url_words(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # "http://[oops", a netloc NFKC rejects: no words to take from it
        return ""
    return _NOT_ALNUM_RE.sub(" ", f"{host} {parts.path}")


def identity_text(records: Sequence[Mapping[str, str]]) -> list[str]:
    """Author name and website, split into words: keyword names and shop URLs stand out."""
    out = []
    for r in records:
        url = r.get("url") or ""
        text = f"{r.get('author') or ''} {_url_words(url) if url else ''}"
        # Appended, not substituted: a token pattern that finds more than \w\w loses nothing.
        out.append(text if _HAS_TOKEN_RE.search(text) else f"{text} {NO_IDENTITY}")
    return out


def link_hosts(text: str) -> set[str]:
    return {m.lower().removeprefix("www.") for m in _URL_HOST_RE.findall(text)}


def count_links(text: str) -> int:
    return len(LINK_RE.findall(text))


# --- where a comment points: its links, their anchors, the website field ------------------
#
# Spam on an article exists for its link, and the link is written many ways: a bare URL,
# <a href> with keyword anchor text, BBCode [url=], a domain without a scheme
# ("laptopreviewhub.net/best-laptops"), "shop dot com", or only the website field. A new
# site's spam comes with domains the corpus never saw, so what carries across sites is not
# the domain but its parts: the kind of link, the top-level domain, the words in the host
# and the path ("cheap", "repair", "docs", "wiki", "issues"), and the anchor's words.

# Each pattern stops where the next tag or bracket starts, as LINK_RE does: a tag's
# attributes end at "<" or ">", a BBCode target at "[" or "]", so no text is scanned twice.
_A_TAG_RE = re.compile(r"<a\s([^<>]*+)>([^<]*+)", re.I)
_HREF_VALUE_RE = re.compile(r"""href\s*+=\s*+["']?+([^"'\s<>]++)""", re.I)
_BBCODE_RE = re.compile(r"\[url(?:=([^\]\[\s]++))?+\]([^\[]*+)", re.I)
_SCHEME_URL_RE = re.compile(r"(?:https?://|(?<![\w.@/-])www\.)[^\s<>\"'\[\]()]++", re.I)
# Top-level domains a bare domain is recognised by. Not .md, .rs, .pl, .so, .cc, .sh, .py:
# those end file names far more often than hosts ("README.md", "main.rs").
_BARE_TLDS = (
    "com|net|org|info|biz|ru|xyz|top|io|co|uk|de|fr|in|pk|ae|au|ca|us|me|site|shop|online"
    "|store|club|live|pro|to|ly|tv|nl|es|it|br|cn|jp|tk|ml|ga|su|ua|ir|ng|za|my|ph|vn|tr|mx"
    "|nz|ie|ch|at|be|se|no|dk|gr|pt|edu|gov"
)
_BARE_DOMAIN_RE = re.compile(
    rf"(?<![\w@./:=-])((?:[a-z0-9][a-z0-9-]*+\.)++(?:{_BARE_TLDS}))(?![\w-])(/[^\s<>\"'\[\]()]*+)?",
    re.I,
)
_SPELLED_DOMAIN_RE = re.compile(
    rf"(?<![\w-])([\w-]++)\s++(?:dot|\(dot\)|\[dot\])\s++({_BARE_TLDS})\b", re.I
)
_SHORTENERS = frozenset(
    {"bit.ly", "tinyurl.com", "t.co", "goo.gl", "is.gd", "ow.ly", "cutt.ly", "rb.gy", "shorturl.at"}
)
_WORD_PART_RE = re.compile(r"[a-z]{2,}+")
_MAX_LINKS = 20  # a comment of a hundred links says no more than one of twenty
_MAX_WORDS = 10


@dataclass(frozen=True)
class LinkTarget:
    """One link of a comment: how it was written, its host (lowercase, no "www."), its
    path and, for <a href> and [url=], the anchor text."""

    kind: str  # http | www | html | bbcode | bare | spelled
    host: str
    path: str = ""
    anchor: str = ""


def _split_url(url: str) -> tuple[str, str]:
    if "://" not in url[:12]:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # "http://[oops": no host to take from it
        return "", ""
    return host.removeprefix("www.").rstrip("."), parts.path


@functools.lru_cache(maxsize=64)
def link_targets(text: str) -> tuple[LinkTarget, ...]:
    """Every link in `text` (at most 20), each once: markup first, so an <a href> is one
    html link, not also an http one. Cached: several features read one comment's links."""
    out: list[LinkTarget] = []
    seen: set[str] = set()

    def add(kind: str, url: str, anchor: str = "") -> None:
        host, path = _split_url(url)
        if host and len(out) < _MAX_LINKS:
            out.append(LinkTarget(kind, host, path, anchor.strip()))
        seen.add(url.lower())

    for match in _A_TAG_RE.finditer(text):
        href = _HREF_VALUE_RE.search(match.group(1))
        if href:
            add("html", href.group(1), match.group(2))
    for match in _BBCODE_RE.finditer(text):
        target, anchor = match.group(1), match.group(2)
        add("bbcode", target or anchor, anchor if target else "")
    for match in _SCHEME_URL_RE.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        if url.lower() not in seen:
            add("www" if url[:4].lower() == "www." else "http", url)
    hosts = {t.host for t in out}
    for match in _BARE_DOMAIN_RE.finditer(text):
        host, path = _split_url(match.group(0))
        if host and host not in hosts and len(out) < _MAX_LINKS:
            out.append(LinkTarget("bare", host, path.rstrip(".,;:!?")))
            hosts.add(host)
    for match in _SPELLED_DOMAIN_RE.finditer(text):
        host = f"{match.group(1)}.{match.group(2)}".lower()
        if host not in hosts and len(out) < _MAX_LINKS:
            out.append(LinkTarget("spelled", host))
            hosts.add(host)
    return tuple(out)


def _host_words(host: str) -> list[str]:
    labels = host.split(".")
    return [w for label in labels[:-1] for w in _WORD_PART_RE.findall(label) if w != "www"]


def _path_words(path: str) -> list[str]:
    return _WORD_PART_RE.findall(path.lower())[:_MAX_WORDS]


def _target_tokens(prefix: str, host: str, path: str) -> list[str]:
    tld = host.rsplit(".", 1)[-1]
    tokens = [f"{prefix}tld_{tld}"] if tld.isalpha() else [f"{prefix}ip"]
    tokens += [f"{prefix}host_{w}" for w in _host_words(host)[:_MAX_WORDS]]
    words = _path_words(path)
    tokens += [f"{prefix}path_{w}" for w in words]
    if words:
        tokens.append(f"{prefix}has_path")
    return tokens


def _site_host(record: Mapping[str, str]) -> str:
    url = (record.get("url") or "").strip()
    return _split_url(url)[0] if url else ""


_LOCAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


def is_local_host(host: str) -> bool:
    """A host only the reader's own machine or network reaches: localhost, a bare name
    (the "unix" of nginx's http://unix:/run/app.sock), a private or loopback address."""
    if "." not in host or host.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def link_tokens(text: str) -> list[str]:
    """Words for the links in a comment's text: each link's kind, top-level domain, host
    and path words and anchor words ("link_html", "link_tld_xyz", "link_host_docs",
    "anchor_loans")."""
    tokens: list[str] = []
    for target in link_targets(text):
        if is_local_host(target.host):
            # Pasted from a config or a log: nobody else can follow it, so it promotes
            # nothing, and its "http" must not count as a link to a site.
            tokens.append("link_local")
            continue
        tokens.append(f"link_{target.kind}")
        if target.host in _SHORTENERS:
            tokens.append("link_shortener")
        tokens += _target_tokens("link_", target.host, target.path)
        tokens += [f"anchor_{w}" for w in _WORD_PART_RE.findall(target.anchor.lower())][:_MAX_WORDS]
    return tokens


def where_tokens(record: Mapping[str, str]) -> list[str]:
    """`link_tokens`, then the same words for the website field ("site_tld_com",
    "site_host_github", "site_has_path")."""
    tokens = link_tokens(record.get("content") or "")
    url = (record.get("url") or "").strip()
    if url:
        host, path = _split_url(url)
        tokens += _target_tokens("site_", host, path) if host else ["site_unreadable"]
    return tokens


def _site_identity_words(host: str, path: str) -> list[str]:
    return _host_words(host) + _path_words(path)


def identity_links_text(records: Sequence[Mapping[str, str]]) -> list[str]:
    """The identity branch's text: the author's name and the website's words, as
    `identity_text` has them, then `link_tokens` and whether the website is a page deep
    in a site rather than a home page.

    The website keeps its bare words, not prefixed tokens: a keyword name and a keyword
    domain share them ("Trading Italia", trading-facile.it), so what one teaches carries
    to the other. Its top-level domain is left out: on a site whose other words the model
    never saw, "com" was the one word it knew, carried the whole branch after the l2 norm
    and marked a reader's company site spam (benchmarks/model_comparison.md). Links in the
    text get tokens, since the words branch sees their text but not which part of which
    link a word came from.
    """
    out = []
    for r in records:
        url = (r.get("url") or "").strip()
        parts = [r.get("author") or ""]
        if url:
            host, path = _split_url(url)
            parts += _site_identity_words(host, path)
            if _path_words(path):
                parts.append("site_has_path")
        parts += link_tokens(r.get("content") or "")
        text = " ".join(parts)
        out.append(text if _HAS_TOKEN_RE.search(text) else f"{text} {NO_IDENTITY}")
    return out


def _site_words(record: Mapping[str, str]) -> str:
    host, path = _split_url((record.get("url") or "").strip())
    return _NOT_ALNUM_RE.sub(" ", f"{host} {path}").strip() if host else ""


def content_and_site_text(records: Sequence[Mapping[str, str]]) -> list[str]:
    """The text, then the website's host and path: the character n-grams then see inside
    a run-together domain ("houstonroofpros", "kidsbunkbeds"), which no word split can."""
    return [f"{r.get('content') or ''}\n{_site_words(r)}" for r in records]


def content_and_identity_text(records: Sequence[Mapping[str, str]]) -> list[str]:
    """The text, then the author and the website's host and path."""
    return [f"{r.get('content') or ''}\n{r.get('author') or ''} {_site_words(r)}" for r in records]


# --- contact details spammers hide from filters --------------------------------------------

_NUMBER_WORDS = {
    "zero": 1, "oh": 1, "o": 1, "one": 1, "two": 1, "three": 1, "four": 1, "five": 1,
    "six": 1, "seven": 1, "eight": 1, "nine": 1, "hundred": 2, "thousand": 3,
    # Persian and Arabic, as `normalize` leaves them (ي ك ة أ folded to ی ک ه ا).
    "صفر": 1, "یک": 1, "دو": 1, "سه": 1, "چهار": 1, "پنج": 1, "شش": 1, "هفت": 1,
    "هشت": 1, "نه": 1, "واحد": 1, "اثنان": 1, "اثنین": 1, "ثلاثه": 1, "اربعه": 1,
    "خمسه": 1, "سته": 1, "سبعه": 1, "ثمانیه": 1, "تسعه": 1,
}  # fmt: skip
_LEAD_ONLY = frozenset({"o", "oh", "hundred", "thousand"})  # never the first of a number
_DIGITISH_RE = re.compile(r"[0-9o]++")
_PHONE_SEPARATORS = frozenset("-.()/,+\u060c")  # \u060c: the Arabic comma
_SPELLED_TOKEN_RE = re.compile(r"\w++|[^\w\s]")


def has_spelled_phone_number(text: str) -> bool:
    """A phone number written to get past filters: with number words ("one eight four four,
    five zero two ..."), letter O for zero ("8OO"), or as single digits spaced apart in
    groups ("1 8 4 4 - 3 0 2 - 9 1 7 7"). Plain digit numbers are `has_phone_number`'s.

    One pass over the words: a run of digits and number words, which separators do not
    break and any other word ends, is judged by how many digits it spells.
    """
    run = _Run()
    for token in _SPELLED_TOKEN_RE.findall(normalize(text).lower()):
        if token in _PHONE_SEPARATORS:
            run.groups += run.digits > 0
        elif token.isdecimal():
            run.add(len(token), single=len(token) == 1)
        elif token in _NUMBER_WORDS and (run.digits or token not in _LEAD_ONLY):
            run.add(_NUMBER_WORDS[token], spelled=True)
        elif _DIGITISH_RE.fullmatch(token) and (run.digits or token[0].isdecimal()):
            run.add(len(token), spelled=True)  # "8oo", "7o2"
        else:
            if run.is_phone():
                return True
            run = _Run()
    return run.is_phone()


@dataclass
class _Run:
    digits: int = 0
    tokens: int = 0
    singles: int = 0
    groups: int = 0
    spelled: bool = False

    def add(self, digits: int, *, single: bool = False, spelled: bool = False) -> None:
        self.digits += digits
        self.tokens += 1
        self.singles += single
        self.spelled = self.spelled or spelled

    def is_phone(self) -> bool:
        if not _MIN_PHONE_DIGITS <= self.digits <= _MAX_PHONE_DIGITS:
            return False
        # "1 2 3 4 5 6 7 8 9" is a list and "0.5 0.25 0.125" decimals; "1 8 4 4 - 3 0 2 -
        # 9 1 7 7" is single digits grouped like a number.
        spaced = self.singles >= 6 and 4 * self.singles >= 3 * self.tokens and self.groups >= 2
        return self.spelled or spaced


# Messenger names as readers of the site's three languages (and Russian spam) write them,
# matched on normalized text (Arabic yeh and kaf folded to the Persian letters, alef
# variants to alef). Arabic and Persian names go without \b: Arabic prefixes the article
# ("الواتساب").
_MESSENGER_RE = re.compile(
    r"\b(?:whats\s?app|telegram|signal|viber|skype|snapchat|wechat|kik|line\s+id)\b"
    r"|تلگرام|تل(?:ی|ي)?(?:ج|غ)رام|واتس\s?ا?(?:پ|ب)|واتس|ایتا|روبیکا"
    r"|\b(?:телеграм|ватсап|вотсап|вайбер)",
    re.I,
)
_HANDLE_RE = re.compile(r"(?<![\w@.])@[A-Za-z_][\w.]{2,}+|\blive:[\w.]++", re.I)
_REPLY_TO_RE = re.compile(r"^\s*+@[\w.]++")
_MESSENGER_LINK_RE = re.compile(
    r"(?<![\w.-])(?:t\.me|telegram\.me|wa\.me|chat\.whatsapp\.com|api\.whatsapp\.com)/", re.I
)
_MAIL_TLDS = r"(?:com|net|org|co|uk|me|io|info|biz)\b"
_HIDDEN_EMAIL_RE = re.compile(
    r"(?<![\w.-])[\w.-]++(?:\s*+(?:\(at\)|\[at\])|\s++at\b)\s*+[\w-]++"
    rf"(?:\s*+(?:\(dot\)|\[dot\])|\s++dot\b)\s*+{_MAIL_TLDS}",
    re.I,
)


def has_contact_handle(text: str) -> bool:
    """A messenger contact: a t.me or wa.me link, a messenger named next to a handle or a
    number ("WhatsApp +44 ...", "telegram @name"), or an e-mail written around filters
    ("name (at) gmail (dot) com")."""
    if _MESSENGER_LINK_RE.search(text) or _HIDDEN_EMAIL_RE.search(text):
        return True
    if not _MESSENGER_RE.search(normalize(text)):
        return False
    # A reply starts with the name it answers ("@Mei I use Signal too"): not a contact.
    rest = _REPLY_TO_RE.sub("", text, count=1)
    return bool(_HANDLE_RE.search(rest) or has_phone_number(text))


def site_in_text(record: Mapping[str, str]) -> bool:
    """The website field's domain is linked in the text too: one site advertised twice."""
    host = _site_host(record)
    return bool(host) and any(t.host == host for t in link_targets(record.get("content") or ""))


def markup_links(text: str) -> int:
    """Links written as HTML or BBCode: readers paste addresses, link builders write anchors."""
    return sum(t.kind in ("html", "bbcode") for t in link_targets(text))


# Where readers point when they cite: code hosts, Q&A sites, encyclopaedias, standards
# bodies, documentation, archives, public bodies. Spam points at a shop. A host matches
# itself and its subdomains; docs.*, developer.*, wiki.* and government, academic and
# international top-level domains count too.
_REFERENCE_HOSTS = frozenset(
    {
        "github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "sr.ht",
        "stackoverflow.com", "stackexchange.com", "superuser.com", "serverfault.com",
        "askubuntu.com", "wikipedia.org", "wikimedia.org", "wikidata.org", "wiktionary.org",
        "mozilla.org", "python.org", "pypi.org", "npmjs.com", "crates.io", "readthedocs.io",
        "readthedocs.org", "archive.org", "ietf.org", "w3.org", "whatwg.org", "arxiv.org",
        "doi.org", "nih.gov", "who.int", "europa.eu", "kernel.org", "debian.org",
        "ubuntu.com", "rust-lang.org", "go.dev", "golang.org", "php.net", "nodejs.org",
        "postgresql.org", "sqlite.org", "gnu.org", "apache.org", "git-scm.com",
    }
)  # fmt: skip
_REFERENCE_PREFIXES = ("docs.", "developer.", "developers.", "wiki.", "learn.")
_REFERENCE_SUFFIXES = (".gov", ".edu", ".int", ".mil")
_REFERENCE_SECOND_LEVEL = frozenset({"gov", "ac", "edu", "govt", "gob", "gouv"})


def is_reference_host(host: str) -> bool:
    """Whether a link to `host` is a citation (documentation, code, encyclopaedia, a public
    body) rather than a destination someone is paid to send readers to."""
    host = host.lower()
    labels = host.split(".")
    if len(labels) < 2:
        return False
    if host.startswith(_REFERENCE_PREFIXES) or host.endswith(_REFERENCE_SUFFIXES):
        return True
    if len(labels) >= 3 and labels[-2] in _REFERENCE_SECOND_LEVEL:  # gov.uk, ac.jp
        return True
    # Every listed host is two or three labels long: only the host's last two and three.
    return ".".join(labels[-2:]) in _REFERENCE_HOSTS or ".".join(labels[-3:]) in _REFERENCE_HOSTS


def only_reference_links(text: str) -> bool:
    """The comment has links and every one of them is a citation. All, not a share: one
    wikipedia link must not buy a shop link a pass."""
    targets = link_targets(text)
    return bool(targets) and all(is_reference_host(t.host) for t in targets)


_NAME_WORD_RE = re.compile(r"[^\W\d_]{3,}+")


def site_named_after_author(record: Mapping[str, str]) -> bool:
    """The website carries the commenter's name ("Ruth Abebe", ruthabebe.wordpress.com;
    "Colm", github.com/colmk): a person's own site. A keyword name of three words or more
    ("Roof Repair Houston", houstonroofpros.com) is left out: that is the other case."""
    author = normalize(record.get("author") or "").lower()
    words = author.split()
    if not words or len(words) > 2:
        return False
    host, path = _split_url((record.get("url") or "").strip())
    if not host:
        return False
    where = " ".join([*host.split(".")[:-1], *path.lower().split("/")[:3]])
    return any(word in where for word in _NAME_WORD_RE.findall(author))


_LENGTH_CAP = 160
_META_FEATURES: dict[str, Callable[[Mapping[str, str]], float]] = {
    "links": lambda r: math.log1p(count_links(r.get("content") or "")),
    "link_domains": lambda r: math.log1p(len(link_hosts(r.get("content") or ""))),
    "url_in_author": lambda r: float(bool(LINK_RE.search(r.get("author") or ""))),
    "phone_number": lambda r: float(has_phone_number(r.get("content") or "")),
    "email_in_text": lambda r: float(bool(_EMAIL_RE.search(r.get("content") or ""))),
    "money": lambda r: float(bool(_MONEY_RE.search(r.get("content") or ""))),
    "log_length": lambda r: math.log1p(len(r.get("content") or "")),
    # Capped: a short reply ("+1", "Thanks!") is no evidence of spam, but past a couple of
    # sentences length says nothing, and uncapped it held long ordinary comments.
    "log_length_capped": lambda r: math.log1p(min(len(r.get("content") or ""), _LENGTH_CAP)),
    "markup_links": lambda r: math.log1p(markup_links(r.get("content") or "")),
    "spelled_phone": lambda r: float(has_spelled_phone_number(r.get("content") or "")),
    "contact_handle": lambda r: float(has_contact_handle(r.get("content") or "")),
    "site_in_text": lambda r: float(site_in_text(r)),
    "reference_links": lambda r: float(only_reference_links(r.get("content") or "")),
    "site_named_after_author": lambda r: float(site_named_after_author(r)),
}
# What models trained before the feature list became a parameter computed, in this order:
# their files hold a CommentMetadata without `features`, and must score as they did.
LEGACY_META = (
    "links",
    "link_domains",
    "url_in_author",
    "phone_number",
    "email_in_text",
    "money",
    "log_length",
)


class CommentMetadata(TransformerMixin, BaseEstimator):
    """Numeric signals about what a comment carries: links, contact details, money, length.

    Stateless: `fit` learns nothing. Only payload signals that mean the same thing wherever
    comments come from are kept. Style and author-shape features (capitals, exclamation
    marks, repeated or non-letter characters, digits, author word count or keyword-like
    names, "has a website") were dropped: trained on the seed corpus they described its
    writing style rather than spam and marked ordinary comments from other sites as spam
    (benchmarks/model_comparison.md). The identity branch still reads author and website.

    `features` picks and orders the signals (benchmarks compare sets); None is `names`,
    the shipped set.
    """

    names = (
        "url_in_author",
        "phone_number",
        "email_in_text",
        "money",
        "log_length",
        "markup_links",
        "spelled_phone",
        "contact_handle",
        "site_in_text",
        "reference_links",
    )
    available = tuple(_META_FEATURES)

    def __init__(self, features: Sequence[str] | None = None) -> None:
        self.features = features

    @property
    def feature_names(self) -> tuple[str, ...]:
        # A model file written before `features` existed has no such attribute.
        features = self.__dict__.get("features", LEGACY_META)
        return type(self).names if features is None else tuple(features)

    def fit(self, records: Sequence[Mapping[str, str]], y: object = None) -> CommentMetadata:
        unknown = set(self.feature_names) - set(_META_FEATURES)
        if unknown:
            raise ValueError(f"unknown metadata features: {sorted(unknown)}")
        self.n_features_in_ = len(self.feature_names)
        return self

    def transform(self, records: Sequence[Mapping[str, str]]) -> np.ndarray:
        names = self.feature_names
        return np.array([self.row(r, names) for r in records], dtype=np.float64).reshape(
            -1, len(names)
        )

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(list(self.feature_names), dtype=object)

    @staticmethod
    def row(record: Mapping[str, str], names: Sequence[str] | None = None) -> list[float]:
        """The values of `names` (the shipped set by default) for one comment."""
        return [_META_FEATURES[name](record) for name in (names or CommentMetadata.names)]
