"""Evaluations that resemble a site the model has never seen, not the corpus it came from.

A random split of the seed corpus flatters the model: its comments share sentence frames,
domains and author names ("Great post! ... Visit my site: <same domain>"), so a test comment
nearly always has a sibling in training. A real site's comments have no such siblings: new
people, new domains, new wording, and kinds of spam the corpus may not have at all. The
tools here take the siblings away before measuring:

- `near_duplicate_clusters`: comments whose word 3-grams overlap (Jaccard above 0.5) are one
  cluster, exactly (an inverted index, no sampling: the corpus is thousands, not millions).
- `campaign_groups`: those clusters, merged further where spam shares a domain (in the
  website field or in a link): one campaign is one group, as it would be on a real site.
- `held_out_scores` and the splits built on it: the test rows' groups stay out of training,
  so a test comment is never scored by a model that saw its near-twin.
- `leave_one_kind_out`: train without one kind of comment (the corpus rows' `kind`), score
  that kind; `leave_one_source_out`: the same for whole files.
- `grouped_cv_scores`: out-of-fold scores with whole groups on one side of each fold.

Nothing here is used when scoring; benchmarks/bench_generalisation.py prints the tables.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from classifier.data import SPAM, Example
from classifier.features import link_hosts
from classifier.normalize import feature_text

Scorer = Callable[[list[dict[str, str]]], np.ndarray]
Fit = Callable[[Sequence[Example]], Scorer]

DEFAULT_THRESHOLD = 0.5
# (n, Jaccard threshold, min distinct words). Word 3-grams above 0.5 find copies with a
# phrase changed; single words above 0.4 over six or more distinct words find spun frames
# ("Thank you for the awesome write-up on <topic>. I've been looking for such info for
# ages"), where a synonym in every other slot breaks nearly every 3-gram.
NEAR_DUPLICATE = (3, DEFAULT_THRESHOLD, 0)
SPUN_FRAME = (1, 0.4, 6)
PASSES = (NEAR_DUPLICATE, SPUN_FRAME)
_WORD_RE = re.compile(r"\w+")


def word_shingles(text: str, n: int = 3, min_words: int = 0) -> frozenset[str]:
    """The text's word n-grams, folded as the features fold it.

    A text of fewer than `n` words, or of fewer than `min_words` distinct words, is one
    shingle of all its words: short texts then match only texts equal to them, since two
    words in common say nothing about "Thanks!" and "Thanks for sharing."
    """
    words = _WORD_RE.findall(feature_text(text))
    if len(words) < n or len(set(words)) < min_words:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def labels(self) -> list[int]:
        """Cluster ids 0, 1, 2 ... in order of first appearance."""
        ids: dict[int, int] = {}
        return [ids.setdefault(self.find(i), len(ids)) for i in range(len(self.parent))]


def _near_pairs(sets: Sequence[frozenset[str]], threshold: float) -> Iterable[tuple[int, int]]:
    # Count shared shingles per pair through an inverted index: exact, and fast because a
    # comment shares shingles with few others. Jaccard follows from the sizes and the count.
    index: defaultdict[str, list[int]] = defaultdict(list)
    for i, shingles in enumerate(sets):
        for shingle in shingles:
            index[shingle].append(i)
    for i, shingles in enumerate(sets):
        shared: Counter[int] = Counter()
        for shingle in shingles:
            for j in index[shingle]:
                if j > i:
                    shared[j] += 1
        for j, common in shared.items():
            if common / (len(shingles) + len(sets[j]) - common) > threshold:
                yield i, j


def near_duplicate_clusters(
    texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD, n: int = 3
) -> list[int]:
    """A cluster id per text: texts linked by word n-gram Jaccard above `threshold`, and
    what they link to in turn (single linkage), share an id."""
    sets = [word_shingles(t, n) for t in texts]
    clusters = _UnionFind(len(texts))
    for i, j in _near_pairs(sets, threshold):
        clusters.union(i, j)
    return clusters.labels()


def example_domains(example: Example) -> set[str]:
    """The hosts an example points to: its website field and the links in its text."""
    hosts = {h.split(":")[0].split("?")[0] for h in link_hosts(example.content)}
    if example.url:
        try:
            host = urlsplit(example.url).hostname or ""
        except ValueError:
            host = ""
        if host:
            hosts.add(host)
    return {h.lower().removeprefix("www.").rstrip(".") for h in hosts if h}


def campaign_groups(
    examples: Sequence[Example],
    passes: Sequence[tuple[int, float, int]] = PASSES,
    *,
    by_domain: bool = True,
) -> list[int]:
    """Near-duplicate clusters for each pass (n, threshold, min words), merged, and merged
    again where spam points to the same domain (`by_domain`).

    Only spam is merged by domain: readers link the same few hosts (github.com, wikipedia
    and the like) without being one campaign, while a spammer's domain is the campaign.
    """
    groups = _UnionFind(len(examples))
    for n, threshold, min_words in passes:
        sets = [word_shingles(ex.content, n, min_words) for ex in examples]
        for i, j in _near_pairs(sets, threshold):
            groups.union(i, j)
    if by_domain:
        first_with: dict[str, int] = {}
        for i, ex in enumerate(examples):
            if ex.label != SPAM:
                continue
            for domain in example_domains(ex):
                groups.union(i, first_with.setdefault(domain, i))
    return groups.labels()


def cluster_summary(groups: Sequence[int]) -> dict[str, int]:
    """How much of the data has a sibling: rows, groups, rows in groups of two or more."""
    sizes = Counter(groups)
    return {
        "rows": len(groups),
        "groups": len(sizes),
        "rows_with_sibling": sum(s for s in sizes.values() if s > 1),
        "largest": max(sizes.values(), default=0),
    }


def kind_groups(examples: Sequence[Example], min_rows: int = 8) -> list[str]:
    """The kind to leave out for each example. Kinds with fewer than `min_rows` rows of
    one label are pooled under their first word ("scam_lottery" -> "scam_*"), since
    scoring three comments says little."""
    counts = Counter((ex.label, ex.kind) for ex in examples)
    out = []
    for ex in examples:
        kind = ex.kind or "(none)"
        if counts[ex.label, ex.kind] < min_rows and "_" in kind:
            kind = kind.split("_", 1)[0] + "_*"
        out.append(kind)
    return out


def held_out_scores(
    examples: Sequence[Example],
    test: Sequence[bool],
    fit: Fit,
    groups: Sequence[int] | None = None,
) -> tuple[np.ndarray, int]:
    """Scores of the `test` rows from a model trained on the others, minus every row that
    shares a group with a test row. Returns (scores, training rows dropped for that)."""
    mask = np.asarray(test, dtype=bool)
    if groups is None:
        train_mask = ~mask
    else:
        taken = {g for g, t in zip(groups, mask, strict=True) if t}
        train_mask = np.array([g not in taken for g in groups]) & ~mask
    dropped = int((~mask).sum() - train_mask.sum())
    train = [ex for ex, keep in zip(examples, train_mask, strict=True) if keep]
    score = fit(train)
    return score([ex.as_features() for ex, t in zip(examples, mask, strict=True) if t]), dropped


@dataclass(frozen=True)
class HeldOutGroup:
    """How a model that never saw one kind (or file) of comments treats them."""

    name: str
    label: int
    n: int
    scores: np.ndarray
    dropped: int  # training rows left out because they were near-duplicates of these

    def share(self, low: float, high: float | None = None) -> float:
        s = self.scores
        mask = s >= low if high is None else (s >= low) & (s < high)
        return float(mask.mean()) if len(s) else 0.0

    def row(self, publish_below: float = 0.35, spam_above: float = 0.9) -> dict[str, object]:
        """At 0.5 (recall for spam, false positives for ham) and at the routing thresholds."""
        return {
            "name": self.name,
            "label": "spam" if self.label == SPAM else "ham",
            "n": self.n,
            "at_0.5": round(self.share(0.5), 4),
            "published": round(1.0 - self.share(publish_below), 4),
            "review": round(self.share(publish_below, spam_above), 4),
            "spam": round(self.share(spam_above), 4),
            "mean_score": round(float(self.scores.mean()), 4) if self.n else 0.0,
            "dropped": self.dropped,
        }


def leave_one_out(
    examples: Sequence[Example],
    names: Sequence[str],
    fit: Fit,
    *,
    groups: Sequence[int] | None = None,
    only: Callable[[str, int], bool] | None = None,
) -> list[HeldOutGroup]:
    """For each (name, label) among the examples: train without those rows (and their
    groups), score them. `names` is a name per example (its kind, its file); `only`
    picks which (name, label) pairs to run."""
    pairs = sorted({(name, ex.label) for name, ex in zip(names, examples, strict=True)})
    results = []
    for name, label in pairs:
        if label is None or (only is not None and not only(name, label)):
            continue
        test = [n == name and ex.label == label for n, ex in zip(names, examples, strict=True)]
        scores, dropped = held_out_scores(examples, test, fit, groups)
        results.append(HeldOutGroup(name, label, int(sum(test)), scores, dropped))
    return results


def leave_one_kind_out(
    examples: Sequence[Example],
    fit: Fit,
    *,
    groups: Sequence[int] | None = None,
    min_rows: int = 8,
    only: Callable[[str, int], bool] | None = None,
) -> list[HeldOutGroup]:
    """Each kind of spam (and of ham) scored by a model trained without it."""
    return leave_one_out(examples, kind_groups(examples, min_rows), fit, groups=groups, only=only)


def leave_one_source_out(
    examples: Sequence[Example],
    fit: Fit,
    *,
    groups: Sequence[int] | None = None,
    only: Callable[[str, int], bool] | None = None,
) -> list[HeldOutGroup]:
    """Each file (source) scored by a model trained without it."""
    return leave_one_out(examples, [ex.source for ex in examples], fit, groups=groups, only=only)


def grouped_cv_scores(
    examples: Sequence[Example],
    fit: Fit,
    groups: Sequence[int] | None = None,
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Out-of-fold scores for every example; with `groups`, whole groups fall on one side
    of each fold (stratified by label), otherwise rows are split at random."""
    labels = np.array([ex.label for ex in examples], dtype=int)
    keys = np.arange(len(examples)) if groups is None else np.asarray(groups)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    out = np.full(len(examples), np.nan)
    for train_idx, test_idx in splitter.split(np.zeros(len(labels)), labels, keys):
        score = fit([examples[i] for i in train_idx])
        out[test_idx] = score([examples[i].as_features() for i in test_idx])
    return out


def f1_at_prevalence(recall: float, false_positive_rate: float, prevalence: float) -> float:
    """Spam F1 if spam were `prevalence` of the comments, from the per-class rates.

    Recall and the false positive rate do not depend on how much spam there is, precision
    does: an evaluation set of half spam reports a better F1 than a site where one comment
    in five is spam would see with the same model.
    """
    tp = recall * prevalence
    fp = false_positive_rate * (1.0 - prevalence)
    return 2 * tp / (2 * tp + fp + (1.0 - recall) * prevalence) if tp else 0.0


def pooled(results: Sequence[HeldOutGroup]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of several held-out groups, as one evaluation set."""
    labels = np.concatenate([np.full(r.n, r.label) for r in results]) if results else np.array([])
    scores = np.concatenate([r.scores for r in results]) if results else np.array([])
    return labels.astype(int), scores


# Common given names and surnames of the readers the service is built for, in English,
# Persian and Arabic. A reader's name is no evidence of spam, but a seed corpus whose spam
# was written with stock names ("Linda Moore") teaches that it is: before the corpus was
# balanced, "James Davis" moved an ordinary comment from published to held. Tests keep
# none of these mostly spam in the seed corpus; `name_shift` measures what a name does.
_GIVEN = """james mary john patricia robert jennifer michael linda david elizabeth william
    barbara richard susan joseph jessica thomas sarah chris christopher karen daniel lisa
    matthew nancy anthony sandra mark emily paul julia chloe olivia emma sophia mike nina
    anna kevin brian laura tyler samuel bella monica derek marcus lana sophie rita rosa
    angela kayla ashley amanda stephanie nicole melissa rebecca justin ryan jacob gary eric
    jonathan stephen steven scott frank brandon gregory benjamin alexander patrick jack
    peter george kate amy helen lucy hannah alice ben tom sam alex adam josh kelly rachel
    megan
    محمد علی حسین رضا مهدی امیر حمید مریم فاطمه زهرا سارا نرگس نیلوفر
    أحمد علي عمر يوسف خالد حسن فيصل زياد فاطمة مريم نور سارة ليلى منى"""
GIVEN_NAMES = tuple(_GIVEN.split())
_SURNAMES = """smith johnson williams brown jones garcia miller davis kumar khan anderson taylor
    moore wilson walker martin lee clark lewis robinson wright adams baker nelson carter
    mitchell parker evans collins harris jackson thompson martinez rodriguez hernandez
    lopez gonzalez patel singh"""
SURNAMES = tuple(_SURNAMES.split())
# Comments anyone might leave, in the three languages; generic praise is among them
# because it is what a name could tip either way.
NEUTRAL_COMMENTS = (
    "Very helpful, thank you for writing this.",
    "Great article, thanks!",
    "Thanks for sharing this.",
    "This helped me a lot, thank you.",
    "Does this also work on Windows?",
    "مقاله خیلی خوبی بود، ممنون",
    "شكرا على هذا المقال المفيد",
)
UNSEEN_NAME = "Qwzxv"  # in no vocabulary: the score a comment gets from an unknown name


@dataclass(frozen=True)
class NameShift:
    """How far a personal name moves the scores of `NEUTRAL_COMMENTS` from an unknown name."""

    pairs: int
    mean: float
    p95: float
    largest: float
    publish_lost: int  # published under the unknown name, held or marked spam under this one
    spam_gained: int  # not marked spam under the unknown name, marked spam under this one
    worst: tuple[tuple[str, float], ...]  # the names with the largest mean shift


def authors_to_try(given: int = 20) -> list[str]:
    """Every given name alone, and the first `given` of them with every surname."""
    return [
        *GIVEN_NAMES,
        *(f"{g.title()} {s.title()}" for g in GIVEN_NAMES[:given] for s in SURNAMES),
    ]


def name_shift(
    score: Scorer, publish_below: float, spam_from: float, authors: Sequence[str] | None = None
) -> NameShift:
    authors = list(authors or authors_to_try())
    comments = list(NEUTRAL_COMMENTS)
    base = score([{"content": c, "author": UNSEEN_NAME, "url": ""} for c in comments])
    scores = score(
        [{"content": c, "author": a, "url": ""} for a in authors for c in comments]
    ).reshape(len(authors), len(comments))
    shift = scores - base
    order = np.argsort(-shift.mean(axis=1))[:8]
    return NameShift(
        pairs=int(shift.size),
        mean=float(shift.mean()),
        p95=float(np.percentile(shift, 95)),
        largest=float(shift.max()),
        publish_lost=int(((base < publish_below) & (scores >= publish_below)).sum()),
        spam_gained=int(((base < spam_from) & (scores >= spam_from)).sum()),
        worst=tuple((authors[i], round(float(shift[i].mean()), 3)) for i in order),
    )


def name_counts(examples: Sequence[Example], names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """(ham, spam) rows whose author has each name as a word, folded as the model folds it."""
    wanted = {feature_text(n): n for n in names}
    counts = {n: [0, 0] for n in wanted.values()}
    for ex in examples:
        for word in set(_WORD_RE.findall(feature_text(ex.author))) & wanted.keys():
            counts[wanted[word]][ex.label == SPAM] += 1
    return {n: (h, s) for n, (h, s) in counts.items()}
