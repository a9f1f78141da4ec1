"""What the metrics cost a comment: POST /api/v1/comments with metrics on and off.

    /work/venv/bin/python benchmarks/bench_metrics_overhead.py [--requests 50] [--rounds 40]
        [--mode multiprocess|single]

Two apps in one process, the same Redis, the same comments: one with metrics on, one
with MODERATION_METRICS=0. Each round posts `--requests` comments to each through the
Flask test client, in alternating order, after a warm-up: short rounds, many of them, so
that a busy stretch of the machine (other processes on 2 cores) hits both alike. Prints
the median requests/s of each, the ratio on/off, the median CPU time per request of the
posting thread (what the metrics add in Python, less disturbed by other processes than
wall time), and the time of one /metrics scrape.

`--mode multiprocess` (the default) counts as under `moderation serve`: into files of a
PROMETHEUS_MULTIPROC_DIR (a temporary one), merged at scrape time. `--mode single` counts
in the app's own registry, as the Flask dev server and the tests do.

The test client has no network and no gunicorn in the way, so this is the largest share
metrics can take of a request; over HTTP it is smaller. A redis-server of the script's own
on a free port is used (never the machine's Redis on 6379) and stopped at the end. The
model is benchmarks/out/model.skops, trained on the first run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The limits on posts (moderation/limits.py) would refuse a few hundred comments a second
# from one address: off, by their environment names (unknown names are ignored).
LIMITS_OFF = {
    "MODERATION_RATE_LIMIT": "",
    "MODERATION_FLOOD_INTERVAL": "0",
    "MODERATION_DUPLICATE_WINDOW": "0",
    "MODERATION_MAX_PENDING_PER_CLIENT": "0",
}


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    import redis

    from moderation.redis_server import free_port, redis_binary

    port = free_port()
    proc = subprocess.Popen(
        [redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        + ["--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(400):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


def bodies(n: int, start: int) -> list[dict[str, str]]:
    return [
        {
            "thread": f"news/2026/story-{i % 17}",
            "author": f"Reader {i}",
            "email": f"reader{i}@example.org",
            "content": f"Comment {i}: the council minutes say 3.2%, the article says 4%. "
            "Which figure is right?",
        }
        for i in range(start, start + n)
    ]


def post_all(client, items: list[dict[str, str]]) -> tuple[float, float]:
    """Requests per second and CPU microseconds per request (this thread) for posting
    `items`; any answer but 201 stops the benchmark."""
    started, cpu = time.perf_counter(), time.thread_time()
    for body in items:
        r = client.post("/api/v1/comments", json=body)
        if r.status_code != 201:
            raise SystemExit(f"POST answered {r.status_code}: {r.get_data(as_text=True)}")
    wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
    return len(items) / wall, cpu / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="per app per round")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--mode", choices=("multiprocess", "single"), default="multiprocess")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.mode == "multiprocess":
            (folder / "metrics").mkdir()
            # Before the apps are made, as `moderation serve` does before its workers fork.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder / "metrics")
        import logging

        from moderation import create_app
        from moderation.config import Settings
        from moderation.scoring import ensure_model

        model_path = ROOT / "benchmarks" / "out" / "model.skops"
        ensure_model(model_path)
        proc, redis_url = start_redis(folder)
        try:
            apps = {}
            for name, metrics in (("on", "1"), ("off", "0")):
                env = {
                    **LIMITS_OFF,
                    "MODERATION_METRICS": metrics,
                    "MODERATION_LOG_LEVEL": "WARNING",
                }
                settings = Settings.from_env(
                    env,
                    data_dir=folder / name,
                    redis_url=redis_url,
                    key_prefix=f"bench-metrics-{name}",
                    secret_key="bench-secret-key",
                    model_path=model_path,
                )
                apps[name] = create_app(settings).test_client()
            # One INFO line per comment would be most of what is measured.
            logging.getLogger().setLevel(logging.WARNING)
            counter = 0
            for client in apps.values():
                post_all(client, bodies(args.warmup, counter))
                counter += args.warmup
            rates: dict[str, list[float]] = {"on": [], "off": []}
            cpu: dict[str, list[float]] = {"on": [], "off": []}
            for round_no in range(args.rounds):
                order = ("on", "off") if round_no % 2 == 0 else ("off", "on")
                for name in order:
                    rate, micros = post_all(apps[name], bodies(args.requests, counter))
                    rates[name].append(rate)
                    cpu[name].append(micros)
                    counter += args.requests
            scrapes = []
            for _ in range(20):
                started = time.perf_counter()
                assert apps["on"].get("/metrics").status_code == 200
                scrapes.append((time.perf_counter() - started) * 1000)
        finally:
            proc.kill()
            proc.wait()

    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    cpu_on, cpu_off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
    print(
        f"mode {args.mode}, {args.rounds} rounds of {args.requests} posts per app, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"metrics on : {on:7.1f} req/s (median)")
    print(f"metrics off: {off:7.1f} req/s (median)")
    print(f"ratio on/off: {on / off:.3f}")
    print(
        f"CPU per request: on {cpu_on:.0f} us, off {cpu_off:.0f} us "
        f"(metrics add {cpu_on - cpu_off:.0f} us, {(cpu_on / cpu_off - 1) * 100:+.1f}%)"
    )
    print(f"/metrics scrape: {statistics.median(scrapes):.2f} ms (median of 20)")


if __name__ == "__main__":
    main()
