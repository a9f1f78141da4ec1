"""`moderation train` and `moderation evaluate`, run as an operator runs them."""

from __future__ import annotations

import json
import random

import pytest

from classifier.corpus import load_seed_corpus
from classifier.evaluate import metrics
from classifier.model import train_model
from classifier.persistence import UntrustedModelError, load_model
from tests.conftest import run_cli

EVALUATE_KEYS = {
    "precision",
    "recall",
    "f1",
    "mcc",
    "roc_auc",
    "accuracy",
    "confusion_matrix",
    "ham_marked_spam_rate",
    "n",
}


@pytest.fixture(scope="module")
def split():
    """Seed comments shuffled into a small training set and a held-out set."""
    corpus = load_seed_corpus()
    random.Random(7).shuffle(corpus)
    return corpus[:600], corpus[600:1200]


def write_jsonl(path, examples) -> None:
    with path.open("w") as fh:
        for ex in examples:
            label = "spam" if ex.label == 1 else "ham"
            fh.write(
                json.dumps(
                    {"content": ex.content, "label": label, "author": ex.author, "url": ex.url}
                )
                + "\n"
            )


def test_small_training_set_beats_the_trivial_baseline(split):
    train, held_out = split
    model = train_model(train)
    labels = [ex.label for ex in held_out]
    result = metrics(labels, model.score_many([ex.as_features() for ex in held_out]))
    majority = max(sum(labels), len(labels) - sum(labels)) / len(labels)
    assert result["accuracy"] >= majority + 0.25
    assert result["f1"] >= 0.85
    assert result["roc_auc"] >= 0.95


def test_scores_are_calibrated_on_held_out_data(split):
    train, held_out = split
    model = train_model(train)
    result = metrics(
        [ex.label for ex in held_out], model.score_many([ex.as_features() for ex in held_out])
    )
    assert result["brier"] < 0.08
    for row in result["reliability"]:
        if row["n"] >= 40:  # well-populated bands only: small ones are noise
            assert abs(row["mean_score"] - row["spam_rate"]) < 0.2, row


def test_train_then_evaluate_from_the_command_line(tmp_path, split):
    train, held_out = split
    train_file, test_file = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    write_jsonl(train_file, train)
    write_jsonl(test_file, held_out)
    with train_file.open("a") as fh:
        fh.write("this line is not json\n")
    out = tmp_path / "model.skops"

    trained = run_cli("train", "--data", str(train_file), "--out", str(out), "--seed", "3")
    assert trained.returncode == 0, trained.stderr
    assert f"{train_file}:{len(train) + 1}" in trained.stderr, "the bad row is reported"
    assert "F1" in trained.stdout and str(out) in trained.stdout
    metadata = load_model(out).metadata
    assert metadata["training_data"]["size"] == len(train)
    assert metadata["seed"] == 3
    assert {"scikit-learn", "numpy", "python"} <= set(metadata["library_versions"])
    assert "f1" in metadata["holdout_metrics"]

    evaluated = run_cli("evaluate", "--model", str(out), "--data", str(test_file), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    lines = evaluated.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) >= EVALUATE_KEYS
    assert result["n"] == len(held_out)
    assert result["f1"] > 0.85


def test_evaluate_defaults_to_the_service_model(tmp_path, model_path, split):
    test_file = tmp_path / "test.jsonl"
    write_jsonl(test_file, split[1][:100])
    env = {"MODERATION_MODEL_PATH": str(model_path)}
    result = run_cli("evaluate", "--data", str(test_file), "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model_version"] == load_model(model_path).version

    missing = run_cli("evaluate", "--data", str(test_file), env={"MODERATION_MODEL_PATH": "/nope"})
    assert missing.returncode != 0
    assert "no model at /nope" in missing.stderr


def test_train_refuses_data_with_one_class(tmp_path, split):
    only_ham = [ex for ex in split[0] if ex.label == 0][:50]
    data = tmp_path / "ham.jsonl"
    write_jsonl(data, only_ham)
    result = run_cli("train", "--data", str(data), "--out", str(tmp_path / "m.skops"))
    assert result.returncode != 0
    assert "both spam and ham" in result.stderr
    assert not (tmp_path / "m.skops").exists()


def test_service_refuses_a_foreign_model_file(settings, model_path, tmp_path):
    from dataclasses import replace

    from moderation import create_app
    from tests.conftest import tamper

    bad = tamper(model_path, tmp_path / "bad.skops")
    with pytest.raises(UntrustedModelError, match="not allowed"):
        create_app(replace(settings, model_path=bad))
    assert bad.exists(), "the operator's file is left alone for inspection"


def _balanced(examples, per_class: int = 20):
    spam = [ex for ex in examples if ex.label == 1][:per_class]
    ham = [ex for ex in examples if ex.label == 0][:per_class]
    return spam + ham


def test_train_on_label_text_csv_and_jsonl_without_author(tmp_path, split):
    """The README's `label,text` format and JSON Lines without `author` carry no identity:
    the identity branch must still train, and the lean scorer still match the pipeline."""
    import csv

    examples = _balanced(split[0])
    labels_csv = tmp_path / "labels.csv"
    with labels_csv.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", "text"])
        writer.writerows(("spam" if ex.label else "ham", ex.content) for ex in examples)
    no_author = tmp_path / "no-author.jsonl"
    no_author.write_text(
        "".join(json.dumps({"content": ex.content, "label": ex.label}) + "\n" for ex in examples)
    )
    records = [
        {"content": "Buy cheap followers at http://followers.example now", "author": "", "url": ""},
        {"content": "Thanks, the second chart cleared it up.", "author": "Ann", "url": ""},
        {"content": "ok", "author": "A", "url": "https://a.example/shop"},
    ]
    for data in (labels_csv, no_author):
        out = tmp_path / f"{data.stem}.skops"
        trained = run_cli("train", "--data", str(data), "--out", str(out))
        assert trained.returncode == 0, trained.stderr
        assert "empty vocabulary" not in trained.stderr and str(out) in trained.stdout
        model = load_model(out)
        assert model.metadata["training_data"]["size"] == len(examples)
        batch = model.score_many(records)
        assert all(0.0 <= s <= 1.0 for s in batch)
        assert [model.score(r) for r in records] == pytest.approx(list(batch), abs=1e-9)


def test_evaluate_reports_each_bad_row_once_and_no_library_warning(tmp_path, model_path):
    data = tmp_path / "ham-only.jsonl"  # one class: sklearn would warn about its metrics
    data.write_text(
        json.dumps({"content": "Good point about the budget, thanks.", "label": "ham"})
        + "\nthis line is not json\n"
        + json.dumps({"content": "Which figure is right?", "label": "ham"})
        + "\n"
        + json.dumps({"content": "x", "label": "eggs"})
        + "\n"
    )
    result = run_cli("evaluate", "--model", str(model_path), "--data", str(data))
    assert result.returncode == 0, result.stderr
    assert "on 2 comments (0 spam, 2 ham)" in result.stdout
    assert result.stderr.splitlines() == [
        f"skipped {data}:2: Expecting value: line 1 column 1 (char 0)",
        f"skipped {data}:4: label must be spam/ham or 1/0, got 'eggs'",
    ]
