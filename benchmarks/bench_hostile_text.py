"""Scoring hostile text: the patterns on user text are linear, so a comment built to make
a regular expression backtrack costs what its length costs, nothing more.

    /work/venv/bin/python benchmarks/bench_hostile_text.py [--repeat 5]

Scores and explains (the service's inline path: `SpamModel.score_and_explain`) an ordinary
comment as the baseline of the same run, then hostile texts of 10,000 characters (the
service's content limit) and 100,000 characters (ten times it), and runs the log
redaction on the same texts. Prints the median of `--repeat` runs of each, in ms, and the
ratio to the baseline per 1,000 characters (about 1 means "as costly as ordinary text").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.privacy import redact  # noqa: E402
from moderation.scoring import ensure_model  # noqa: E402

ORDINARY = (
    "The article says the budget grew by 4%, but the council minutes say 3.2%. Which figure "
    "is right? The minutes were published on the city's site on 12 March, page 7. "
) * 2
HOSTILE = {
    "digits": "1",
    "digits and spaces": "1 ",
    "x (email local part)": "x",
    "a.": "a.",
    "www.": "www.",
    "$1": "$1",
    "@": "@",
    "http://": "http://",
    "<a href": "<a ",
    "a-": "a-",
    "Persian digits": "۱",
}


def timed(call, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = ensure_model(Path(tmp) / "model.skops")

    def record(text: str) -> dict[str, str]:
        return {"content": text, "author": "Reader", "url": ""}

    base = timed(lambda: model.score_and_explain(record(ORDINARY)), args.repeat * 20)
    per_k = base / (len(ORDINARY) / 1000)
    print(f"model {model.version}; baseline: ordinary {len(ORDINARY)}-char comment")
    print(f"  score+explain {base:.3f} ms ({per_k:.3f} ms per 1,000 chars)")
    print()
    print(
        f"{'text':22s} {'chars':>8s} {'score+explain ms':>17s} {'x baseline/1k':>14s} "
        f"{'redact ms':>10s}"
    )
    for name, unit in HOSTILE.items():
        for size in (10_000, 100_000):
            text = (unit * (size // len(unit) + 1))[:size]
            ms = timed(lambda text=text: model.score_and_explain(record(text)), args.repeat)
            red = timed(lambda text=text: redact(text), args.repeat)
            ratio = (ms / (size / 1000)) / per_k
            print(f"{name:22s} {size:8,d} {ms:17.1f} {ratio:14.2f} {red:10.2f}")


if __name__ == "__main__":
    main()
