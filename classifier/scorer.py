"""The inline scorer: the fitted pipeline's arithmetic without scikit-learn's per-call overhead.

`predict_proba([one comment])` through FeatureUnion, TfidfVectorizer and the calibrator
costs milliseconds, mostly input validation and sparse-matrix building. The same numbers,
computed directly (analyzer, vocabulary look-up, idf, l2 norm, dot product with the learned
weights, sigmoid), cost a fraction of that. Training and evaluation keep the ordinary
scikit-learn objects; tests check that both give the same probabilities.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import FeatureUnion, Pipeline

from classifier.features import CommentMetadata

Record = Mapping[str, str]
Reasons = list[tuple[str, float]]


@dataclass(frozen=True)
class _TextBranch:
    name: str
    select: Callable[[list[Record]], list[str]]
    analyze: Callable[[str], list[str]]
    weights: dict[str, tuple[float, float]]  # term -> (idf, coefficient * branch weight)
    sublinear: bool

    def decision(self, record: Record) -> float:
        """This branch's share of the decision: (tf-idf vector / its l2 norm) . coefficients."""
        weights = self.weights
        norm = dot = 0.0
        for term, count in Counter(self.analyze(self.select([record])[0])).items():
            known = weights.get(term)
            if known is None:
                continue
            idf, coef = known
            if count == 1:  # by far the most common case; log(1) = 0
                norm += idf * idf
                dot += idf * coef
            else:
                tf = 1.0 + math.log(count) if self.sublinear else float(count)
                norm += tf * tf * idf * idf
                dot += tf * idf * coef
        return dot / math.sqrt(norm) if norm else 0.0

    def contributions(self, record: Record) -> list[tuple[str, float]]:
        counts = Counter(self.analyze(self.select([record])[0]))
        values: list[tuple[str, float, float]] = []
        norm = 0.0
        for term, count in counts.items():
            known = self.weights.get(term)
            if known is None:
                continue
            tf = 1.0 + math.log(count) if self.sublinear else float(count)
            value = tf * known[0]
            norm += value * value
            values.append((term, value, known[1]))
        if not values:
            return []
        norm = math.sqrt(norm)
        return [(term, value / norm * coef) for term, value, coef in values]


# Metadata features every comment has: explained relative to their mean, not to zero.
_CENTRED_META = frozenset({"log_length", "log_length_capped"})


@dataclass
class _MetaBranch:
    """The scaled metadata features. A reason must be something the comment has: a
    feature is explained by how far its value is from zero ("no phone number" explains
    nothing), and the scaler's centring of such features goes into a constant baseline.
    Only the length, which every comment has, is explained relative to the mean."""

    names: tuple[str, ...]
    means: list[float]
    scales: list[float]
    coefs: list[float]

    def __post_init__(self) -> None:
        self._centred = [name in _CENTRED_META for name in self.names]
        self.baseline = sum(
            -m / s * c
            for centred, m, s, c in zip(
                self._centred, self.means, self.scales, self.coefs, strict=True
            )
            if not centred
        )

    def decision(self, record: Record) -> float:
        return self.baseline + sum(value for _, value in self.contributions(record))

    def contributions(self, record: Record) -> list[tuple[str, float]]:
        row = CommentMetadata.row(record, self.names)
        return [
            (name, ((x - m) if centred else x) / s * c)
            for name, centred, x, m, s, c in zip(
                self.names,
                self._centred,
                row,
                self.means,
                self.scales,
                self.coefs,
                strict=True,
            )
        ]


class LeanScorer:
    """Scores and explains one comment with the weights of a fitted, calibrated pipeline."""

    def __init__(self, estimator: CalibratedClassifierCV) -> None:
        (calibrated,) = estimator.calibrated_classifiers_  # built with ensemble=False
        pipeline: Pipeline = calibrated.estimator
        (calibrator,) = calibrated.calibrators
        self._a, self._b = float(calibrator.a_), float(calibrator.b_)
        linear = pipeline.named_steps["linear"]
        coef = linear.coef_[0]
        self._intercept = float(linear.intercept_[0])
        union: FeatureUnion = pipeline.named_steps["features"]
        self._branches: list[_TextBranch | _MetaBranch] = []
        offset = 0
        # FeatureUnion multiplies a branch's columns by its weight; folding the weight into
        # the coefficients gives the same decision.
        branch_weights = union.transformer_weights or {}
        for name, branch in union.transformer_list:
            w = float(branch_weights.get(name, 1.0))
            if "tfidf" in branch.named_steps:
                vectorizer = branch.named_steps["tfidf"]
                idf = vectorizer.idf_
                self._branches.append(
                    _TextBranch(
                        name=name,
                        select=branch.named_steps["select"].func,
                        analyze=vectorizer.build_analyzer(),
                        weights={
                            term: (float(idf[i]), w * float(coef[offset + i]))
                            for term, i in vectorizer.vocabulary_.items()
                        },
                        sublinear=vectorizer.sublinear_tf,
                    )
                )
                offset += len(idf)
            else:
                scaler = branch.named_steps["scale"]
                names = branch.named_steps["extract"].feature_names
                width = len(names)
                self._branches.append(
                    _MetaBranch(
                        names=names,
                        means=[float(v) for v in scaler.mean_],
                        scales=[float(v) for v in scaler.scale_],
                        coefs=[w * float(v) for v in coef[offset : offset + width]],
                    )
                )
                offset += width
        if offset != len(coef):
            raise ValueError("the pipeline's features do not line up with its coefficients")

    def _baseline(self) -> float:
        return self._intercept + sum(
            branch.baseline for branch in self._branches if isinstance(branch, _MetaBranch)
        )

    def _contributions(self, record: Record) -> list[tuple[str, str, float]]:
        return [
            (branch.name if isinstance(branch, _TextBranch) else "meta", term, value)
            for branch in self._branches
            for term, value in branch.contributions(record)
        ]

    def _probability(self, decision: float) -> float:
        z = self._a * decision + self._b
        # expit(-z), written to stay finite for large |z|.
        if z >= 0:
            e = math.exp(-z)
            return e / (1.0 + e)
        return 1.0 / (1.0 + math.exp(z))

    def score(self, record: Record) -> float:
        decision = self._intercept + sum(branch.decision(record) for branch in self._branches)
        return self._probability(decision)

    def score_and_explain(self, record: Record, top: int = 5) -> tuple[float, Reasons]:
        contributions = self._contributions(record)
        decision = self._baseline() + sum(c[2] for c in contributions)
        strongest = heapq.nlargest(top, contributions, key=lambda c: abs(c[2]))
        reasons = [(f"{branch}:{term}", round(v, 4)) for branch, term, v in strongest if v != 0.0]
        return self._probability(decision), reasons
