"""Inline scoring latency: the lean scorer against the scikit-learn pipeline, one comment a call.

    python benchmarks/bench_scoring.py [--data ../shared/data/tubespam/*.csv]

Trains the default model from the seed corpus (as a fresh install does), then scores every
comment of the data one at a time, several passes, and prints p50/p99/mean per call for:
the lean scorer (score), the lean scorer with explanation (score_and_explain), and the
pipeline's predict_proba([one comment]) as the baseline measured in the same run. It also
checks both give the same probabilities, and reports what the default model costs to
train (seconds, on the seed corpus minus its held-out part, as a fresh install trains it)
and to keep (the model file's size).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from classifier.corpus import load_seed_corpus
from classifier.data import read_examples
from classifier.model import train_model
from classifier.persistence import save_model
from classifier.split import split

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = sorted(glob.glob(str(ROOT.parent / "shared" / "data" / "tubespam" / "*.csv")))


def timed(fn, records, passes: int) -> np.ndarray:
    out = []
    for _ in range(passes):
        for record in records:
            start = time.perf_counter()
            fn(record)
            out.append(time.perf_counter() - start)
    return np.array(out) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", default=DEFAULT_DATA)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    default = train_model(split(load_seed_corpus())[0])
    train_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        size = save_model(default, Path(tmp) / "model.skops").stat().st_size
    print(
        f"default model: trained in {train_seconds:.1f} s, file {size / 1e6:.2f} MB "
        f"(load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    model = train_model(load_seed_corpus())
    examples = read_examples(args.data) if args.data else load_seed_corpus()
    records = [ex.as_features() for ex in examples]
    for record in records[:200]:  # warm caches
        model.score(record)

    batch = model.score_many(records)
    lean = np.array([model.score(r) for r in records])
    rows = {
        "lean score": timed(model.score, records, args.passes),
        "lean score+explain": timed(model.score_and_explain, records, args.passes),
        "pipeline predict_proba": timed(
            lambda r: model.estimator.predict_proba([r]), records[:1000], 1
        ),
    }
    print(
        f"{len(records)} comments (mean {np.mean([len(r['content']) for r in records]):.0f} chars)"
    )
    print(f"max |lean - pipeline| probability difference: {np.abs(batch - lean).max():.2e}")
    print(f"{'path':26s} {'calls':>7s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s}")
    figures: dict[str, dict[str, float]] = {
        "default model": {"train_seconds": train_seconds, "file_bytes": size}
    }
    for name, ms in rows.items():
        p50, p99 = np.percentile(ms, [50, 99])
        figures[name] = {"calls": len(ms), "p50_ms": p50, "p99_ms": p99, "mean_ms": ms.mean()}
        print(f"{name:26s} {len(ms):7d} {p50:8.3f} {p99:8.3f} {ms.mean():8.3f}")
    speedup = figures["pipeline predict_proba"]["p50_ms"] / figures["lean score"]["p50_ms"]
    print(f"lean scorer is {speedup:.0f}x faster than predict_proba at p50")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "scoring.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
