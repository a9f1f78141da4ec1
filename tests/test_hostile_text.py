"""Text a stranger typed: every pattern stays linear, odd text never breaks feature
extraction, and only phone numbers count as phone numbers."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.features import CommentMetadata, count_links, identity_text, link_hosts
from classifier.persistence import load_model
from moderation.rules import check_rules
from moderation.text import render_content

# Units repeated into one long comment. Each once made a pattern try every start position
# and scan on to the end: quadratic, so 10,000 digits took 42 s to score and explain.
PATHOLOGICAL = {
    "digits": "1",
    "x": "x",
    "a.": "a.",
    "www.": "www.",
    "$1": "$1",
    "1 1": "1 ",
    "@": "@",
    "http://": "http://",
    "a-": "a-",
    "a@": "a@",
    "<a ": "<a ",
    "1.": "1.",
    "+1 ": "+1 ",
    "(1) ": "(1) ",
    "persian digits": "۱",
    "mixed": "1.a-x@www.$1 http://",
}
# Linear costs milliseconds per 100,000 characters; quadratic costs minutes (2,000 s for
# the digits), so this bound holds on a loaded machine and still catches a regression.
GENEROUS_SECONDS = 5.0


@pytest.fixture(scope="module")
def model(model_path):
    return load_model(model_path)


def phone(text: str) -> bool:
    return bool(CommentMetadata.row({"content": text})[CommentMetadata.names.index("phone_number")])


@pytest.mark.parametrize("unit", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_text_scores_and_explains_in_linear_time(model, unit):
    # Smaller first: a quadratic pattern fails on 10,000 characters within a minute
    # instead of grinding through 100,000 for an hour.
    for size in (10_000, 100_000):
        text = (unit * (size // len(unit) + 1))[:size]
        record = {"content": text, "author": text, "url": "http://" + text}
        started = time.perf_counter()
        score = model.score(record)
        explained, reasons = model.score_and_explain(record)
        check_rules(record, max_links=3, word_list=("free money", "x x"))
        render_content(text)
        elapsed = time.perf_counter() - started
        assert elapsed < GENEROUS_SECONDS, (unit, size, elapsed)
        assert 0.0 <= score <= 1.0 and explained == score and reasons


def test_link_and_host_counts_are_unchanged_by_the_linear_patterns():
    text = (
        "see http://a.example/x and www.b.example, <a class='c' href='http://c.example'>c</a>, "
        "[url=http://d.example]d[/url], shop dot com and my-shop . net but not example.company"
    )
    assert count_links(text) == 8  # as the earlier, quadratic patterns counted
    hosts = (
        "http://A.example/x www.b.example and https://www.c.example?q=1 <a href='http://d.example'>"
    )
    assert link_hosts(hosts) == {"a.example", "b.example", "c.example?q=1", "d.example"}
    assert count_links("a-" * 50_000) == 0 and count_links("<a " * 30_000) == 0


HOSTILE_PIECES = [
    "1", "۱", "٠", "9", " ", "  ", ".", "-", "(", ")", "+", "@", "x", "www.", "http://",
    "https://[", "$", "€", ":", "/", "=", ",", "\n", "\u00a0", "<a ", "href", "[url=", "dot",
    "com", "٫", "\u200c", "é", "ـ", "\ufeff", "%", "_",
]  # fmt: skip
hostile = st.lists(st.sampled_from(HOSTILE_PIECES), max_size=60).map("".join)
any_text = st.one_of(st.text(max_size=200), hostile)


@given(content=any_text, author=any_text, url=st.one_of(any_text, hostile.map("http://".__add__)))
@settings(max_examples=400, deadline=None)
def test_feature_extraction_never_raises(content, author, url):
    record = {"content": content, "author": author, "url": url}
    row = CommentMetadata.row(record)
    assert len(row) == len(CommentMetadata.names) and all(math.isfinite(v) for v in row)
    (identity,) = identity_text([record])
    assert identity.strip(), "never empty: the identity vectorizer needs a word"
    assert isinstance(link_hosts(content), set)


@given(content=any_text, author=any_text, url=any_text)
@settings(max_examples=60, deadline=None)
def test_lean_scorer_matches_the_pipeline_on_odd_text(model, content, author, url):
    record = {"content": content, "author": author, "url": url}
    assert np.isclose(model.score(record), model.score_many([record])[0], atol=1e-9)


PHONES = [
    "+1 (800) 555-0199",
    "1-800-555-0199",
    "0912 345 6789",
    "800.555.0199",
    "+44 20 7946 0958",
    "+44 (0) 20 7946 0958",
    "+7 (925) 418-22-73",
    "۰۹۱۲ ۳۴۵ ۶۷۸۹",  # Persian digits
    "٠٥٠١٢٣٤٥٦٧",  # Arabic-Indic digits
    "Call +1 800 930 9800 24x7 for help",
    "WhatsApp:+62 857 2211 9043",
    "whatsapp 97834983300 now",
    "tel:+18005550199",
]
NOT_PHONES = [
    "pi is 3.14159265358 or so",
    "the router is at 192.168.100.200:8080",
    "logged 2026-12-01T22:50:18Z",
    "logged at 2026-12-01 22:50:18 UTC",
    "see https://example.com/builds/1733093418000/log",
    "https://example.com/watch?v=1733093418000&t=12",
    "https://www.kickstarter.com/projects/54851192682/darkhollow",
    "id 1733093418000",
    "Windows 10.0.19045.3803",
    "commit 9e107d9d372bb6826bd81d3542a419d6",
    "sha 3f9a2b71c0d4e5f60718293a4b5c6d7e8f901234",
    "uuid 550e8400-e29b-41d4-a716-446655440000",
    "it costs 1,299,000 now, $1,299,000,000 later",
    "ISBN 978-3-16-148410-0",
    "in 2012 2013 2014 2015",
    "1 1 1 1 1 1 1 1 1 1 1 1",
    "0.5 0.25 0.125 0.0625",
    "۳٫۱۴۱۵۹۲۶۵۳۵۸",  # a Persian decimal
]


@pytest.mark.parametrize("text", PHONES)
def test_phone_numbers_are_recognised(text):
    assert phone(text)


@pytest.mark.parametrize("text", NOT_PHONES)
def test_numbers_that_are_not_phone_numbers(text):
    assert not phone(text)


def test_technical_ham_is_not_a_phone_spam(model):
    """Versions, timestamps, addresses and ids once read as a phone number and sent this
    comment to the spam folder, with "phone number" as its strongest reason."""
    record = {
        "content": "Upgraded to Windows 10.0.19045.3803 yesterday and the driver still fails. "
        "The log at 2026-12-01 22:50:18 shows the request to 192.168.100.200 timing out, see "
        "https://example.com/builds/1733093418000/log for the build. Commit "
        "9e107d9d372bb6826bd81d3542a419d6 fixed it for me.",
        "author": "Jonas Berg",
        "url": "",
    }
    score, reasons = model.score_and_explain(record, top=10)
    assert score < 0.9
    assert not [weight for name, weight in reasons if name == "meta:phone_number" and weight > 0]
