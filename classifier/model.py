"""Build, train, score and explain the spam model.

The estimator is a calibrated linear model over word n-grams, character n-grams, the
author/website identity and metadata features. Calibration matters: the routing policy
reads the score as a probability ("publish below 0.35").
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sklearn
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from classifier.data import Example
from classifier.features import CommentMetadata, content_text, identity_text

Record = Mapping[str, str]


def build_pipeline(seed: int = 0, c: float = 8.0) -> Pipeline:
    features = FeatureUnion(
        [
            (
                "words",
                Pipeline(
                    [
                        ("select", FunctionTransformer(content_text)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=50_000
                            ),
                        ),
                    ]
                ),
            ),
            (
                "chars",
                Pipeline(
                    [
                        ("select", FunctionTransformer(content_text)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                analyzer="char_wb",
                                ngram_range=(2, 5),
                                sublinear_tf=True,
                                min_df=2,
                                max_features=80_000,
                            ),
                        ),
                    ]
                ),
            ),
            (
                "identity",
                Pipeline(
                    [
                        ("select", FunctionTransformer(identity_text)),
                        ("tfidf", TfidfVectorizer(sublinear_tf=True, min_df=1)),
                    ]
                ),
            ),
            ("meta", Pipeline([("extract", CommentMetadata()), ("scale", StandardScaler())])),
        ]
    )
    linear = LogisticRegression(
        C=c, class_weight="balanced", solver="liblinear", max_iter=5000, random_state=seed
    )
    return Pipeline([("features", features), ("linear", linear)])


def training_data_hash(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(f"{ex.label}\x1f{ex.author}\x1f{ex.url}\x1f{ex.content}\x1e".encode())
    return digest.hexdigest()


@dataclass
class SpamModel:
    """A fitted, calibrated model plus what it was trained on."""

    estimator: CalibratedClassifierCV
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    def score_many(self, records: Sequence[Record]) -> np.ndarray:
        return self.estimator.predict_proba(list(records))[:, 1]

    def score(self, record: Record) -> float:
        return float(self.score_many([record])[0])

    @property
    def _fitted_pipeline(self) -> Pipeline:
        # ensemble=False: one pipeline fit on all data, one calibrator on out-of-fold scores.
        return self.estimator.calibrated_classifiers_[0].estimator

    def explain(self, record: Record, top: int = 5) -> list[tuple[str, float]]:
        """The features that pushed this comment's score most, with signed weights.

        Weight = feature value x learned coefficient: positive pushes toward spam.
        """
        pipeline = self._fitted_pipeline
        union: FeatureUnion = pipeline.named_steps["features"]
        row = sparse.csr_matrix(union.transform([record]))
        coef = pipeline.named_steps["linear"].coef_[0]
        contributions = row.data * coef[row.indices]
        order = np.argsort(-np.abs(contributions))[:top]
        names = feature_names(union)
        return [
            (names[row.indices[i]], round(float(contributions[i]), 4))
            for i in order
            if contributions[i] != 0
        ]


def feature_names(union: FeatureUnion) -> list[str]:
    names: list[str] = []
    for branch, pipe in union.transformer_list:
        step = pipe.named_steps.get("tfidf") or pipe.named_steps["extract"]
        names.extend(f"{branch}:{n}" for n in step.get_feature_names_out())
    return names


def train_model(
    examples: Sequence[Example], seed: int = 0, version: str | None = None
) -> SpamModel:
    labeled = [ex for ex in examples if ex.label is not None]
    labels = np.array([ex.label for ex in labeled])
    if len(set(labels.tolist())) < 2:
        raise ValueError("training needs both spam and ham examples")
    folds = int(min(3, np.bincount(labels).min()))
    if folds < 2:
        raise ValueError("training needs at least two examples of each class")
    estimator = CalibratedClassifierCV(
        build_pipeline(seed=seed), method="sigmoid", cv=folds, ensemble=False
    )
    estimator.fit([ex.as_features() for ex in labeled], labels)
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
        "library_versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
    }
    return SpamModel(estimator=estimator, metadata=metadata)
