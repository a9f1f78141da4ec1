"""Build, train, score and explain the spam model.

The estimator is a calibrated linear model over word n-grams, character n-grams, the
author/website identity and a few metadata features. Calibration matters: the routing
policy reads the score as a probability ("publish below 0.35").

Every text branch reads the text through classifier.normalize.feature_text (letter variants,
digits, diacritics, ZWNJ and bidi marks folded), so the many ways Persian and Arabic readers
type one word meet in one feature; the word tokens keep a ZWNJ inside a word.

The metadata branch keeps only payload signals (links, contact details, money, length):
the earlier style features (exclamation marks, capitals, author name shape, "has a
website") learned the seed corpus's writing style rather than spam and transferred badly
to comments from elsewhere (F1 0.86 -> 0.96 on the YouTube Spam Collection without them;
benchmarks/model_comparison.md).
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from classifier.data import Example
from classifier.features import (
    CommentMetadata,
    content_and_identity_text,
    content_and_site_text,
    content_text,
    identity_links_text,
    identity_text,
)
from classifier.normalize import WORD_TOKEN_PATTERN, feature_text
from classifier.scorer import LeanScorer

Record = Mapping[str, str]
Reasons = list[tuple[str, float]]


def _text_branch(select: Callable[[Sequence[Record]], list[str]], **tfidf: Any) -> Pipeline:
    # The preprocessor, not the select step, folds the text: the lean scorer gets it with
    # the vectorizer's analyzer, and a model file needs one more trusted function, not two.
    tfidf.setdefault("preprocessor", feature_text)
    if tfidf.get("analyzer", "word") == "word":
        tfidf.setdefault("token_pattern", WORD_TOKEN_PATTERN)
    return Pipeline([("select", FunctionTransformer(select)), ("tfidf", TfidfVectorizer(**tfidf))])


_CHARS_SELECT = {
    "content": content_text,
    "content_site": content_and_site_text,
    "content_identity": content_and_identity_text,
}


def build_pipeline(
    seed: int = 0,
    c: float = 8.0,
    *,
    identity: bool = True,
    meta: bool = True,
    word_ngrams: tuple[int, int] = (1, 2),
    char_ngrams: tuple[int, int] = (3, 6),
    word_min_df: int = 1,
    char_min_df: int = 2,
    identity_links: bool = True,
    meta_features: Sequence[str] | None = None,
    branch_weights: Mapping[str, float] | None = None,
    chars_select: str = "content_site",
) -> Pipeline:
    """The uncalibrated pipeline; `train_model` wraps it in a sigmoid calibrator.

    The keyword arguments exist for benchmarks/bench_model_quality.py, which compares
    variants; the defaults are the shipped model. Every variant keeps the shape the lean
    scorer reads: text branches words/chars/identity, the meta branch, the "linear" step.
    """
    branches: list[tuple[str, Pipeline]] = [
        (
            "words",
            _text_branch(
                content_text,
                ngram_range=word_ngrams,
                sublinear_tf=True,
                min_df=word_min_df,
                max_features=50_000,
            ),
        ),
        (
            "chars",
            _text_branch(
                _CHARS_SELECT[chars_select],
                analyzer="char_wb",
                ngram_range=char_ngrams,
                sublinear_tf=True,
                min_df=char_min_df,
                max_features=80_000,
            ),
        ),
    ]
    if identity:
        # identity_links_text adds where the comment points (links, anchors, the website's
        # parts); identity_text, author and website words only, is what older models read.
        select = identity_links_text if identity_links else identity_text
        branches.append(("identity", _text_branch(select, sublinear_tf=True, min_df=1)))
    if meta:
        extract = CommentMetadata(None if meta_features is None else tuple(meta_features))
        branches.append(("meta", Pipeline([("extract", extract), ("scale", StandardScaler())])))
    linear = LogisticRegression(
        C=c, class_weight="balanced", solver="liblinear", max_iter=5000, random_state=seed
    )
    union = FeatureUnion(branches, transformer_weights=dict(branch_weights or {}) or None)
    return Pipeline([("features", union), ("linear", linear)])


def training_data_hash(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(f"{ex.label}\x1f{ex.author}\x1f{ex.url}\x1f{ex.content}\x1e".encode())
    return digest.hexdigest()


@dataclass
class SpamModel:
    """A fitted, calibrated model plus what it was trained on.

    `score_many` runs the scikit-learn pipeline (batches: training, evaluation);
    `score` and `explain` use the lean scorer built from the same weights (one comment,
    inline, on every submission).
    """

    estimator: CalibratedClassifierCV
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lean = LeanScorer(self.estimator)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    def score_many(self, records: Sequence[Record]) -> np.ndarray:
        return self.estimator.predict_proba(list(records))[:, 1]

    def score(self, record: Record) -> float:
        return self._lean.score(record)

    def score_and_explain(self, record: Record, top: int = 5) -> tuple[float, Reasons]:
        """The spam probability and the features that pushed it most, with signed weights.

        Weight = the feature's share of the decision: positive pushes toward spam.
        """
        return self._lean.score_and_explain(record, top)

    def explain(self, record: Record, top: int = 5) -> list[tuple[str, float]]:
        return self.score_and_explain(record, top)[1]


def _keep_ranking(estimator: CalibratedClassifierCV) -> str:
    """Keep the sigmoid only if it keeps the model's order: "sigmoid", or "logistic" when
    it was replaced by the logistic regression's own link, 1 / (1 + exp(-f))."""
    # With a few dozen labels (a site's first imported history), the folds' models can
    # score their held-out comments against the labels; the fitted sigmoid then has a
    # slope >= 0 and would turn the final model's ranking upside down (AUC near 0).
    (calibrated,) = estimator.calibrated_classifiers_
    (calibrator,) = calibrated.calibrators
    if calibrator.a_ < 0:
        return "sigmoid"
    calibrator.a_, calibrator.b_ = -1.0, 0.0
    return "logistic"


def train_model(
    examples: Sequence[Example],
    seed: int = 0,
    version: str | None = None,
    *,
    options: Mapping[str, Any] | None = None,
) -> SpamModel:
    """The calibrated default pipeline fitted on `examples`. `options` go to
    `build_pipeline` (benchmarks compare variants with them; the service never passes any)."""
    labeled = [ex for ex in examples if ex.label is not None]
    labels = np.array([ex.label for ex in labeled])
    if len(set(labels.tolist())) < 2:
        raise ValueError("training needs both spam and ham examples")
    folds = int(min(3, np.bincount(labels).min()))
    if folds < 2:
        raise ValueError("training needs at least two examples of each class")
    # Shuffled folds: the corpus comes sorted by file (one kind of comment after another),
    # and unshuffled folds would calibrate on kinds the fold's model never saw. Folds that
    # keep each kind on one side (StratifiedGroupKFold) were measured too (2026-12-02): they
    # left ham marked spam where it was and held 17% of the held-out comments for review
    # instead of 10% (Brier 0.084 against 0.074 on a held-out split), so they are not used.
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    estimator = CalibratedClassifierCV(
        build_pipeline(seed=seed, **(options or {})), method="sigmoid", cv=cv, ensemble=False
    )
    estimator.fit([ex.as_features() for ex in labeled], labels)
    calibration = _keep_ranking(estimator)
    data_hash = training_data_hash(labeled)
    created = datetime.now(UTC)
    metadata = {
        "version": version or f"{created:%Y%m%d%H%M%S}-{data_hash[:8]}",
        "created_at": created.isoformat(timespec="seconds"),
        "training_data": {
            "hash": data_hash,
            "size": len(labeled),
            "spam": int(labels.sum()),
            "ham": int(len(labels) - labels.sum()),
        },
        "seed": seed,
        "calibration": calibration,
        "library_versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
    }
    return SpamModel(estimator=estimator, metadata=metadata)
