"""The form stamp (minimum fill-in time) and the word list: both send a comment to review."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from moderation.config import ConfigError, Settings
from moderation.formstamp import issue_stamp, stamp_age
from moderation.rules import check_rules, matching_words
from tests.conftest import comment

API = "/api/v1/comments"
KEY = b"k" * 32


def rules(**fields: str | None) -> list[dict[str, str]]:
    body = {"content": "A polite remark.", "author": "Ann", **fields}
    hits = check_rules(
        body,
        max_links=2,
        word_list=("casino", "free money", "c++"),
        min_fill_seconds=3,
        stamp_key=KEY,
    )
    return [hit.as_dict() for hit in hits]


# --- the stamp ------------------------------------------------------------------------


def test_stamp_round_trip_measures_age_to_the_millisecond():
    stamp = issue_stamp(KEY, now=1000.0)
    assert stamp_age(stamp, KEY, now=1002.5) == pytest.approx(2.5)
    assert stamp_age(stamp, b"another key" * 3, now=1002.5) is None
    assert stamp_age(stamp[:-2] + "xx", KEY) is None
    assert stamp_age("1000000", KEY) is None


def test_a_stamp_younger_than_the_minimum_is_too_fast():
    young = issue_stamp(KEY, now=time.time() - 1)
    [hit] = rules(stamp=young)
    assert hit["rule"] == "too_fast"
    assert hit["outcome"] == "pending"
    assert "minimum 3 s" in hit["detail"]
    # The values, for pages that say it in their reader's language.
    assert hit["params"]["minimum"] == 3 and 0 <= hit["params"]["seconds"] < 3


def test_an_old_enough_stamp_fires_nothing():
    assert rules(stamp=issue_stamp(KEY, now=time.time() - 4)) == []


@pytest.mark.parametrize(
    "stamp",
    ["forged", issue_stamp(b"not our key" * 3), issue_stamp(KEY) + "0", "\udc80"],
    # Fixed ids: the stamps hold the time, and parallel workers must collect the same tests.
    ids=["garbage", "other-key", "tampered", "lone-surrogate"],
)
def test_a_forged_stamp_is_the_same_rule_with_another_detail(stamp):
    [hit] = rules(stamp=stamp)
    assert hit == {
        "rule": "too_fast",
        "outcome": "pending",
        "detail": "the form stamp is invalid or forged",
        "params": {"forged": True},
    }


def test_no_stamp_fires_nothing():
    # Plain API clients never fetch a form, so they have no stamp to send.
    assert rules() == []
    assert rules(stamp="") == []


# --- the word list --------------------------------------------------------------------


def test_word_list_matches_whole_words_ignoring_case():
    words = ("casino", "free money", "c++")
    assert matching_words(["Best CASINO in town"], words) == ["casino"]
    assert matching_words(["casinos", "the casinoroyale"], words) == []
    assert matching_words(["get FREE\n  money now"], words) == ["free money"]
    assert matching_words(["freemoney", "free moneyball"], words) == []
    assert matching_words(["I write C++ daily"], words) == ["c++"]
    assert matching_words(["C++11"], words) == []  # a word character right after


def test_word_list_hit_names_the_words_in_list_order():
    [hit] = rules(content="Free money! Visit the casino.", author="Casino Bob")
    assert hit == {
        "rule": "word_list",
        "outcome": "pending",
        "detail": "matched: casino, free money",
        "params": {"words": ["casino", "free money"]},
    }


def test_word_list_looks_at_author_and_website_too():
    assert rules(author="casino king")[0]["detail"] == "matched: casino"
    assert rules(url="https://best-casino.example.com/")[0]["detail"] == "matched: casino"


def test_settings_read_the_word_list_and_minimum():
    settings = Settings.from_env(
        {
            "MODERATION_WORD_LIST": " Casino ,free   MONEY,, casino",
            "MODERATION_MIN_FILL_SECONDS": "5",
        }
    )
    assert settings.word_list == ("casino", "free money")
    assert settings.min_fill_seconds == 5
    assert Settings.from_env({}).word_list == ()
    assert Settings.from_env({}).min_fill_seconds == 3
    with pytest.raises(ConfigError, match="MODERATION_MIN_FILL_SECONDS"):
        Settings.from_env({"MODERATION_MIN_FILL_SECONDS": "-1"})


# --- over HTTP ------------------------------------------------------------------------


@pytest.fixture
def settings(settings):
    return replace(settings, word_list=("casino", "free money"), min_fill_seconds=3)


def test_form_stamp_endpoint(live, http, app):
    r = http.get(live + "/api/v1/form-stamp")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    age = stamp_age(r.json()["stamp"], app.secret_key)
    assert age is not None and 0 <= age < 5


def test_posting_right_after_getting_the_stamp_goes_to_review(live, http, services):
    stamp = http.get(live + "/api/v1/form-stamp").json()["stamp"]
    r = http.post(live + API, json=comment(stamp=stamp))
    assert r.status_code == 201
    assert r.json()["status"] == "pending"
    stored = services.comments.get(r.json()["id"])
    assert [hit["rule"] for hit in stored["rules"]] == ["too_fast"]
    assert "minimum 3 s" in stored["rules"][0]["detail"]


def test_a_stamp_from_long_enough_ago_publishes(live, http, app, services):
    stamp = issue_stamp(app.secret_key, now=time.time() - 30)
    r = http.post(live + API, json=comment(stamp=stamp))
    assert r.json()["status"] == "published"
    assert services.comments.get(r.json()["id"])["rules"] == []


def test_a_forged_stamp_goes_to_review_over_http(live, http, services):
    r = http.post(live + API, data=comment(stamp="1700000000000.forged.sig"))
    assert r.json()["status"] == "pending"
    [hit] = services.comments.get(r.json()["id"])["rules"]
    assert hit["detail"] == "the form stamp is invalid or forged"


def test_a_listed_word_sends_the_comment_to_review(live, http, services):
    r = http.post(live + API, json=comment(content="Great article. Also: FREE money at my casino!"))
    assert r.status_code == 201
    assert r.json()["status"] == "pending"
    [hit] = services.comments.get(r.json()["id"])["rules"]
    assert hit == {
        "rule": "word_list",
        "outcome": "pending",
        "detail": "matched: casino, free money",
        "params": {"words": ["casino", "free money"]},
    }
    assert http.get(live + "/api/v1/threads/news/2026/city-budget/comments").json()["total"] == 0


def test_a_stamp_that_is_too_long_is_a_field_error(live, http):
    r = http.post(live + API, json=comment(stamp="x" * 201))
    assert r.status_code == 422
    assert set(r.json()["error"]["fields"]) == {"stamp"}
