"""Comment spam as an article's comment form gets it (issue 12): the default model, the
features that carry across sites, and the evaluation helpers that measure it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifier.corpus import load_seed_corpus, seed_files
from classifier.data import Example, read_examples
from classifier.features import (
    LEGACY_META,
    CommentMetadata,
    content_and_site_text,
    has_contact_handle,
    has_spelled_phone_number,
    identity_links_text,
    is_local_host,
    is_reference_host,
    link_targets,
    link_tokens,
    markup_links,
    only_reference_links,
    site_in_text,
    site_named_after_author,
    where_tokens,
)
from classifier.generalisation import (
    GIVEN_NAMES,
    NEAR_DUPLICATE,
    NEUTRAL_COMMENTS,
    SURNAMES,
    UNSEEN_NAME,
    campaign_groups,
    cluster_summary,
    f1_at_prevalence,
    grouped_cv_scores,
    held_out_scores,
    jaccard,
    kind_groups,
    leave_one_kind_out,
    leave_one_source_out,
    name_counts,
    name_shift,
    near_duplicate_clusters,
    word_shingles,
)
from classifier.model import train_model
from classifier.normalize import normalize
from classifier.persistence import load_model, save_model
from moderation.config import Settings

ROOT = Path(__file__).resolve().parent.parent
PROBES = ROOT / "benchmarks" / "article_probes.jsonl"
PUBLISH_BELOW, SPAM_ABOVE = Settings.publish_below, Settings.spam_above

# Written for this test: in no corpus file and not among benchmarks/article_probes.jsonl
# (checked below), so the model has never seen them.
FRESH_SPAM = {
    "praise with a backlink": {
        "content": "Your explanation of the rebase workflow finally made it click for me, thanks a "
        "lot. I put together a similar cheat sheet for my students at "
        "https://gitmaster-pro-courses.com/cheatsheet",
        "author": "Kelly Dawson",
        "url": "",
    },
    "link only in the website field": {
        "content": "Really useful article, thank you for writing it!",
        "author": "Ashley",
        "url": "https://best-kitchen-knives-review.com/chef-knives",
    },
    "helpline with a spelled-out number": {
        "content": "If the update still fails after step three, our certified team fixes it "
        "remotely, just call one eight eight eight, four zero two, six six one five.",
        "author": "Support Team",
        "url": "",
    },
    "BBCode link": {
        "content": "Helpful, thanks. [url=https://cheap-ugg-boots-outlet.com]cheap ugg boots[/url]",
        "author": "Jeffreyfub",
        "url": "",
    },
    "keyword author name": {
        "content": "Nice article, thanks for the info.",
        "author": "Affordable Car Insurance Quotes Online",
        "url": "https://carinsurance-quotes-compare.com",
    },
    "WhatsApp recovery scam": {
        "content": "I lost 2 BTC to a fake exchange and a recovery expert got it all back within "
        "a week. Reach him on WhatsApp +1 (415) 908-3372, he is legit.",
        "author": "Pamela Reid",
        "url": "",
    },
}
FRESH_HAM = {
    "a reader's stack trace": {
        "content": "Step 2 breaks on macOS for me:\n\nTraceback (most recent call last):\n"
        '  File "/Users/ana/proj/run.py", line 8, in <module>\n    import yaml\n'
        "ModuleNotFoundError: No module named 'yaml'\n\nThe package is called pyyaml on PyPI, "
        "installing that fixed it.",
        "author": "Ana Ribeiro",
        "url": "",
    },
    "a correction with a link to its source": {
        "content": "Minor correction: the EU copyright directive was adopted in 2019, not 2017, "
        "see https://eur-lex.europa.eu/eli/dir/2019/790/oj . 2017 was the first draft.",
        "author": "Matthias Roth",
        "url": "",
    },
    "+1": {"content": "+1, exactly what I was going to ask", "author": "sam_k", "url": ""},
    "thanks with a personal site": {
        "content": "Thank you for this write-up, I linked it from my notes on home servers.",
        "author": "Ingrid Halvorsen",
        "url": "https://ingridh.dev",
    },
    "a question about a step": {
        "content": "In step 5 the command asks for a region. Does it matter which one I pick if "
        "all my users are in Europe?",
        "author": "Reza",
        "url": "",
    },
    "a reply with the fix": {
        "content": "@Reza pick the one closest to your users, eu-central-1 or eu-west-1; the "
        "article uses us-east-1 only because it is the default.",
        "author": "Marta K.",
        "url": "",
    },
}


@pytest.fixture(scope="module")
def model(model_path):
    return load_model(model_path)


def test_the_fresh_comments_are_in_no_corpus_file_and_no_probe():
    seen = {normalize(ex.content) for ex in load_seed_corpus()}
    seen |= {normalize(ex.content) for ex in read_examples([PROBES])}
    for record in (*FRESH_SPAM.values(), *FRESH_HAM.values()):
        assert normalize(record["content"]) not in seen, record["content"]


def test_the_benchmark_probes_are_in_no_corpus_file():
    corpus = {normalize(ex.content) for ex in load_seed_corpus()}
    probes = read_examples([PROBES])
    assert len(probes) >= 100 and {ex.label for ex in probes} == {0, 1}
    assert not [ex.content for ex in probes if normalize(ex.content) in corpus]


@pytest.mark.parametrize("name", FRESH_SPAM)
def test_article_comment_spam_is_not_published(model, name):
    assert model.score(FRESH_SPAM[name]) >= PUBLISH_BELOW


@pytest.mark.parametrize("name", FRESH_HAM)
def test_hard_ham_is_published(model, name):
    assert model.score(FRESH_HAM[name]) < PUBLISH_BELOW


def test_no_common_name_is_mostly_spam_in_the_seed_corpus():
    # Spam written with stock names taught the model that "Linda Moore" is a spammer.
    counts = name_counts(load_seed_corpus(), [*GIVEN_NAMES, *SURNAMES])
    assert {name: hs for name, hs in counts.items() if hs[1] > hs[0]} == {}
    assert sum(h for h, _ in counts.values()) > 300  # the names are there, on ham


def test_a_common_name_does_not_change_how_an_ordinary_comment_is_routed(model):
    shift = name_shift(model.score_many, PUBLISH_BELOW, SPAM_ABOVE)
    assert shift.pairs > 5000
    assert shift.spam_gained == 0
    assert shift.publish_lost <= shift.pairs // 100, shift.worst


def test_name_shift_counts_what_a_name_changes():
    def score(records):
        return np.array([0.3 + 0.65 * (r["author"] == "Rita") for r in records])

    shift = name_shift(score, PUBLISH_BELOW, SPAM_ABOVE, authors=["Rita", "Omid", UNSEEN_NAME])
    assert shift.pairs == 3 * len(NEUTRAL_COMMENTS)
    assert shift.publish_lost == shift.spam_gained == len(NEUTRAL_COMMENTS)
    assert shift.worst[0] == ("Rita", 0.65) and shift.largest == pytest.approx(0.65)


def test_name_counts_fold_the_text_as_the_model_does():
    examples = [
        Example("a", author="Linda MOORE", label=1),
        Example("b", author="linda", label=0),
        Example("c", author="علي رضا", label=0),  # Arabic yeh: the Persian list has علی
        Example("d", author="Belinda", label=1),
    ]
    counts = name_counts(examples, ["linda", "moore", "علی"])
    assert counts == {"linda": (1, 1), "moore": (0, 1), "علی": (1, 0)}


def test_lean_scorer_matches_the_pipeline_on_article_comments(model):
    records = [*FRESH_SPAM.values(), *FRESH_HAM.values()]
    records += [ex.as_features() for ex in read_examples([PROBES])]
    batch = model.score_many(records)
    assert np.allclose(batch, [model.score(r) for r in records], atol=1e-9)


def test_the_article_corpus_files_carry_a_kind_on_every_row():
    files = {Path(f).name: f for f in seed_files()}
    for name, label in (("spam_article_links.jsonl", 1), ("ham_article_readers.jsonl", 0)):
        rows = read_examples([files[name]])
        assert len(rows) >= 150, name
        assert {ex.label for ex in rows} == {label}
        assert all(ex.kind for ex in rows)
        assert len({ex.kind for ex in rows}) >= 10


# --- features ---------------------------------------------------------------------------


def test_link_targets_know_how_each_link_was_written():
    text = (
        'see <a href="https://cheap-loans.example/apply">payday loans</a> and '
        "[url=http://pills.example]buy pills[/url], also https://docs.python.org/3/ and "
        "www.shop.example, laptopreviews.net/best-laptops, myshop dot com, README.md, app.py"
    )
    got = [(t.kind, t.host, t.path, t.anchor) for t in link_targets(text)]
    assert got == [
        ("html", "cheap-loans.example", "/apply", "payday loans"),
        ("bbcode", "pills.example", "", "buy pills"),
        ("http", "docs.python.org", "/3/", ""),
        ("www", "shop.example", "", ""),
        ("bare", "laptopreviews.net", "/best-laptops", ""),
        ("spelled", "myshop.com", "", ""),
    ]
    assert link_targets("[url]http://x.example/a[/url]")[0].kind == "bbcode"
    assert len(link_targets("http://a.example/ " * 100)) == 1
    assert len(link_targets(" ".join(f"http://h{i}.example" for i in range(100)))) == 20


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("unix", True),
        ("printer.local", True),
        ("127.0.0.1", True),
        ("192.168.1.20", True),
        ("10.0.0.5", True),
        ("example.com", False),
        ("8.8.8.8", False),
        ("cheap-pills.xyz", False),
    ],
)
def test_local_hosts(host, expected):
    assert is_local_host(host) is expected


def test_a_local_address_pasted_from_a_config_is_no_link_to_a_site():
    text = "proxy_pass http://unix:/run/app.sock: and open http://localhost:8000/admin after"
    assert link_tokens(text) == ["link_local", "link_local"]
    public = link_tokens("then http://8.8.8.8/x and https://cheap-pills.xyz/buy")
    assert public[:2] == ["link_http", "link_ip"] and "link_tld_xyz" in public


def test_where_tokens_name_the_parts_of_links_and_of_the_website():
    record = {
        "content": '<a href="https://roof-repair.example/houston">roof repair</a>',
        "url": "https://www.seo-experts.ae/services",
    }
    assert where_tokens(record) == [
        "link_html",
        "link_tld_example",
        "link_host_roof",
        "link_host_repair",
        "link_path_houston",
        "link_has_path",
        "anchor_roof",
        "anchor_repair",
        "site_tld_ae",
        "site_host_seo",
        "site_host_experts",
        "site_path_services",
        "site_has_path",
    ]
    assert where_tokens({"content": "no links here", "url": ""}) == []
    # The identity branch: the website's words without its top-level domain, link tokens.
    (text,) = identity_links_text([{"content": "", "author": "Ann", "url": "https://ann.dev"}])
    assert text == "Ann ann"
    (text,) = identity_links_text(
        [
            {
                "content": "see https://docs.example.org/guide",
                "author": "",
                "url": "http://my.io/shop",
            }
        ]
    )
    assert text.split() == [
        "my",
        "shop",
        "site_has_path",
        "link_http",
        "link_tld_org",
        "link_host_docs",
        "link_host_example",
        "link_path_guide",
        "link_has_path",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "call us on 1 8 4 4 - 3 0 2 - 9 1 7 7 any time",
        "ring one eight four four, five zero two, seven seven one nine",
        "a live agent at +1 (8OO) 7O2 - 3344",
        "toll free 1 800 four three six, two nine one zero",
        "1.855.eight.two.one.3300",
        "eight hundred, five five two, seven one nine eight",
    ],
)
def test_spelled_out_phone_numbers_are_recognised(text):
    assert has_spelled_phone_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "prints 1 2 3 4 5 6 7 8 9",
        "0.5 0.25 0.125 0.0625",
        "1 1 1 1 1 1 1 1 1 1 1 1",
        "one of the two options",
        "in 2012 2013 2014 2015",
        "the router at 192.168.100.200:8080",
        "Windows 10.0.19045.3803",
        "+1 (800) 555-0199",  # digits only: has_phone_number's
        "it happened at five o'clock, oh well",
    ],
)
def test_numbers_that_are_not_spelled_phone_numbers(text):
    assert not has_spelled_phone_number(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("message him on Telegram @alexfx_mentor", True),
        ("WhatsApp: wa.me/15735550129", True),
        ("join t.me/profit_circle today", True),
        ("write to helper24 (at) gmail (dot) com", True),
        ("helper24 at gmail dot com", True),
        ("Whatsapp +92 300 418 2271 for details", True),
        ("My WhatsApp got hijacked, never share the six digit code", False),
        ("@Mei thanks, I use Signal too", False),
        ("I looked at it dot by dot", False),
        ("mail me at ann@example.org", False),  # a plain address is email_in_text's
    ],
)
def test_contact_handles(text, expected):
    assert has_contact_handle(text) is expected


def test_site_in_text_and_markup_links():
    record = {"content": "Visit https://www.shop.example/deals now", "url": "http://shop.example"}
    assert site_in_text(record)
    assert not site_in_text({**record, "url": "https://other.example"})
    assert not site_in_text({**record, "url": ""})
    assert markup_links('<a href="http://a.example">a</a> [url=http://b.example]b[/url]') == 2
    assert markup_links("plain http://a.example") == 0


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("docs.python.org", True),
        ("en.wikipedia.org", True),
        ("gist.github.com", True),
        ("www.gov.uk", True),
        ("ons.gov.uk", True),
        ("data.who.int", True),
        ("cs.stanford.edu", True),
        ("seo-dubai-experts.ae", False),
        ("github.com.cheap-loans.example", False),
        ("support.hp.com", False),
        ("localhost", False),
    ],
)
def test_reference_hosts(host, expected):
    assert is_reference_host(host) is expected


def test_only_reference_links_means_every_link():
    assert only_reference_links("see https://docs.python.org/3/ and https://github.com/a/b")
    assert not only_reference_links("see https://en.wikipedia.org/wiki/X and https://shop.example")
    assert not only_reference_links("no links at all")


@pytest.mark.parametrize(
    ("author", "url", "expected"),
    [
        ("Ruth Abebe", "https://ruthabebe.wordpress.com", True),
        ("Colm", "https://github.com/colmk", True),
        ("Felipe", "https://mastodon.social/@felipe", True),
        ("Kathryn Bell", "https://fencing-contractors-leeds.co.uk", False),
        ("Roof Repair Houston", "https://houstonroofpros.com", False),  # a keyword name
        ("Ann", "", False),
        ("", "https://ann.dev", False),
    ],
)
def test_site_named_after_author(author, url, expected):
    assert site_named_after_author({"author": author, "url": url}) is expected


def test_the_character_branch_sees_inside_the_website():
    record = {"content": "Nice post", "url": "https://www.houstonroofpros.com/roofing"}
    assert content_and_site_text([record]) == ["Nice post\nhoustonroofpros com roofing"]
    assert content_and_site_text([{"content": "x", "url": ""}]) == ["x\n"]


def test_metadata_features_can_be_chosen_and_old_models_keep_theirs():
    record = {"content": "Call 1 8 4 4 - 3 0 2 - 9 1 7 7 or WhatsApp +44 7700 900 123", "url": ""}
    assert len(CommentMetadata.row(record)) == len(CommentMetadata.names)
    chosen = CommentMetadata(("spelled_phone", "contact_handle")).fit([record])
    assert chosen.transform([record]).tolist() == [[1.0, 1.0]]
    with pytest.raises(ValueError, match="unknown metadata features"):
        CommentMetadata(("no_such_feature",)).fit([record])
    legacy = CommentMetadata()
    del legacy.features  # as a model file written before the parameter existed holds it
    assert legacy.feature_names == LEGACY_META


def _tiny_corpus() -> list[Example]:
    return [ex for i, ex in enumerate(load_seed_corpus()) if i % 6 == 0]


def test_a_model_of_the_previous_shape_still_loads_and_scores_the_same(tmp_path):
    old = train_model(
        _tiny_corpus(), options={"identity_links": False, "meta_features": LEGACY_META}
    )
    (calibrated,) = old.estimator.calibrated_classifiers_
    union = calibrated.estimator.named_steps["features"]
    del dict(union.transformer_list)["meta"].named_steps["extract"].features
    path = save_model(old, tmp_path / "old.skops")
    again = load_model(path)
    records = [*FRESH_SPAM.values(), *FRESH_HAM.values()]
    assert np.allclose(again.score_many(records), old.score_many(records), atol=1e-12)
    assert np.allclose([again.score(r) for r in records], again.score_many(records), atol=1e-9)


def test_branch_weights_reach_the_lean_scorer():
    model = train_model(_tiny_corpus(), options={"branch_weights": {"identity": 0.5, "meta": 2}})
    records = [*FRESH_SPAM.values(), *FRESH_HAM.values()]
    assert np.allclose([model.score(r) for r in records], model.score_many(records), atol=1e-9)


# --- generalisation helpers -------------------------------------------------------------


def ex(content: str, label: int = 1, kind: str = "k", url: str = "", source: str = "s") -> Example:
    return Example(content=content, label=label, kind=kind, url=url, source=source)


def test_word_shingles_and_jaccard():
    assert word_shingles("The cat sat on the mat") == {
        "the cat sat",
        "cat sat on",
        "sat on the",
        "on the mat",
    }
    assert word_shingles("Thanks!") == {"thanks"}
    assert word_shingles("Thanks, a lot", n=1, min_words=6) == {"thanks a lot"}
    assert word_shingles("") == frozenset()
    assert jaccard(frozenset("ab"), frozenset("bc")) == pytest.approx(1 / 3)


def test_near_duplicates_cluster_and_distinct_texts_do_not():
    texts = [
        "Great post, very informative, keep sharing such useful articles with us",
        "Great post, very informative, keep sharing such useful articles with all of us",
        "The council approved the budget on Tuesday after a long debate",
        "Great post",
        "Great post",
    ]
    clusters = near_duplicate_clusters(texts)
    assert clusters[0] == clusters[1] != clusters[2]
    assert clusters[3] == clusters[4] not in (clusters[0], clusters[2])
    assert cluster_summary(clusters) == {
        "rows": 5,
        "groups": 3,
        "rows_with_sibling": 4,
        "largest": 2,
    }


def test_campaigns_join_spun_frames_and_spam_sharing_a_domain():
    rows = [
        ex("Great post on weight loss, I have been looking for this info for ages, thanks"),
        ex("Great post on career change, I have been looking for this info for weeks, thanks"),
        ex("Nice post", url="https://shop.example"),
        ex("Visit https://www.shop.example/deals for more"),
        ex("I read it on https://github.com/a/b", label=0),
        ex("Same here, see https://github.com/c/d", label=0),
    ]
    assert len(set(campaign_groups(rows, [NEAR_DUPLICATE], by_domain=False))) == 6
    groups = campaign_groups(rows)
    assert groups[0] == groups[1], "a spun frame is one group"
    assert groups[2] == groups[3], "spam pointing to one domain is one campaign"
    assert groups[4] != groups[5], "readers linking one host are not a campaign"
    assert len(set(campaign_groups(rows, by_domain=False))) == 5


def test_kind_groups_pool_small_kinds_under_their_first_word():
    rows = [ex("a", kind="scam_lottery"), ex("b", kind="scam_romance")] + [
        ex(str(i), kind="tech_support") for i in range(8)
    ]
    assert kind_groups(rows) == ["scam_*", "scam_*"] + ["tech_support"] * 8


class RecordingFit:
    """A stand-in for training: remembers what each model was trained on, scores 0.5."""

    def __init__(self) -> None:
        self.trained: list[set[str]] = []

    def __call__(self, train):
        self.trained.append({e.content for e in train})
        return lambda records: np.full(len(records), 0.5)


def test_leave_one_kind_out_trains_without_the_kind_and_its_twins():
    rows = [
        ex("buy pills now at the pharmacy online", kind="pharma"),
        ex("buy pills now at the pharmacy online today", kind="forum"),  # a near-twin
        ex("call the printer helpline", kind="tech"),
        ex("nice article", label=0, kind="short"),
    ]
    fit = RecordingFit()
    results = leave_one_kind_out(rows, fit, groups=campaign_groups(rows), min_rows=1)
    by_name = {(r.name, r.label): r for r in results}
    assert set(by_name) == {("pharma", 1), ("forum", 1), ("tech", 1), ("short", 0)}
    pharma = by_name["pharma", 1]
    assert pharma.n == 1 and pharma.dropped == 1
    trained_without_pharma = fit.trained[[r.name for r in results].index("pharma")]
    assert trained_without_pharma == {"call the printer helpline", "nice article"}
    assert pharma.row()["at_0.5"] == 1.0 and pharma.row()["published"] == 0.0


def test_leave_one_source_out_and_held_out_scores():
    rows = [
        ex("a", source="one"),
        ex("b", source="two"),
        ex("c", 0, source="two"),
    ]
    fit = RecordingFit()
    results = leave_one_source_out(rows, fit)
    assert [(r.name, r.label, r.n) for r in results] == [
        ("one", 1, 1),
        ("two", 0, 1),
        ("two", 1, 1),
    ]
    scores, dropped = held_out_scores(rows, [True, False, False], fit, groups=[0, 0, 1])
    assert scores.tolist() == [0.5] and dropped == 1
    assert fit.trained[-1] == {"c"}


def test_grouped_cv_keeps_each_group_on_one_side():
    rows = [ex(f"s{i}", 1) for i in range(10)] + [ex(f"h{i}", 0) for i in range(10)]
    groups = [i // 2 for i in range(20)]
    fit = RecordingFit()
    scores = grouped_cv_scores(rows, fit, groups, folds=5)
    assert scores.shape == (20,) and not np.isnan(scores).any()
    for trained in fit.trained:
        for g in set(groups):
            members = {rows[i].content for i in range(20) if groups[i] == g}
            assert members <= trained or not members & trained


def test_f1_at_prevalence():
    # recall 0.8, 5% of ham flagged, one comment in five spam: precision 0.16 / 0.2 = 0.8.
    assert f1_at_prevalence(0.8, 0.05, 0.2) == pytest.approx(0.8)
    assert f1_at_prevalence(0.0, 0.1, 0.2) == 0.0
    assert f1_at_prevalence(1.0, 0.0, 0.5) == pytest.approx(1.0)


def test_probe_file_is_valid_json_lines_with_kinds():
    lines = (PROBES).read_text().splitlines()
    assert all(json.loads(line)["kind"] for line in lines)
