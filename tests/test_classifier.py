"""The classifier package on its own: data formats, the lean scorer, persistence, quality."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from classifier import train_model
from classifier.corpus import load_seed_corpus
from classifier.data import BadRow, read_examples
from classifier.persistence import UntrustedModelError, load_model, save_model
from classifier.split import split
from tests.conftest import tamper

SPAMMY = {
    "content": "Great post!! Visit http://cheap-essays.example.com for the BEST essay writing "
    "service, 50% off today, WhatsApp +1 555 0100 200",
    "author": "Best Essay Writing Service",
    "url": "http://cheap-essays.example.com",
}
HAMMY = {
    "content": "I think the second chart mislabels the axis: the units are thousands, not "
    "millions. Otherwise a very clear explanation, thanks.",
    "author": "Jonas",
    "url": "",
}


@pytest.fixture(scope="module")
def model(model_path):
    return load_model(model_path)


def test_lean_scorer_matches_the_pipeline(model):
    records = [ex.as_features() for ex in load_seed_corpus()[::7]] + [SPAMMY, HAMMY]
    batch = model.score_many(records)
    lean = np.array([model.score(r) for r in records])
    assert np.allclose(batch, lean, atol=1e-9)


def test_scores_order_spam_above_ham(model):
    assert model.score(SPAMMY) > 0.9
    assert model.score(HAMMY) < 0.35


def test_explain_names_the_features_that_pushed_the_score(model):
    score, reasons = model.score_and_explain(SPAMMY, top=5)
    assert len(reasons) == 5
    weights = [w for _, w in reasons]
    assert weights == sorted(weights, key=abs, reverse=True)
    branches = {name.split(":", 1)[0] for name, _ in reasons}
    assert branches <= {"words", "chars", "identity", "meta"}
    assert sum(w for _, w in reasons) > 0, "the top reasons of a spammy comment push toward spam"
    assert score == model.score(SPAMMY)


def test_model_file_round_trip_keeps_scores_and_metadata(model, tmp_path):
    path = save_model(model, tmp_path / "m.skops")
    again = load_model(path)
    assert again.version == model.version
    # The default model trains on the seed corpus minus its fixed held-out part.
    train, holdout = split(load_seed_corpus())
    assert again.metadata["training_data"]["size"] == len(train)
    assert again.metadata["holdout_metrics"]["n"] == len(holdout)
    assert again.score(SPAMMY) == pytest.approx(model.score(SPAMMY), abs=1e-12)
    assert path.stat().st_size < 5_000_000


def test_a_model_file_with_foreign_types_is_refused(model, tmp_path):
    path = save_model(model, tmp_path / "m.skops")
    with pytest.raises(UntrustedModelError, match="os.system"):
        load_model(tamper(path, tmp_path / "tampered.skops"))


def test_reads_every_training_format_and_reports_bad_rows(tmp_path):
    youtube = tmp_path / "yt.csv"
    youtube.write_text(
        "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\n"
        'a,Ann,2014-01-01,"check out my channel &#39;now&#39;",1\n'
        "b,Bob,,nice song<br />really,0\n"
        "c,Cy,,broken row,maybe\n"
    )
    simple = tmp_path / "simple.tsv"
    simple.write_text("label\ttext\nspam\tbuy pills\nham\tgood point\n1\t\n")
    lines = tmp_path / "more.jsonl"
    lines.write_text(
        json.dumps({"content": "hello", "label": "ham", "author": "D", "url": "https://d.example"})
        + "\nnot json\n"
        + json.dumps({"content": "x", "label": "eggs"})
        + "\n"
    )
    bad: list[BadRow] = []
    examples = read_examples([youtube, simple, lines], bad)
    assert [(e.content, e.label) for e in examples] == [
        ("check out my channel 'now'", 1),
        ("nice song\nreally", 0),
        ("buy pills", 1),
        ("good point", 0),
        ("hello", 0),
    ]
    assert examples[-1].url == "https://d.example"
    assert [(b.path.rsplit("/", 1)[-1], b.line) for b in bad] == [
        ("yt.csv", 4),
        ("simple.tsv", 4),
        ("more.jsonl", 2),
        ("more.jsonl", 3),
    ]


def test_seed_corpus_is_varied_and_balanced():
    corpus = load_seed_corpus()
    spam = sum(ex.label == 1 for ex in corpus)
    assert len(corpus) >= 1500
    assert 0.3 < spam / len(corpus) < 0.6
    assert len({ex.content for ex in corpus}) == len(corpus), "no duplicate comments"


def test_reasons_name_only_what_a_comment_has(model):
    # "phone number" (pushing towards fine) was a reason on every comment without one: the
    # scaler centres the feature, so its absence had a weight. Absent features explain nothing.
    plain = {
        "content": "The council minutes say 3.2%, not 4%. Which figure is right?",
        "author": "Maria Keller",
        "url": "",
    }
    score, reasons = model.score_and_explain(plain, top=50)
    names = {name for name, _ in reasons}
    assert not names & {f"meta:{n}" for n in ("phone_number", "email_in_text", "money", "links")}
    with_phone = {**plain, "content": "Call our helpline now: +1 (800) 555-0199 for refunds."}
    _, reasons = model.score_and_explain(with_phone, top=50)
    assert "meta:phone_number" in {name for name, _ in reasons}
    # The explanation moved, the score did not.
    assert score == pytest.approx(model.score(plain), abs=1e-12)


@pytest.mark.parametrize("seed", [1, 5])
def test_a_handful_of_labels_never_turns_the_ranking_upside_down(seed):
    # Six labelled comments, as a site's first import might give: with these seeds the
    # folds' models score their held-out comments against the labels, and a sigmoid fitted
    # on that would rank every spam below every ham. The model keeps its own order instead.
    corpus = load_seed_corpus()
    chooser = random.Random(seed)
    spam = chooser.sample([ex for ex in corpus if ex.label == 1], 3)
    ham = chooser.sample([ex for ex in corpus if ex.label == 0], 3)
    trained = train_model(spam + ham, seed=seed)
    scores = trained.score_many([ex.as_features() for ex in spam + ham])
    assert scores[:3].min() > scores[3:].max(), (trained.metadata["calibration"], scores)
