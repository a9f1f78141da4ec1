"""How the default model does on comments unlike its seed corpus: kinds and sources it never saw.

    /work/venv/bin/python benchmarks/bench_generalisation.py [--sections data,cv,kinds,...]
        [--corpus DIR] [--probes FILE] [--data-dir ../shared/data/tubespam] [--all-kinds]
        [--variant NAME] [--json OUT]

The real test of issue 12 is a set of article comments from another site, which the
project does not have. These are the proxies, each harder than a random split:

data     the corpus, and how much of it has a near-twin: word 3-gram Jaccard > 0.5, spun
         frames (single words, Jaccard > 0.4 over six or more distinct words), and spam
         sharing a domain (one campaign). classifier/generalisation.py.
cv       5-fold CV with rows split at random, then with those groups kept on one side:
         the gap is how much the corpus flatters itself.
kinds    leave one kind out: for each English kind of spam, train without it (and
         without its near-twins and campaigns) and score it: recall at 0.5, and at the
         service's thresholds the share published / held for review / marked spam. The
         same for each English kind of ham (ham marked spam is the costly mistake). The
         article-comment kinds pooled give an "unseen kinds" ROC AUC and F1, the F1 also
         as it would be at one spam comment in five (F1@20%), the share of the real set.
sources  leave one corpus file out, then the tubespam files: trained on the seed corpus
         only (transfer), and on the seed corpus plus the other two (cross-source).
probes   benchmarks/article_probes.jsonl: article comments written for this benchmark
         and in no corpus file (tests check), scored by the default model (the seed corpus
         minus classifier/split.py's held-out part, as a fresh install trains it).
names    how far a common personal name (classifier/generalisation.py's English, Persian
         and Arabic lists) moves ordinary comments from the score an unknown name gets,
         and how many routing decisions it changes; the corpus rows with the most
         spam-leaning names.
calib    reliability of the grouped-CV scores and of the probes.

`--variant` trains a pipeline variant from VARIANTS instead of the default (the
comparisons in benchmarks/model_comparison.md). Prints markdown tables; `--json` also
writes every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier.corpus import load_seed_corpus  # noqa: E402
from classifier.data import SPAM, Example, read_examples  # noqa: E402
from classifier.evaluate import metrics, reliability_table  # noqa: E402
from classifier.features import LEGACY_META  # noqa: E402
from classifier.generalisation import (  # noqa: E402
    GIVEN_NAMES,
    NEAR_DUPLICATE,
    PASSES,
    SURNAMES,
    HeldOutGroup,
    campaign_groups,
    cluster_summary,
    f1_at_prevalence,
    grouped_cv_scores,
    kind_groups,
    leave_one_out,
    leave_one_source_out,
    name_counts,
    name_shift,
    pooled,
)
from classifier.model import train_model  # noqa: E402
from classifier.split import split  # noqa: E402
from moderation.config import Settings  # noqa: E402

PUBLISH_BELOW, SPAM_ABOVE = Settings.publish_below, Settings.spam_above
PREVALENCE = 0.2  # the real held-out set of issue 12: one comment in five is spam
DEFAULT_PROBES = ROOT / "benchmarks" / "article_probes.jsonl"
DEFAULT_TUBESPAM = Path(
    os.environ.get("TUBESPAM_DIR", ROOT.parent / "shared" / "data" / "tubespam")
)
SECTIONS = ("data", "cv", "kinds", "sources", "probes", "names", "calib")

# Files that are not English (bench_languages.py counts them per language) and files of
# YouTube comments: neither is what an article's comment form receives.
_NOT_ENGLISH = ("_fa.jsonl", "_ar.jsonl", "ham_world.jsonl", "spam_world.jsonl")
_NOT_ENGLISH_FILES = {"ham_international.jsonl", "spam_foreign.jsonl"}
_VIDEO_KINDS = ("youtube_", "music_video", "music_")

# Pipeline variants for the feature comparison (classifier.model.build_pipeline options),
# in the order they were tried; benchmarks/model_comparison.md has the figures.
_META7 = LEGACY_META
_CONTACT = ("markup_links", "spelled_phone", "contact_handle", "site_in_text")
_PREVIOUS = {"identity_links": False, "chars_select": "content", "meta_features": _META7}
_LINKS = {"chars_select": "content"}
_NO_LINK_COUNTS = tuple(n for n in _META7 if n not in ("links", "link_domains"))
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "previous": _PREVIOUS,
    "+contact": {**_PREVIOUS, "meta_features": (*_META7, *_CONTACT)},
    "+where": {**_LINKS, "meta_features": _META7},
    "+contact+where": {**_LINKS, "meta_features": (*_META7, *_CONTACT)},
    "+contact+where identity x0.5": {
        **_LINKS,
        "meta_features": (*_META7, *_CONTACT),
        "branch_weights": {"identity": 0.5},
    },
    "+reference": {**_LINKS, "meta_features": (*_META7, *_CONTACT, "reference_links")},
    "+reference+site chars": {"meta_features": (*_META7, *_CONTACT, "reference_links")},
    "+reference+identity chars": {
        "chars_select": "content_identity",
        "meta_features": (*_META7, *_CONTACT, "reference_links"),
    },
    "+reference+site chars+named": {
        "meta_features": (*_META7, *_CONTACT, "reference_links", "site_named_after_author")
    },
    "+reference+site chars+named, capped length": {
        "meta_features": tuple(
            "log_length_capped" if n == "log_length" else n
            for n in (*_META7, *_CONTACT, "reference_links", "site_named_after_author")
        )
    },
    "+reference+site chars+named -links": {
        "meta_features": tuple(
            n
            for n in (*_META7, *_CONTACT, "reference_links", "site_named_after_author")
            if n != "links"
        )
    },
    "+reference+site chars+named -links -link_domains": {
        "meta_features": (*_NO_LINK_COUNTS, *_CONTACT, "reference_links", "site_named_after_author")
    },
}
# The kinds the comparison leaves out one at a time: the article-comment kinds that were
# hard to catch, or hard to publish, when unseen (the `kinds` section has every kind).
HARD_KINDS = frozenset(
    {
        "seo_praise_urlonly", "praise_site_only", "thanks_short_site", "keyword_author",
        "phone_obfuscated", "helpline_scam", "html_anchor", "bbcode", "praise_paraphrase",
        "spun_paragraph", "reader_source_link", "reader_code", "reader_error",
        "reader_thanks_site", "tech_code", "reader_contact_mention", "reader_company_site",
        "praise_nolink", "music_video_share",
    }
)  # fmt: skip


def is_english(ex: Example) -> bool:
    return not ex.source.endswith(_NOT_ENGLISH) and ex.source not in _NOT_ENGLISH_FILES


def is_article(ex: Example) -> bool:
    """English and not a YouTube comment: what a news site or blog gets."""
    return is_english(ex) and not ex.kind.startswith(_VIDEO_KINDS)


def fitter(options: dict[str, Any]) -> Callable[[Sequence[Example]], Any]:
    def fit(train: Sequence[Example]) -> Any:
        model = train_model(train, options=options) if options else train_model(train)
        return model.score_many

    return fit


def headline(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """The figures the issue asks about, on one evaluation set."""
    m = metrics(labels, scores, PUBLISH_BELOW, SPAM_ABOVE)
    ham = labels == 0
    fpr = float((scores[ham] >= 0.5).mean()) if ham.any() else 0.0
    return {
        "n": m["n"],
        "spam": m["spam"],
        "roc_auc": m["roc_auc"],
        "f1": m["f1"],
        "f1_at_20": round(f1_at_prevalence(m["recall"], fpr, PREVALENCE), 4),
        "precision": m["precision"],
        "recall": m["recall"],
        "ham_marked_spam": m["ham_marked_spam_rate"],
        "spam_published": m["spam_published_rate"],
        "review": m["review_rate"],
        "brier": m["brier"],
    }


HEADLINE_COLUMNS = (
    ("n", "n"),
    ("spam", "spam"),
    ("roc_auc", "AUC"),
    ("f1", "F1"),
    ("f1_at_20", "F1@20%"),
    ("recall", "recall"),
    ("ham_marked_spam", "ham->spam"),
    ("spam_published", "spam published"),
    ("review", "review"),
)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def headline_table(rows: dict[str, dict[str, Any]]) -> str:
    return table(
        ["evaluation", *(title for _, title in HEADLINE_COLUMNS)],
        [[name, *(r[key] for key, _ in HEADLINE_COLUMNS)] for name, r in rows.items()],
    )


def held_out_table(results: Sequence[HeldOutGroup], label: int) -> str:
    rows = []
    for r in sorted((r for r in results if r.label == label), key=lambda r: r.name):
        row = r.row(PUBLISH_BELOW, SPAM_ABOVE)
        rows.append(
            [
                r.name,
                r.n,
                row["at_0.5"],
                row["published"],
                row["review"],
                row["spam"],
                row["mean_score"],
                row["dropped"],
            ]
        )
    first = "recall@0.5" if label == SPAM else "flagged@0.5"
    return table(
        [
            "left out",
            "n",
            first,
            "published",
            "review",
            "marked spam",
            "mean score",
            "twins dropped",
        ],
        rows,
    )


def emit(text: str = "") -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------- sections


def section_data(corpus: list[Example], probes: list[Example]) -> dict[str, Any]:
    emit("## data\n")
    spam = sum(ex.label == SPAM for ex in corpus)
    emit(
        f"seed corpus: {len(corpus)} comments ({spam} spam, {len(corpus) - spam} ham) in "
        f"{len({ex.source for ex in corpus})} files; English article comments "
        f"{sum(map(is_article, corpus))}; probes {len(probes)} "
        f"({sum(ex.label == SPAM for ex in probes)} spam)"
    )
    variants = {
        "word 3-gram Jaccard > 0.5": campaign_groups(corpus, [NEAR_DUPLICATE], by_domain=False),
        "+ spun frames (words, Jaccard > 0.4)": campaign_groups(corpus, PASSES, by_domain=False),
        "+ spam sharing a domain (campaigns)": campaign_groups(corpus, PASSES),
    }
    rows, out = [], {}
    for name, groups in variants.items():
        s = cluster_summary(groups)
        out[name] = s
        rows.append(
            [
                name,
                s["groups"],
                s["rows_with_sibling"],
                f"{s['rows_with_sibling'] / s['rows']:.1%}",
                s["largest"],
            ]
        )
    emit()
    emit(table(["grouping", "groups", "rows with a twin", "share", "largest group"], rows))
    groups = variants["+ spam sharing a domain (campaigns)"]
    sizes = Counter(groups)
    per_file: dict[str, list[int]] = {}
    for ex, g in zip(corpus, groups, strict=True):
        counts = per_file.setdefault(ex.source, [0, 0])
        counts[0] += 1
        counts[1] += sizes[g] > 1
    emit("\nfiles with twins (campaign grouping):\n")
    emit(
        table(
            ["file", "rows", "with a twin"],
            [[f, n, f"{k / n:.0%}"] for f, (n, k) in sorted(per_file.items()) if k],
        )
    )
    return {"groupings": out, "per_file": per_file}


def section_cv(corpus: list[Example], fit, groups: list[int]) -> dict[str, Any]:
    emit("\n## cv: 5-fold, rows at random against twins and campaigns kept together\n")
    labels = np.array([ex.label for ex in corpus])
    article = np.array([is_article(ex) for ex in corpus])
    rows, scores_out = {}, {}
    for name, g in (("random rows", None), ("grouped", groups)):
        scores = grouped_cv_scores(corpus, fit, g)
        scores_out[name] = scores
        rows[f"{name}: whole corpus"] = headline(labels, scores)
        rows[f"{name}: English article comments"] = headline(labels[article], scores[article])
    emit(headline_table(rows))
    return {"rows": rows, "scores": scores_out}


def section_kinds(corpus: list[Example], fit, groups: list[int], all_kinds: bool) -> dict:
    emit("\n## kinds: leave one kind out (twins and campaigns of the kind left out too)\n")
    names = kind_groups(corpus)
    english = {name for ex, name in zip(corpus, names, strict=True) if is_english(ex)}
    article = {name for ex, name in zip(corpus, names, strict=True) if is_article(ex)}
    started = time.monotonic()
    results = leave_one_out(
        corpus, names, fit, groups=groups, only=lambda name, _: all_kinds or name in english
    )
    emit(f"({len(results)} models, {time.monotonic() - started:.0f} s)\n")
    emit("spam kinds, each scored by a model that never saw it:\n")
    emit(held_out_table(results, SPAM))
    emit("\nham kinds, each scored by a model that never saw it:\n")
    emit(held_out_table(results, 0))
    video = [r for r in results if r.name.startswith(_VIDEO_KINDS)]
    rows = {
        "unseen kinds: article comments": headline(
            *pooled([r for r in results if r.name in article])
        ),
        "unseen kinds: all English": headline(*pooled([r for r in results if r.name in english])),
    }
    if video:
        rows["unseen kinds: YouTube comments"] = headline(*pooled(video))
    emit("\npooled:\n")
    emit(headline_table(rows))
    return {"results": [r.row(PUBLISH_BELOW, SPAM_ABOVE) for r in results], "pooled": rows}


def section_sources(
    corpus: list[Example], fit, groups: list[int], tubespam: dict[str, list[Example]]
) -> dict[str, Any]:
    emit("\n## sources: leave one corpus file out\n")
    started = time.monotonic()
    results = leave_one_source_out(
        corpus, fit, groups=groups, only=lambda name, label: not name.endswith(_NOT_ENGLISH)
    )
    emit(f"({len(results)} models, {time.monotonic() - started:.0f} s)\n")
    emit(
        table(
            ["file left out", "label", "n", "at 0.5", "published", "review", "marked spam"],
            [
                [
                    r.name,
                    "spam" if r.label else "ham",
                    r.n,
                    *(r.row()[k] for k in ("at_0.5", "published", "review", "spam")),
                ]
                for r in results
            ],
        )
    )
    out: dict[str, Any] = {"files": [r.row() for r in results]}
    if tubespam:
        emit("\ntubespam files as sources:\n")
        rows = {}
        seed_model = fit(corpus)
        for name, held in tubespam.items():
            labels = np.array([ex.label for ex in held])
            records = [ex.as_features() for ex in held]
            rows[f"{name}: seed only"] = headline(labels, seed_model(records))
            others = [ex for other, exs in tubespam.items() if other != name for ex in exs]
            rows[f"{name}: seed + other files"] = headline(labels, fit(corpus + others)(records))
        emit(headline_table(rows))
        out["tubespam"] = rows
    return out


def section_probes(probes: list[Example], score) -> dict[str, Any]:
    emit(
        "\n## probes: fresh article comments, default model (seed corpus minus its held-out part)\n"
    )
    labels = np.array([ex.label for ex in probes])
    scores = score([ex.as_features() for ex in probes])
    emit(headline_table({"article_probes.jsonl": headline(labels, scores)}))
    by_kind: dict[tuple[int, str], list[float]] = {}
    for ex, s in zip(probes, scores, strict=True):
        by_kind.setdefault((ex.label, ex.kind), []).append(float(s))
    emit()
    emit(
        table(
            ["label", "kind", "n", "published", "review", "marked spam", "min", "max"],
            [
                [
                    "spam" if label else "ham",
                    kind,
                    len(s),
                    sum(x < PUBLISH_BELOW for x in s),
                    sum(PUBLISH_BELOW <= x < SPAM_ABOVE for x in s),
                    sum(x >= SPAM_ABOVE for x in s),
                    min(s),
                    max(s),
                ]
                for (label, kind), s in sorted(by_kind.items())
            ],
        )
    )
    return {"headline": headline(labels, scores), "scores": scores, "labels": labels}


def section_names(corpus: list[Example], score) -> dict[str, Any]:
    emit("\n## names: what a reader's name does to an ordinary comment (default model)\n")
    shift = name_shift(score, PUBLISH_BELOW, SPAM_ABOVE)
    emit(
        table(
            ["pairs", "mean shift", "p95", "largest", "published -> held", "-> marked spam"],
            [
                [
                    shift.pairs,
                    shift.mean,
                    shift.p95,
                    shift.largest,
                    shift.publish_lost,
                    shift.spam_gained,
                ]
            ],
        )
    )
    emit(f"\nlargest mean shift: {', '.join(f'{n} {v:+.3f}' for n, v in shift.worst)}")
    counts = name_counts(corpus, [*GIVEN_NAMES, *SURNAMES])
    in_spam = [(name, hs) for name, hs in counts.items() if hs[1]]
    leaning = sorted(in_spam, key=lambda kv: kv[1][0] / kv[1][1])[:8]
    emit(f"corpus rows (ham, spam), most spam-leaning: {leaning}")
    return {"shift": shift.__dict__, "counts": counts}


def section_calib(cv: dict[str, Any] | None, probes: dict[str, Any] | None, corpus) -> None:
    emit("\n## calib: reliability (band: n, mean score -> observed spam rate)\n")
    sets = []
    if cv:
        labels = np.array([ex.label for ex in corpus])
        sets.append(("grouped CV, whole corpus", labels, cv["scores"]["grouped"]))
    if probes:
        sets.append(("probes", probes["labels"], probes["scores"]))
    for name, labels, scores in sets:
        emit(f"{name}:")
        for row in reliability_table(labels, scores):
            emit(
                f"    {row['band']}: {row['n']:5d}  {row['mean_score']:.3f} -> "
                f"{row['spam_rate']:.3f}"
            )


def compare_variant(
    options: dict[str, Any],
    corpus: list[Example],
    groups: list[int],
    probes: list[Example],
    tubespam: dict[str, list[Example]],
) -> dict[str, Any]:
    """The comparison protocol: probes, grouped CV on article comments, the hard kinds left
    out one at a time (pooled), tubespam transfer (seed only) and cross-source F1."""
    fit = fitter(options)
    out: dict[str, Any] = {}
    score = fit(split(corpus)[0])
    out["probes"] = headline(
        np.array([ex.label for ex in probes]), score([ex.as_features() for ex in probes])
    )
    scores = grouped_cv_scores(corpus, fit, groups)
    labels = np.array([ex.label for ex in corpus])
    article = np.array([is_article(ex) for ex in corpus])
    out["grouped_cv_article"] = headline(labels[article], scores[article])
    names = kind_groups(corpus)
    held = leave_one_out(corpus, names, fit, groups=groups, only=lambda n, _: n in HARD_KINDS)
    out["kinds"] = {f"{r.name}/{'spam' if r.label else 'ham'}": r.row() for r in held}
    out["hard_kinds_pooled"] = headline(*pooled(held))
    seed_model = fit(corpus)
    out["transfer_f1"], out["cross_f1"] = {}, {}
    for name, rows in tubespam.items():
        y = np.array([ex.label for ex in rows])
        records = [ex.as_features() for ex in rows]
        out["transfer_f1"][name] = headline(y, seed_model(records))["f1"]
        others = [ex for other, exs in tubespam.items() if other != name for ex in exs]
        out["cross_f1"][name] = headline(y, fit(corpus + others)(records))["f1"]
    return out


def section_compare(names: Sequence[str], corpus, groups, probes, tubespam) -> dict[str, Any]:
    emit("## compare: feature variants (benchmarks/model_comparison.md)\n")
    results = {}
    for name in names:
        started = time.monotonic()
        results[name] = compare_variant(VARIANTS[name], corpus, groups, probes, tubespam)
        emit(f"  {name}: {time.monotonic() - started:.0f} s")
    emit()
    rows = []
    for name, r in results.items():
        p, g, k = r["probes"], r["grouped_cv_article"], r["hard_kinds_pooled"]
        rows.append(
            [name, p["roc_auc"], p["f1_at_20"], p["ham_marked_spam"], g["roc_auc"],
             g["f1_at_20"], k["roc_auc"], k["f1_at_20"], k["ham_marked_spam"],
             *r["transfer_f1"].values(), *r["cross_f1"].values()]
        )  # fmt: skip
    files = list(next(iter(results.values()))["transfer_f1"]) if results else []
    emit(
        table(
            ["variant", "probes AUC", "probes F1@20%", "probes ham->spam", "gCV AUC",
             "gCV F1@20%", "hard kinds AUC", "hard kinds F1@20%", "hard kinds ham->spam",
             *(f"transfer {f}" for f in files), *(f"cross {f}" for f in files)],
            rows,
        )
    )  # fmt: skip
    kinds = sorted({k for r in results.values() for k in r["kinds"]})
    emit("\nhard kinds left out one at a time: share at 0.5 / published / marked spam\n")
    emit(
        table(
            ["kind", *results],
            [[k, *(_kind_cell(r["kinds"].get(k)) for r in results.values())] for k in kinds],
        )
    )
    return results


def _kind_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    return f"{row['at_0.5']:.2f} / {row['published']:.2f} / {row['spam']:.2f}"


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--corpus", type=Path, help="the seed corpus from DIR/*.jsonl")
    parser.add_argument("--probes", type=Path, default=DEFAULT_PROBES)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_TUBESPAM)
    parser.add_argument("--all-kinds", action="store_true", help="non-English kinds too")
    parser.add_argument("--variant", default="default", choices=sorted(VARIANTS))
    parser.add_argument(
        "--compare", help="comma-separated VARIANTS to compare instead of the sections"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sections = set(args.sections.split(","))
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")

    started = time.monotonic()
    corpus = (
        read_examples(sorted(args.corpus.glob("*.jsonl"))) if args.corpus else load_seed_corpus()
    )
    probes = read_examples([args.probes]) if args.probes.exists() else []
    tubespam = {
        f.stem.split("-", 1)[-1]: read_examples([f]) for f in sorted(args.data_dir.glob("*.csv"))
    }
    fit = fitter(VARIANTS[args.variant])
    groups = campaign_groups(corpus)
    emit(
        f"# generalisation, variant {args.variant!r} ({time.strftime('%Y-%m-%d')}, "
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)\n"
    )
    out: dict[str, Any] = {"variant": args.variant}
    cv = probe = None
    if args.compare:
        chosen = args.compare.split(",")
        unknown_variants = set(chosen) - set(VARIANTS)
        if unknown_variants:
            parser.error(f"unknown variants: {sorted(unknown_variants)}")
        out["compare"] = section_compare(chosen, corpus, groups, probes, tubespam)
        sections = set()
    if "data" in sections:
        out["data"] = section_data(corpus, probes)
    if "cv" in sections:
        cv = section_cv(corpus, fit, groups)
        out["cv"] = cv["rows"]
    if "kinds" in sections:
        out["kinds"] = section_kinds(corpus, fit, groups, args.all_kinds)
    if "sources" in sections:
        out["sources"] = section_sources(corpus, fit, groups, tubespam)
    # The model a fresh install trains: the seed corpus minus its held-out part.
    default_score = fit(split(corpus)[0]) if {"probes", "names"} & sections else None
    if "probes" in sections and probes:
        probe = section_probes(probes, default_score)
        out["probes"] = probe["headline"]
    if "names" in sections:
        out["names"] = section_names(corpus, default_score)
    if "calib" in sections:
        section_calib(cv, probe, corpus)
    emit(f"\n{time.monotonic() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
