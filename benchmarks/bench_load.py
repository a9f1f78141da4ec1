"""Load test of comment submission (issue 13, "Measure"): many concurrent clients, every
acknowledged comment checked in Redis afterwards, optionally with Redis killed mid-run.

    /work/venv/bin/python benchmarks/bench_load.py [--requests 50000] [--connections 64]
        [--workers 2] [--threads 1] [--kill-redis] [--from-head | --source DIR] [--cluster]
        [--sites N]

What one run does:

1. Builds N unique, varied comment submissions (bench_submission.make_bodies: threads,
   authors, emails, English and other languages, links, some spam; plus a share in Persian
   and Arabic written here), each with its own Idempotency-Key, as pre-encoded HTTP
   requests.
2. Unless --no-bare: serves benchmarks/bare_app.py (POST /api/v1/comments echoes the JSON
   with 201) under gunicorn exactly as bench_submission.py does (same worker count and
   class), and sends it the same N requests with the same generator. This is the
   generator's own ceiling on this machine: if the bare app goes much faster than the
   service, the generator is not what limits the service's figure.
3. Starts a fresh redis-server in a temporary directory *through the service's own code*
   (moderation.redis_server.EmbeddedRedis: the same binary, append-only file,
   `--appendfsync everysec`, `--save ""`, everything as the embedded Redis of `moderation
   serve`), and the service with `python -m moderation serve` pointed at it with REDIS_URL
   (so the service never starts or restarts that Redis itself), in a temporary data dir.
4. Sends the N requests (`benchmarks/loadgen.py`: processes x asyncio, one request at a
   time per connection, 503 retried after Retry-After capped to --retry-cap seconds).
   With --kill-redis, once --kill-at of them are done, the redis-server gets SIGKILL, and
   --down-seconds later is started again on the same port with the same data dir and the
   same arguments (again by EmbeddedRedis, its port pinned to the old one).
5. Checks Redis: every 201 answer's comment id has its comment hash (its site's
   `Keys(prefix, site).comment(id)`, moderation/store/keys.py: `{prefix}:comment:<id>` for
   the default site) holding the same thread, author, content, website and status, the
   answer's content is the stored content rendered, and there is no comment hash without
   a 201 (count of comment hashes == number of 201s, each site's and in all). Ids are per
   site, so a 201 is keyed by (site, id). Every read goes through
   `moderation.redis_server.connect(REDIS_URL)`, as the service's own; the comment keys
   are SCANned on each node (each master of a cluster), which also gives the per-master
   counts.
6. Prints a markdown table (throughput, p50/p99 latency, status counts, the full/bare
   ratio, what was verified, and for --kill-redis: acknowledged comments lost, 503s,
   retries, time to the first 201 after the restart), and writes it as JSON to
   benchmarks/out/load.json under the key "normal" or "kill_redis" (the other key is kept).

Limits are turned off, because a load generator on one IP would hit every one of them:
MODERATION_RATE_LIMIT= (empty: no rate limits), MODERATION_FLOOD_INTERVAL=0 (no flood
control) and MODERATION_MAX_PENDING_PER_CLIENT=0 (no cap on held comments per IP or
commenter; with the default 20 the 21st held comment from 127.0.0.1 would be a 429). Left
on: duplicate detection (MODERATION_DUPLICATE_WINDOW, a day) and idempotency keys: every
body is unique and every key is too, so neither refuses anything, and a 409 would be a bug.

Source tree: by default the service runs from this checkout's working tree. Other
engineers edit moderation/ and classifier/ concurrently: --from-head runs it from a
`git archive HEAD` copy in the temporary directory instead (--source DIR: any copy), with
PYTHONPATH pointing there; this script imports moderation.redis_server from the same copy.

--sites N (default 1, with --cluster 3): with N > 1, N sites are created before the load
with `python -m moderation site create <id>` (the service's environment: REDIS_URL,
MODERATION_KEY_PREFIX), and the bodies go to them round robin (`"site": "<id>"` in each
JSON body); with 1, the bodies name no site and everything goes to the default site, as
a single-site deployment's comments do.

--cluster: a 3-master Redis Cluster (no replicas) of real redis-server processes, started
by tests/cluster.py (`start_cluster`), on free ports (never 6379 or its bus port 16379),
each node switched to the single Redis' persistence (`appendonly yes`, `appendfsync
everysec`) by CONFIG SET, stopped when this script ends. The service gets
`REDIS_URL=redis+cluster://...` naming the three masters. All comments of one site share
one hash tag (`{prefix:site}`), so one site lives on one master: the site ids are chosen so
that their tags land on different masters, and the check reports comments per site and
per master.

Caveats: the generator shares this machine's CPUs with the server (its CPU time is
reported); latency is closed-loop (no coordinated-omission correction); SIGKILL of
redis-server loses nothing the kernel already has, so --kill-redis tests the service's and
Redis' behaviour across a crash of the Redis process, not across a power loss (which
`appendfsync everysec` bounds to about a second of writes).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import bench_submission as sub
import loadgen

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PATH = "/api/v1/comments"
HOST = "127.0.0.1"
KEY_PREFIX = "bench-load"
SYSTEM_REDIS_PORT = 6379
DEFAULT_SITE = "default"  # moderation/sites.py: exists without being created
SITE_STEM = "load"  # created sites are load-0, load-1, ...
CLUSTER_MASTERS = 3

# The fixed contract of issue 13 for "limits off", plus the one cap that would refuse a
# load test from one IP (see the module docstring).
LIMITS_OFF = {
    "MODERATION_FLOOD_INTERVAL": "0",
    "MODERATION_RATE_LIMIT": "",
    "MODERATION_MAX_PENDING_PER_CLIENT": "0",
}
LEFT_ON = {
    "MODERATION_DUPLICATE_WINDOW": "86400 (default): bodies are unique, so it refuses none",
    "Idempotency-Key": "one unique key per comment, the same on every retry",
}

try:  # optional: CPU accounting of the redis-server process
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

BenchError = sub.BenchError
log = sub.log


class ClusterUnavailable(BenchError):
    """--cluster was asked for, but there is no cluster support to run it with."""


# --------------------------------------------------------------------------------------
# Comment bodies
# --------------------------------------------------------------------------------------

FA_NAMES = [
    ("مریم احمدی", "maryam.ahmadi"),
    ("علی رضایی", "ali.rezaei"),
    ("سارا محمدی", "sara.mohammadi"),
    ("حسین کریمی", "hossein.karimi"),
    ("نگار حسینی", "negar.hosseini"),
    ("رضا موسوی", "reza.mousavi"),
    ("زهرا جعفری", "zahra.jafari"),
    ("امیر", "amir"),
]
FA_SENTENCES = [
    "ممنون از مطلب خوبتون، خیلی به کارم اومد.",
    "من هم همین مشکل رو داشتم و با به‌روزرسانی نسخه حل شد.",
    "به نظرم بخش دوم مقاله نیاز به توضیح بیشتری داره.",
    "قطار شبانه‌ی تهران به مشهد دو ساعت تأخیر داشت ولی باز هم راحت‌تر از پرواز بود.",
    "آیا منبعی برای این آمار دارید؟",
    "خیلی عالی نوشتید، منتظر قسمت بعدی هستم.",
    "این روش رو روی سرور خودمون امتحان کردم و سرعت دو برابر شد.",
    "دستور پخت رو دنبال کردم ولی نون زیادی سفت شد؛ شاید آب کمتری ریختم.",
    "لطفاً درباره‌ی هزینه‌ها هم بنویسید.",
    "جلسه‌ی شورای شهر هفته‌ی پیش بود، نه دیروز.",
    "رأی‌گیری ۷ به ۴ بود، نه ۸ به ۳.",
    "برای من appendfsync everysec بهترین تعادل بود.",
]
AR_NAMES = [
    ("أحمد العلي", "ahmad.alali"),
    ("فاطمة الزهراء", "fatima.z"),
    ("محمد حسن", "mohammed.hassan"),
    ("ليلى خالد", "layla.khaled"),
    ("عمر الفاروق", "omar.farouq"),
    ("نور الهدى", "nour.alhuda"),
    ("يوسف", "yousef"),
]
AR_SENTENCES = [
    "شكراً على المقال الرائع، استفدت منه كثيراً.",
    "واجهت نفس المشكلة وحلّها تحديث الإصدار.",
    "أعتقد أن الجزء الثاني يحتاج إلى مزيد من التوضيح.",
    "هل لديك مصدر لهذه الأرقام؟",
    "جربت هذه الطريقة على خادمنا وتضاعفت السرعة.",
    "مقال ممتاز، بانتظار الجزء القادم.",
    "الوصفة جميلة لكن الخبز خرج قاسياً بعض الشيء.",
    "التصويت في مجلس المدينة كان سبعة مقابل أربعة وليس ثمانية مقابل ثلاثة.",
    "أتمنى أن تكتب عن التكاليف أيضاً.",
    "رحلة القطار الليلي تأخرت ساعتين لكنها أفضل من الطيران.",
    "الصور جميلة جداً، أين التقطت الصورة الثالثة؟",
]
RTL_THREADS = [
    "/fa/blog/راهنمای-ردیس/",
    "/fa/news/شورای-شهر/",
    "https://www.example.ir/اخبار/قطار-شبانه/",
    "/ar/news/مجلس-المدينة/",
    "/ar/blog/وصفة-الخبز/",
    "https://example.sa/مدونة/القطار-الليلي/",
]
RTL_LINKS = [
    "https://fa.wikipedia.org/wiki/نان_سنگک",
    "https://ar.wikipedia.org/wiki/خبز",
    "https://www.example.ir/گزارش/بودجه",
    "https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/",
]
RTL_SITES = ["https://{h}.example.ir/", "https://مثال.ایران/", "https://{h}.example.sa/blog"]
RTL_SPAM = [
    "کسب درآمد روزانه ۵ میلیون تومان فقط با گوشی! همین حالا عضو شوید {link}",
    "فروش ویژه‌ی فالوور و لایک ارزان، تحویل فوری {link} {link}",
    "اربح ١٠٠٠ دولار يومياً من المنزل، اضغط هنا {link}",
    "أفضل خدمة لزيادة المتابعين بأرخص الأسعار {link} {link}",
]
RTL_SPAM_SITES = ["http://cheap-followers.example.top", "https://earn-money.example.xyz/fa"]
MAIL_DOMAINS = ["example.org", "example.com", "mail.example.net", "example.ir", "example.sa"]


def _rtl_body(rng: random.Random, persian: bool) -> dict[str, Any]:
    names = FA_NAMES if persian else AR_NAMES
    sentences = FA_SENTENCES if persian else AR_SENTENCES
    author, handle = rng.choice(names)
    threads = RTL_THREADS[:3] if persian else RTL_THREADS[3:]
    body: dict[str, Any] = {
        "thread": rng.choice(threads),
        "author": author,
        "email": f"{handle}{rng.choice(['', str(rng.randint(1, 999))])}@{rng.choice(MAIL_DOMAINS)}",
    }
    if rng.random() < 0.1:  # spam, in the language of the page
        spam = [s for s in RTL_SPAM if (s[0] in "کف") == persian] or RTL_SPAM
        body["content"] = rng.choice(spam).format(link=rng.choice(RTL_SPAM_SITES))
        if rng.random() < 0.5:
            body["url"] = rng.choice(RTL_SPAM_SITES)
        return body
    content = " ".join(rng.sample(sentences, rng.randint(1, 3)))
    if rng.random() < 0.2:
        content += f"\n\n{rng.choice(sentences)}"
    if rng.random() < 0.15:
        content += f" {rng.choice(RTL_LINKS)}"
    body["content"] = content
    if rng.random() < 0.2:
        body["url"] = rng.choice(RTL_SITES).format(h=handle.replace(".", "-"))
    return body


def make_load_bodies(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` unique submissions: bench_submission's mix for about 70 %, Persian and Arabic
    for the rest. Each content ends with its number, so no two are alike (no duplicate 409
    and, in the check, each stored comment is found by its content alone)."""
    bodies = sub.make_bodies(count, seed)
    rng = random.Random(seed + 1)
    for number, body in enumerate(bodies, 1):
        draw = rng.random()
        if draw < 0.15:
            body.clear()
            body.update(_rtl_body(rng, persian=True))
        elif draw < 0.30:
            body.clear()
            body.update(_rtl_body(rng, persian=False))
        body["content"] = f"{body['content']} (#{number})"
    return bodies


def encode_requests(bodies: list[dict[str, Any]], port: int, run_id: str) -> list[bytes]:
    requests = []
    for number, body in enumerate(bodies):
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "bench-load/1",
            # One key per comment, the same on each retry: a resend never stores it twice.
            "Idempotency-Key": f"load-{run_id}-{number}",
        }
        requests.append(loadgen.build_request(port, PATH, payload, headers))
    return requests


# --------------------------------------------------------------------------------------
# Source tree, Redis and the service
# --------------------------------------------------------------------------------------


@dataclass
class Source:
    path: Path
    kind: str
    commit: str
    dirty: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kind": self.kind,
            "commit": self.commit,
            "uncommitted_changes_in_service_code": self.dirty,
        }


def _git(*argv: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), *argv], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def prepare_source(args: argparse.Namespace, tmp: Path) -> Source:
    """Where the service (and moderation.redis_server here) is imported from."""
    commit = _git("rev-parse", "HEAD")
    if args.from_head:
        target = tmp / "src"
        target.mkdir()
        archive = subprocess.Popen(
            ["git", "-C", str(ROOT), "archive", "HEAD"], stdout=subprocess.PIPE
        )
        untar = subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, check=False)
        assert archive.stdout is not None
        archive.stdout.close()
        if archive.wait() != 0 or untar.returncode != 0:
            raise BenchError("git archive HEAD | tar -x failed")
        return Source(target, "git archive HEAD", commit, [])
    path = (args.source or ROOT).resolve()
    dirty = []
    if path == ROOT:
        dirty = _git("status", "--porcelain", "--", "moderation", "classifier").splitlines()
    return Source(path, "working tree" if path == ROOT else "given directory", commit, dirty)


def import_from(source: Source, name: str) -> ModuleType:
    """`name` imported from the source tree (first on sys.path, ahead of the venv's
    editable install, whose finder comes after the path entries)."""
    if str(source.path) not in sys.path[:1]:
        sys.path.insert(0, str(source.path))
    module = importlib.import_module(name)
    if not Path(module.__file__ or "").resolve().is_relative_to(source.path):
        raise BenchError(f"{name} was imported from {module.__file__}, not from {source.path}")
    return module


def service_env_for(source: Source, tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    env = sub.service_env(tmp, "full", extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(source.path), env.get("PYTHONPATH")) if p)
    return env


def check_service_imports(source: Source, env: dict[str, str], cwd: Path) -> None:
    """The service must run the code we say it runs: ask a Python with its environment."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import moderation, classifier; print(moderation.__file__); print(classifier.__file__)",
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    paths = probe.stdout.split()
    if (
        probe.returncode != 0
        or not paths
        or not all(Path(p).resolve().is_relative_to(source.path) for p in paths)
    ):
        raise BenchError(
            f"the service would not import from {source.path}: {probe.stdout}{probe.stderr}"
        )


@contextlib.contextmanager
def pinned_port(redis_server: ModuleType, port: int) -> Iterator[None]:
    """EmbeddedRedis picks `free_port()`; for the restart it must be the old port."""
    original = redis_server.free_port
    redis_server.free_port = lambda: port
    try:
        yield
    finally:
        redis_server.free_port = original


def start_redis(redis_server: ModuleType, folder: Path, port: int | None = None) -> Any:
    """An EmbeddedRedis, started (and owned) by this process's main thread, so the server
    dies with this script however it ends (PR_SET_PDEATHSIG)."""
    started = time.monotonic()
    embedded = redis_server.EmbeddedRedis(folder, shared=True)
    if port is None:
        embedded.start(timeout=120)
    else:
        with pinned_port(redis_server, port):
            embedded.start(timeout=120)
    if embedded.port == SYSTEM_REDIS_PORT or embedded.process is None:
        embedded.stop()
        raise BenchError(f"refusing to use a Redis on port {embedded.port}")
    import redis

    with redis.Redis(host=HOST, port=embedded.port, socket_timeout=5) as client:
        pid = int(client.info("server")["process_id"])
    if pid != embedded.process.pid:
        embedded.stop()
        raise BenchError(f"port {embedded.port} is answered by another Redis (pid {pid})")
    log(
        f"redis: pid {pid} on {HOST}:{embedded.port} in {folder} "
        f"({time.monotonic() - started:.2f} s to answer PING)"
    )
    return embedded


def redis_persistence(argv: list[str]) -> dict[str, str]:
    """The persistence arguments of a redis-server command line, for the report."""
    wanted = ("--appendonly", "--appendfsync", "--appendfilename", "--save", "--dir")
    found = {}
    for i, arg in enumerate(argv[:-1]):
        if arg in wanted:
            found[arg.lstrip("-")] = argv[i + 1]
    return found


def process_cpu(pid: int | None) -> float | None:
    if psutil is None or pid is None:
        return None
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


def redis_cpu(pids: list[int]) -> float | None:
    """CPU seconds of these Redis processes together (None if any cannot be read)."""
    each = [process_cpu(pid) for pid in pids]
    if not each or any(c is None for c in each):
        return None
    return sum(c for c in each if c is not None)


def service_environment(
    tmp: Path, args: argparse.Namespace, source: Source, redis_url: str
) -> tuple[dict[str, str], Path]:
    """The environment `moderation serve` gets (and `moderation site create` before it),
    and the data directory to run it in."""
    data_dir = tmp / "data"
    data_dir.mkdir()
    extra = {
        "REDIS_URL": redis_url,
        "MODERATION_DATA_DIR": str(data_dir),
        "MODERATION_KEY_PREFIX": KEY_PREFIX,
        "MODERATION_SECRET_KEY": secrets.token_urlsafe(32),
        **LIMITS_OFF,
    }
    if args.model_path:
        extra["MODERATION_MODEL_PATH"] = str(args.model_path.resolve())
    env = service_env_for(source, tmp, extra)
    check_service_imports(source, env, data_dir)
    return env, data_dir


def start_service(
    procs: sub.Processes,
    args: argparse.Namespace,
    env: dict[str, str],
    data_dir: Path,
    tmp: Path,
) -> sub.Service:
    port = sub.free_port()
    argv = [
        sys.executable,
        "-m",
        "moderation",
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
    log_path = tmp / "full.log"
    proc = procs.popen("full", argv, log_path, env=env, cwd=str(data_dir))
    return sub.Service("full", proc, log_path, port)


def wait_until(service: sub.Service, path: str, status: int, timeout: float) -> float:
    def probe() -> bool:
        return sub.http_request(service.port, "GET", path)[0] == status

    return sub.wait_ready(service, probe, timeout)


# --------------------------------------------------------------------------------------
# Killing Redis in the middle
# --------------------------------------------------------------------------------------


@dataclass
class RedisKiller:
    """Called by the generator's progress poll (in the main thread, which owns Redis):
    SIGKILL the server once `at` requests are done, then start it again on the same port."""

    redis_server: ModuleType
    embedded: Any
    folder: Path
    at: int
    down_s: float
    killed_at_done: int | None = None
    t_kill: float | None = None
    t_restart: float | None = None
    t_ready: float | None = None
    old_pid: int | None = None
    new_pid: int | None = None
    old_cpu_s: float | None = None
    same_argv: bool | None = None
    aof_bytes_at_kill: int | None = None
    error: str | None = None
    events: list[str] = field(default_factory=list)

    def __call__(self, done: int) -> None:
        if self.t_kill is not None or done < self.at:
            return
        old = self.embedded
        self.old_pid = old.process.pid
        self.old_cpu_s = process_cpu(self.old_pid)
        old_argv = list(old.process.args)
        port = old.port
        self.killed_at_done = done
        self.t_kill = time.monotonic()
        os.kill(self.old_pid, signal.SIGKILL)
        old.process.wait()
        aof = self.folder / self.redis_server.AOF_FILE
        self.aof_bytes_at_kill = aof.stat().st_size if aof.exists() else None
        # Drops the dead server's state file and the data dir's lock, as a crashed owner's
        # would be: the restart below is the next owner of the same data dir.
        old.stop()
        log(f"redis: SIGKILL pid {self.old_pid} after {done} requests done")
        time.sleep(self.down_s)
        self.t_restart = time.monotonic()
        try:
            self.embedded = start_redis(self.redis_server, self.folder, port=port)
        except Exception as exc:  # reported, and the load goes on against no Redis
            self.error = f"restart failed: {exc!r}"
            log(f"redis: {self.error}")
            return
        self.t_ready = time.monotonic()
        self.new_pid = self.embedded.process.pid
        self.same_argv = list(self.embedded.process.args) == old_argv
        log(
            f"redis: restarted as pid {self.new_pid} on the same port, answering "
            f"{self.t_ready - self.t_restart:.2f} s after its start"
        )


# --------------------------------------------------------------------------------------
# Redis Cluster (--cluster) and sites (--sites)
# --------------------------------------------------------------------------------------

# The clusters start_cluster launched, by URL: the run needs more than the URL the hook
# returns (which master holds which hash tag, the nodes' pids for the CPU figures).
CLUSTERS: dict[str, Any] = {}


def import_cluster_launcher(source: Source) -> ModuleType:
    """tests/cluster.py, the suite's launcher of a Redis Cluster: the source tree's when it
    has one (the same version as the service's code), else this checkout's (a --from-head
    copy may predate it). Its root goes on sys.path after the source tree, which stays
    first, so the launcher's `moderation` is the source tree's."""
    root = next((r for r in (source.path, ROOT) if (r / "tests" / "cluster.py").is_file()), None)
    if root is None:
        raise ClusterUnavailable(f"--cluster: no tests/cluster.py in {source.path} or {ROOT}")
    import_from(source, "moderation.redis_server")  # the source tree first on sys.path
    if str(root) not in sys.path:
        sys.path.append(str(root))
    module = importlib.import_module("tests.cluster")
    if not Path(module.__file__ or "").resolve().is_relative_to(root):
        raise BenchError(f"tests.cluster was imported from {module.__file__}, not from {root}")
    return module


def start_cluster(procs: sub.Processes, tmp: Path, source: Source) -> str | None:
    """A 3-master Redis Cluster (tests/cluster.py) in `tmp`, on free ports (never 6379 or
    its bus port 16379), stopped with everything else this run started; its REDIS_URL
    (`redis+cluster://host:port,host:port,host:port`).

    The launcher starts its nodes without persistence (right for the tests); here each
    node gets the single Redis' (`appendonly yes`, `appendfsync everysec`, by CONFIG SET),
    so that both runs pay for the same writes."""
    launcher = import_cluster_launcher(source)
    started = time.monotonic()
    cluster = launcher.start_cluster(tmp / "cluster", masters=CLUSTER_MASTERS)
    # Processes has no public hook for a stopper that is not a Popen of its own; close()
    # calls these in reverse order, so the cluster stops after the service on it.
    procs._stoppers.append(("cluster", cluster.stop))
    forbidden = {SYSTEM_REDIS_PORT, SYSTEM_REDIS_PORT + launcher.BUS_OFFSET}
    for node in cluster.nodes:
        if node.port in forbidden or node.port + launcher.BUS_OFFSET in forbidden:
            raise BenchError(f"refusing a cluster node on port {node.port}")
        with node.client() as client:
            pid = int(client.info("server")["process_id"])
            if pid != node.process.pid:
                raise BenchError(f"port {node.port} is answered by another Redis (pid {pid})")
            client.config_set("appendonly", "yes")
            client.config_set("appendfsync", "everysec")
            deadline = time.monotonic() + 60
            while True:  # appendonly yes first rewrites the (empty) file, in the background
                info = client.info("persistence")
                if info["aof_enabled"] and not info["aof_rewrite_in_progress"]:
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"cluster node {node.port}: AOF not on after 60 s")
                time.sleep(0.05)
    CLUSTERS[cluster.url] = cluster
    log(
        f"cluster: {len(cluster.nodes)} masters "
        + ", ".join(
            f"{HOST}:{n.port} (pid {n.process.pid}, slots {n.slots.start}-{n.slots.stop - 1})"
            for n in cluster.nodes
        )
        + f" from {launcher.__file__}, AOF everysec, ready in {time.monotonic() - started:.2f} s"
    )
    return cluster.url


def cluster_support(source: Source) -> str | None:
    """Why --cluster cannot run now, or None when it can."""
    redis_server = import_from(source, "moderation.redis_server")
    if not hasattr(redis_server, "is_cluster_url"):
        return (
            f"the service in {source.path} has no Redis Cluster support yet "
            "(moderation.redis_server.is_cluster_url is missing)"
        )
    return None


def sites_support(source: Source) -> str | None:
    """Why --sites N > 1 cannot run with this source tree, or None when it can."""
    try:
        import_from(source, "moderation.sites")
    except ImportError:
        return f"the service in {source.path} has no sites (moderation/sites.py is missing)"
    keys = import_from(source, "moderation.store.keys")
    if "site" not in keys.Keys.__init__.__code__.co_varnames:
        return f"the service in {source.path} keys no sites (Keys(prefix, site))"
    return None


def site_tag(site: str) -> str:
    """The hash tag of a site's keys, as moderation/store/keys.py builds it."""
    return KEY_PREFIX if site == DEFAULT_SITE else f"{KEY_PREFIX}:{site}"


def choose_sites(count: int, cluster: Any | None) -> list[str]:
    """The sites the bodies go to: the default site alone for 1, else `count` new ones;
    on a cluster, ids whose hash tags spread evenly over the masters (each master gets
    as many as any other, give or take one), in round-robin order of the masters."""
    if count == 1:
        return [DEFAULT_SITE]
    if cluster is None:
        return [f"{SITE_STEM}-{n}" for n in range(count)]
    per_master: dict[int, list[str]] = {node.port: [] for node in cluster.nodes}
    for n in range(100_000):
        site = f"{SITE_STEM}-{n}"
        port = cluster.master_of(site_tag(site))
        if len(per_master[port]) == min(len(v) for v in per_master.values()):
            per_master[port].append(site)
            if sum(len(v) for v in per_master.values()) == count:
                break
    else:
        raise BenchError(f"no {count} site ids spread over the masters")
    ordered = []
    for rank in range(max(len(v) for v in per_master.values())):
        ordered += [v[rank] for v in per_master.values() if rank < len(v)]
    return ordered


def assign_sites(bodies: list[dict[str, Any]], sites: list[str]) -> None:
    """Round robin: body n goes to sites[n % len(sites)]; the default site alone is left
    unnamed (no "site" field), exactly the bodies of a single-site run."""
    if sites == [DEFAULT_SITE]:
        return
    for number, body in enumerate(bodies):
        body["site"] = sites[number % len(sites)]


def site_of(body: dict[str, Any]) -> str:
    return body.get("site") or DEFAULT_SITE


def create_sites(sites: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """`python -m moderation site create <id>` for each new site, with the service's
    environment (REDIS_URL, MODERATION_KEY_PREFIX), before the service starts (its workers
    cache the site registry for a few seconds)."""
    created: dict[str, Any] = {}
    for site in sites:
        if site == DEFAULT_SITE:
            continue
        argv = [sys.executable, "-m", "moderation", "site", "create", site]
        argv += ["--name", f"Load test {site}"]
        result = subprocess.run(
            argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
        )
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            answer = None
        if result.returncode != 0 or not isinstance(answer, dict) or answer.get("id") != site:
            raise BenchError(
                f"`moderation site create {site}` failed ({result.returncode}): "
                f"{result.stdout[-500:]}{result.stderr[-1000:]}"
            )
        created[site] = answer
        log(f"site: created {site!r} (hash tag {{{site_tag(site)}}})")
    return created


# --------------------------------------------------------------------------------------
# Checking what the service stored
# --------------------------------------------------------------------------------------

FIELDS = ("id", "thread", "author", "content", "url", "status")
STATUSES = ("published", "pending", "spam", "rejected")


def site_keys(keys_module: ModuleType, site: str) -> Any:
    """`Keys(prefix, site)` of the source tree (`Keys(prefix)` for the default site, which
    is all an older tree's Keys takes)."""
    if site == DEFAULT_SITE:
        return keys_module.Keys(KEY_PREFIX)
    return keys_module.Keys(KEY_PREFIX, site)


def is_cluster_client(client: Any) -> bool:
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def node_label(host: Any, port: Any) -> str:
    return f"{host}:{port}"


def data_nodes(client: Any) -> list[tuple[str, Any]]:
    """(label, SCAN target) of each node holding data: every primary of a RedisCluster
    (SCAN through RedisCluster covers them all as well, but does not say which holds
    which key), or the one Redis."""
    if is_cluster_client(client):
        return [(node_label(n.host, n.port), n) for n in client.get_primaries()]
    kwargs = client.connection_pool.connection_kwargs
    return [(node_label(kwargs.get("host", "?"), kwargs.get("port", "?")), None)]


def comment_keys_by_node(client: Any) -> dict[str, list[str]]:
    """Every key with `:comment:` in it (comment hashes of every site; SCAN's MATCH is a
    glob: `:comment:` excludes the `:commenter:` keys), per node that holds it."""
    found: dict[str, list[str]] = {}
    for label, node in data_nodes(client):
        target = {} if node is None else {"target_nodes": node}
        found[label] = [str(k) for k in client.scan_iter(match="*:comment:*", count=2000, **target)]
    return found


def verify_store(
    client: Any,
    text: ModuleType,
    keys_module: ModuleType,
    bodies: list[dict[str, Any]],
    outcome: loadgen.LoadOutcome,
    sites: list[str],
    expected_masters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Every 201's comment in Redis under its own site's keys with its content, and
    nothing else there. `expected_masters` (on a cluster): site -> the master that should
    hold its hash tag's slot."""
    problems: Counter[str] = Counter()
    examples: dict[str, str] = {}

    def problem(kind: str, detail: str) -> None:
        problems[kind] += 1
        examples.setdefault(kind, detail[:400])

    multi_site = sites != [DEFAULT_SITE]

    def name(site: str, comment_id: int) -> str:
        return f"{site}/{comment_id}" if multi_site else str(comment_id)

    keys_of = {site: site_keys(keys_module, site) for site in dict.fromkeys([DEFAULT_SITE, *sites])}
    site_of_base = {keys.base: site for site, keys in keys_of.items()}
    stored_ids: dict[str, set[int]] = {site: set() for site in keys_of}
    per_master: dict[str, Counter[str]] = {}  # node -> site -> comment hashes
    for label, found in comment_keys_by_node(client).items():
        per_master[label] = Counter()
        for key in found:
            base, _, tail = key.rpartition(":comment:")
            site = site_of_base.get(base)
            if site is None or not tail.isdigit():
                problem("comment_key_of_no_site_checked", f"{key} on {label}")
                continue
            stored_ids[site].add(int(tail))
            per_master[label][site] += 1
    answers: dict[int, dict[str, Any]] = {}
    unreadable = 0
    for index, raw in outcome.bodies.items():
        if outcome.final_status[index] != 201:
            continue
        try:
            answers[index] = json.loads(raw)
        except ValueError:
            unreadable += 1
    # Ids are per site: a 201 is (its request's site, the id it answered).
    ids_of: dict[tuple[str, int], list[int]] = {}
    for index, answer in answers.items():
        ids_of.setdefault((site_of(bodies[index]), int(answer["id"])), []).append(index)
    stored_keys = {(site, cid) for site, ids in stored_ids.items() for cid in ids}
    wanted = sorted(set(ids_of) | stored_keys)
    stored: dict[tuple[str, int], dict[str, str | None]] = {}
    for start in range(0, len(wanted), 1000):
        batch = wanted[start : start + 1000]
        pipe = client.pipeline(transaction=False)
        for site, comment_id in batch:
            pipe.hmget(keys_of[site].comment(comment_id), *FIELDS)
        for wanted_key, values in zip(batch, pipe.execute(), strict=True):
            if any(v is not None for v in values):
                stored[wanted_key] = dict(zip(FIELDS, values, strict=True))
    by_content = {body["content"]: index for index, body in enumerate(bodies)}

    ok: Counter[str] = Counter()
    lost: list[tuple[str, int]] = []
    for (site, comment_id), indices in ids_of.items():
        if len(indices) > 1:
            problem("id_answered_for_several_comments", f"id {name(site, comment_id)}: {indices}")
        for index in indices:
            body, answer = bodies[index], answers[index]
            record = stored.get((site, comment_id))
            if record is None:
                lost.append((site, comment_id))
                problem("acknowledged_but_missing", f"id {name(site, comment_id)}, request {index}")
                continue
            if by_content.get(record["content"] or "") != index:
                lost.append((site, comment_id))
                problem(
                    "acknowledged_but_id_holds_another_comment",
                    f"id {name(site, comment_id)} answered for request {index}, holds "
                    f"request {by_content.get(record['content'] or '')}",
                )
                continue
            mismatched = [
                field_name
                for field_name in ("thread", "author", "content", "url")
                if (record[field_name] or None) != (body.get(field_name) or None)
            ]
            if record["id"] != str(comment_id):
                mismatched.append("id")
            expected = "published" if record["status"] == "published" else "pending"
            if answer.get("status") != expected or record["status"] not in (
                "published",
                "pending",
                "spam",
            ):
                mismatched.append("status")
            if answer.get("content") != text.render_content(record["content"] or ""):
                mismatched.append("rendered content")
            for field_name in ("thread", "author"):
                if answer.get(field_name) != body.get(field_name):
                    mismatched.append(f"answer {field_name}")
            if mismatched:
                problem(
                    "stored_fields_differ", f"id {name(site, comment_id)}: {', '.join(mismatched)}"
                )
            else:
                ok[site] += 1
    orphans = sorted(stored_keys - set(ids_of))
    orphan_kinds: Counter[str] = Counter()
    for site, comment_id in orphans:
        record = stored.get((site, comment_id)) or {}
        index = by_content.get(record.get("content") or "")
        if index is None:
            kind = "stored_unknown_content"
        elif site_of(bodies[index]) != site:
            kind = "stored_under_another_site"
        elif outcome.final_status[index] == 201:
            kind = "stored_twice"  # its 201 named another id: idempotency did not hold
        else:
            kind = "stored_without_201"  # allowed after a 503 ("may have been stored")
        orphan_kinds[kind] += 1
        examples.setdefault(kind, f"id {name(site, comment_id)}, request {index}")

    per_site: dict[str, dict[str, Any]] = {}
    requests_of = Counter(site_of(body) for body in bodies)
    acknowledged_of = Counter(site for (site, _), indices in ids_of.items() for _ in indices)
    lost_of = Counter(site for site, _ in lost)
    for site, keys in keys_of.items():
        if not requests_of[site] and not stored_ids[site] and site not in sites:
            continue  # the default site of a multi-site run: nothing sent, nothing stored
        indexes = {s: int(client.zcard(keys.status(s))) for s in STATUSES}
        if sum(indexes.values()) != len(stored_ids[site]):
            problem(
                "status_indexes_disagree_with_hashes",
                f"site {site}: {sum(indexes.values())} ids in the status indexes, "
                f"{len(stored_ids[site])} comment hashes",
            )
        masters = {label: n[site] for label, n in per_master.items() if n[site]}
        if len(masters) > 1:
            problem("site_split_over_masters", f"site {site}: {masters}")
        entry: dict[str, Any] = {
            "hash_tag": keys.base,
            "requests": requests_of[site],
            "acknowledged_201": acknowledged_of[site],
            "comment_hashes": len(stored_ids[site]),
            "verified_same_content": ok[site],
            "acknowledged_but_lost": lost_of[site],
            "status_indexes": indexes,
            "ids_issued": int(client.get(keys.sequence) or 0),
            "comment_hashes_on": masters,
        }
        if expected_masters is not None:
            entry["expected_master"] = expected_masters.get(site)
            node = client.get_node_from_key(keys.comment(1))  # the service's client's route
            entry["client_routes_to"] = node_label(node.host, node.port)
            if entry["client_routes_to"] != entry["expected_master"]:
                problem("client_routes_site_elsewhere", f"site {site}: {entry}")
            if masters and set(masters) != {entry["expected_master"]}:
                problem("site_not_on_its_master", f"site {site}: {masters}")
        per_site[site] = entry

    acknowledged = sum(len(v) for v in ids_of.values())
    hashes = len(stored_keys)
    status_sets = {s: sum(e["status_indexes"][s] for e in per_site.values()) for s in STATUSES}
    return {
        "acknowledged_201": acknowledged,
        "comment_hashes": hashes,
        "verified_same_content": sum(ok.values()),
        "acknowledged_but_lost": len(lost),
        "lost_ids_sample": [name(site, cid) if multi_site else cid for site, cid in sorted(lost)][
            :20
        ],
        "unreadable_201_bodies": unreadable,
        "problems": dict(problems),
        "orphans": dict(orphan_kinds),
        "examples": examples,
        "status_indexes": status_sets,
        "ids_issued": sum(e["ids_issued"] for e in per_site.values()),
        "per_site": per_site,
        "per_master": {
            label: {"comment_hashes": sum(n.values()), "sites": dict(n)}
            for label, n in sorted(per_master.items())
        },
        "counts_match": hashes == acknowledged and not orphans and not lost and not problems,
    }


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


def summarise(outcome: loadgen.LoadOutcome) -> dict[str, Any]:
    latencies = sorted(outcome.answer_latency_ms)
    ok_latencies = sorted(
        lat
        for lat, status in zip(outcome.answer_latency_ms, outcome.answer_status, strict=True)
        if 200 <= status < 300
    )
    answers = len(latencies)
    finals = Counter(outcome.final_status)
    retried = [a - 1 for a in outcome.attempts if a > 1]
    duration = outcome.duration_s
    ok = sum(v for k, v in finals.items() if 200 <= k < 300)
    return {
        "requests": outcome.requests,
        "http_answers": answers,
        "duration_s": round(duration, 3),
        "answers_per_s": round(answers / duration, 1) if duration else 0.0,
        "comments_2xx_per_s": round(ok / duration, 1) if duration else 0.0,
        "latency_ms": {
            "p50": round(loadgen.percentile(latencies, 50), 2),
            "p90": round(loadgen.percentile(latencies, 90), 2),
            "p99": round(loadgen.percentile(latencies, 99), 2),
            "max": round(latencies[-1], 2) if latencies else None,
        },
        "latency_2xx_ms": {
            "p50": round(loadgen.percentile(ok_latencies, 50), 2),
            "p99": round(loadgen.percentile(ok_latencies, 99), 2),
        },
        "final_status": {str(k): v for k, v in sorted(finals.items())},
        "answer_status": {str(k): v for k, v in sorted(Counter(outcome.answer_status).items())},
        "retries": {
            "retried_attempts": sum(retried),
            "requests_retried": len(retried),
            "max_attempts_of_one_request": max(outcome.attempts, default=0),
            "idempotent_replays": sum(outcome.replayed),
        },
        "socket_errors": outcome.socket_errors,
        "stale_keepalive_resends": outcome.stale_resends,
        "error_samples": {
            str(k): v.decode(errors="replace")[:300] for k, v in outcome.error_samples.items()
        },
        "generator": {
            "processes": outcome.processes,
            "connections": outcome.connections,
            "cpu_s": round(outcome.cpu_s, 2),
            "cpu_ms_per_answer": round(outcome.cpu_s * 1000 / answers, 3) if answers else None,
        },
    }


def kill_figures(killer: RedisKiller, outcome: loadgen.LoadOutcome) -> dict[str, Any]:
    """What the clients saw around the crash, from the answers' arrival times."""
    if killer.t_kill is None:
        return {"killed": False, "note": "the run ended before --kill-at was reached"}
    t_kill = killer.t_kill
    t_restart = killer.t_restart or t_kill
    times = outcome.answer_time
    statuses = outcome.answer_status
    first_ok_after = min(
        (t for t, s in zip(times, statuses, strict=True) if s == 201 and t > t_restart),
        default=None,
    )
    during = Counter(
        s
        for t, s in zip(times, statuses, strict=True)
        if t_kill <= t and (first_ok_after is None or t < first_ok_after)
    )
    not_ok = [t for t, s in zip(times, statuses, strict=True) if s == 503]
    acked_last_second = sum(
        1 for t, s in zip(times, statuses, strict=True) if s == 201 and t_kill - 1.0 <= t < t_kill
    )
    acked_after_kill_before_restart = sum(
        1 for t, s in zip(times, statuses, strict=True) if s == 201 and t_kill <= t < t_restart
    )
    # Half-second buckets from 2 s before the kill to 3 s after the first 201: the outage
    # as the clients lived it, for the JSON.
    end = (first_ok_after or t_restart) + 3.0
    buckets: dict[str, Counter[int]] = {}
    for t, s in zip(times, statuses, strict=True):
        if t_kill - 2.0 <= t <= end:
            label = f"{(t - t_kill) // 0.5 * 0.5:+.1f}"
            buckets.setdefault(label, Counter())[s] += 1
    return {
        "killed": True,
        "killed_after_requests_done": killer.killed_at_done,
        "old_pid": killer.old_pid,
        "new_pid": killer.new_pid,
        "same_port_and_arguments": killer.same_argv,
        "aof_bytes_at_kill": killer.aof_bytes_at_kill,
        "down_s_before_restart": round(t_restart - t_kill, 3),
        "redis_restart_returned_s_after_start": round(killer.t_ready - t_restart, 3)
        if killer.t_ready
        else None,
        "first_201_s_after_restart": round(first_ok_after - t_restart, 3)
        if first_ok_after
        else None,
        # EmbeddedRedis polls PING every 50 ms, so the service may get a 201 before it
        # returns: this can be slightly negative.
        "first_201_s_after_restart_returned": round(first_ok_after - killer.t_ready, 3)
        if first_ok_after and killer.t_ready
        else None,
        "first_201_s_after_kill": round(first_ok_after - t_kill, 3) if first_ok_after else None,
        "answers_503": len(not_ok),
        "answers_503_window_s": round(not_ok[-1] - not_ok[0], 3) if not_ok else 0.0,
        "answers_between_kill_and_first_201": {str(k): v for k, v in sorted(during.items())},
        "acknowledged_in_last_second_before_kill": acked_last_second,
        "acknowledged_after_kill_before_restart": acked_after_kill_before_restart,
        "restart_error": killer.error,
        "timeline_half_seconds_from_kill": {
            k: {str(s): n for s, n in sorted(c.items())}
            for k, c in sorted(buckets.items(), key=lambda kv: float(kv[0]))
        },
    }


def service_log_summary(path: Path, limit: int = 6) -> dict[str, Any]:
    """Counts of the service's log lines by level, and its commonest warnings/errors."""
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    tracebacks = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            level = str(record.get("levelname", "?"))
            levels[level] += 1
            if level in ("WARNING", "ERROR", "CRITICAL"):
                messages[f"{level} {record.get('name')}: {str(record.get('message'))[:160]}"] += 1
            if record.get("exc_info"):
                tracebacks += 1
        else:
            levels["non-json"] += 1
            if "Traceback" in line:
                tracebacks += 1
            if line.strip():
                messages[f"(raw) {line.strip()[:160]}"] += 1
    return {
        "lines_by_level": dict(levels),
        "tracebacks": tracebacks,
        "top_warnings_and_errors": [f"{n} x {m}" for m, n in messages.most_common(limit)],
    }


# --------------------------------------------------------------------------------------
# The runs
# --------------------------------------------------------------------------------------


def loadgen_options(args: argparse.Namespace) -> loadgen.Options:
    return loadgen.Options(
        connections=args.connections,
        processes=args.processes or loadgen.cpu_count(),
        timeout_s=args.timeout,
        retry_cap_s=args.retry_cap,
        max_attempts=args.max_attempts,
        give_up_s=args.give_up,
    )


@dataclass
class Window:
    """CPU accounting around one load."""

    server_pid: int
    redis_pids: list[int] = field(default_factory=list)  # the Redis, or every cluster node
    machine_before: dict[str, int] | None = None
    server_before: float | None = None
    redis_before: float | None = None
    started: float = 0.0

    def open(self) -> None:
        self.server_before = sub.server_cpu_seconds(self.server_pid)
        self.redis_before = redis_cpu(self.redis_pids)
        self.machine_before = sub.cpu_jiffies()
        self.started = time.monotonic()

    def close(self, redis_now: float | None) -> dict[str, Any]:
        seconds = time.monotonic() - self.started
        server_after = sub.server_cpu_seconds(self.server_pid)
        server = (
            server_after - self.server_before
            if server_after is not None and self.server_before is not None
            else None
        )
        redis_cpu = (
            redis_now - self.redis_before
            if redis_now is not None and self.redis_before is not None
            else None
        )
        return {
            "window_s": round(seconds, 2),
            "server_cores": round(server / seconds, 2) if server is not None else None,
            "redis_cores": round(redis_cpu / seconds, 2) if redis_cpu is not None else None,
            "machine": sub.cpu_shares(self.machine_before, sub.cpu_jiffies()),
        }


def run_bare(
    args: argparse.Namespace, procs: sub.Processes, tmp: Path, bodies: list[dict[str, Any]]
) -> dict[str, Any]:
    service = sub.start_bare(procs, tmp, args)
    probe = json.dumps(bodies[0], ensure_ascii=False).encode()
    startup = sub.wait_ready(
        service,
        lambda: sub.http_request(service.port, "POST", PATH, probe)[0] == 201,
        args.startup_timeout,
    )
    log(f"bare: ready on {service.url} after {startup:.1f} s")
    requests = encode_requests(bodies, service.port, "bare")
    sub.wait_for_quiet(args.quiet_wait, args.quiet_threshold)
    window = Window(service.proc.pid)
    window.open()
    log(f"bare: sending {len(requests)} requests")
    outcome = loadgen.run_load(service.port, requests, loadgen_options(args))
    cpu = window.close(None)
    if service.proc.poll() is not None:
        raise BenchError(f"bare died during the run:\n{service.log_tail()}")
    procs.stop("bare")
    figures = summarise(outcome)
    figures["cpu"] = cpu
    figures["startup_s"] = round(startup, 2)
    log(f"bare: {figures['answers_per_s']} answers/s")
    return figures


def run_full(
    args: argparse.Namespace,
    procs: sub.Processes,
    tmp: Path,
    source: Source,
    bodies: list[dict[str, Any]],
    redis_url: str | None = None,
    sites: list[str] | None = None,
) -> dict[str, Any]:
    """The service under load on `redis_url`, or on a fresh Redis of our own when None
    (the only case --kill-redis supports). The cluster hook passes its URL here. `sites`:
    the sites the bodies name (created here, before the service starts)."""
    sites = sites or [DEFAULT_SITE]
    redis_server = import_from(source, "moderation.redis_server")
    text = import_from(source, "moderation.text")
    keys_module = import_from(source, "moderation.store.keys")
    embedded = None
    killer: RedisKiller | None = None
    figures: dict[str, Any] = {}
    redis_folder = tmp / "redis"
    cluster = CLUSTERS.get(redis_url) if redis_url else None
    expected_masters = None
    try:
        if redis_url is None:
            embedded = start_redis(redis_server, redis_folder)
            redis_url = embedded.url
            figures["redis"] = {
                "url": redis_url,
                "started_by": "moderation.redis_server.EmbeddedRedis (the service's own code)",
                "binary": embedded.process.args[0],
                "persistence": redis_persistence(list(embedded.process.args)),
                "argv": list(embedded.process.args),
            }
        elif cluster is not None:
            argv = list(cluster.nodes[0].process.args)
            figures["redis"] = {
                "url": redis_url,
                "started_by": "tests/cluster.py start_cluster (masters only, no replicas)",
                "binary": argv[0],
                "persistence": {
                    **redis_persistence(argv),
                    "appendonly": "yes (CONFIG SET)",
                    "appendfsync": "everysec (CONFIG SET)",
                    "dir": str(tmp / "cluster" / "node-<port>"),
                },
                "nodes": [
                    {
                        "address": node_label(HOST, n.port),
                        "pid": n.process.pid,
                        "slots": f"{n.slots.start}-{n.slots.stop - 1}",
                    }
                    for n in cluster.nodes
                ],
            }
            expected_masters = {
                site: node_label(HOST, cluster.master_of(site_tag(site)))
                for site in dict.fromkeys([DEFAULT_SITE, *sites])
            }
        else:
            figures["redis"] = {"url": redis_url, "started_by": "the caller"}
        env, data_dir = service_environment(tmp, args, source, redis_url)
        created = create_sites(sites, env, data_dir)
        figures["sites"] = {
            "ids": sites,
            "created_with": "python -m moderation site create <id>" if created else None,
            "hash_tags": {site: "{" + site_tag(site) + "}" for site in sites},
            "masters": expected_masters,
        }
        service = start_service(procs, args, env, data_dir, tmp)
        log("full: starting (trains the spam model first unless --model-path has one)")
        startup = wait_until(service, "/readyz", 200, args.startup_timeout)
        figures["startup_s"] = round(startup, 2)
        log(f"full: ready on {service.url} after {startup:.1f} s")
        client = redis_server.connect(redis_url, timeout=10)
        before = sum(len(found) for found in comment_keys_by_node(client).values())
        if before:
            raise BenchError(f"{before} comments in Redis before the load: not a fresh store")
        client.close()
        requests = encode_requests(bodies, service.port, secrets.token_hex(4))
        on_progress: Callable[[int], None] | None = None
        if args.kill_redis:
            assert embedded is not None
            killer = RedisKiller(
                redis_server=redis_server,
                embedded=embedded,
                folder=redis_folder,
                at=max(1, round(len(requests) * args.kill_at)),
                down_s=args.down_seconds,
            )
            on_progress = killer
        sub.wait_for_quiet(args.quiet_wait, args.quiet_threshold)
        redis_pids = [embedded.process.pid] if embedded else []
        if cluster is not None:
            redis_pids = [node.process.pid for node in cluster.nodes]
        window = Window(service.proc.pid, redis_pids)
        window.open()
        log(
            f"full: sending {len(requests)} requests"
            + (f" to {len(sites)} sites" if sites != [DEFAULT_SITE] else "")
            + (f" (Redis gets SIGKILL at {killer.at})" if killer else "")
        )
        outcome = loadgen.run_load(service.port, requests, loadgen_options(args), on_progress)
        if killer is not None:
            embedded = killer.embedded  # the restarted server, stopped in `finally`
            redis_now = None
            if killer.old_cpu_s is not None:
                redis_now = killer.old_cpu_s + (process_cpu(killer.new_pid) or 0.0)
        else:
            redis_now = redis_cpu(redis_pids)
        figures["cpu"] = window.close(redis_now)
        if service.proc.poll() is not None:
            raise BenchError(f"the service died during the run:\n{service.log_tail()}")
        figures.update(summarise(outcome))
        if killer is not None:
            figures["kill_redis"] = kill_figures(killer, outcome)
        log("full: checking every 201 in Redis")
        started = time.monotonic()
        client = redis_server.connect(redis_url, timeout=30)
        figures["verification"] = verify_store(
            client, text, keys_module, bodies, outcome, sites, expected_masters
        )
        client.close()
        figures["verification"]["seconds"] = round(time.monotonic() - started, 2)
        procs.stop("full")
        figures["service_log"] = service_log_summary(service.log_path)
        if args.keep_logs:
            figures["service_log"]["path"] = str(service.log_path)
        return figures
    finally:
        for server in (embedded, killer.embedded if killer else None):
            if server is not None:
                server.stop()  # a no-op for one already stopped


def run(args: argparse.Namespace, procs: sub.Processes, tmp: Path) -> dict[str, Any]:
    source = prepare_source(args, tmp)
    log(f"service code: {source.kind} {source.path} (HEAD {source.commit[:10]})")
    if source.dirty:
        log(f"note: {len(source.dirty)} uncommitted changes in moderation/ and classifier/")
    if args.cluster:
        why = cluster_support(source)
        url = None if why else start_cluster(procs, tmp, source)
        if url is None:
            raise ClusterUnavailable(
                "--cluster: no Redis Cluster run: "
                + (why or "start_cluster() in benchmarks/bench_load.py started none")
            )
    else:
        url = None
    if args.sites > 1:
        why = sites_support(source)
        if why:
            raise BenchError(f"--sites {args.sites}: {why}")
    sites = choose_sites(args.sites, CLUSTERS.get(url) if url else None)
    bodies = make_load_bodies(args.requests, args.seed)
    assign_sites(bodies, sites)
    report: dict[str, Any] = {
        "benchmark": "comment submission under load, every 201 checked in Redis",
        "scenario": "kill_redis" if args.kill_redis else ("cluster" if args.cluster else "normal"),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": [sys.executable, *sys.argv],
        "source": source.as_dict(),
        "config": {
            "requests": args.requests,
            "connections": args.connections,
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread" if args.threads > 1 else "sync",
            "generator_processes": args.processes or loadgen.cpu_count(),
            "retry_cap_s": args.retry_cap,
            "limits_off": LIMITS_OFF,
            "left_on": LEFT_ON,
            "kill_at": args.kill_at if args.kill_redis else None,
            "down_seconds": args.down_seconds if args.kill_redis else None,
            "redis": f"Redis Cluster, {CLUSTER_MASTERS} masters" if args.cluster else "one Redis",
            "sites": sites,
            "bodies": {
                "seed": args.seed,
                "distinct_threads": len({b["thread"] for b in bodies}),
                "distinct_emails": len({b["email"] for b in bodies}),
                "with_website": sum(1 for b in bodies if b.get("url")),
                "with_link_in_text": sum(1 for b in bodies if "http" in b["content"]),
                "persian_or_arabic": sum(
                    1 for b in bodies if any("\u0600" <= c <= "\u06ff" for c in b["author"])
                ),
                "unique_contents": len({b["content"] for b in bodies}),
            },
        },
        "machine": {
            "cpus": loadgen.cpu_count(),
            "loadavg_before": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "targets": {},
    }
    if report["config"]["bodies"]["unique_contents"] != len(bodies):
        raise BenchError("the generated bodies are not unique")
    want_bare = args.bare if args.bare is not None else not (args.kill_redis or args.cluster)
    if want_bare:
        report["targets"]["bare"] = run_bare(args, procs, tmp, bodies)
    report["targets"]["full"] = run_full(
        args, procs, tmp, source, bodies, redis_url=url, sites=sites
    )
    bare = report["targets"].get("bare")
    if bare and bare["answers_per_s"]:
        report["ratio_full_over_bare"] = round(
            report["targets"]["full"]["answers_per_s"] / bare["answers_per_s"], 4
        )
    return report


# --------------------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------------------


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "-"


def print_report(report: dict[str, Any]) -> None:
    cfg = report["config"]
    targets = report["targets"]
    names = [n for n in ("bare", "full") if n in targets]
    print()
    print(
        f"## Comment submission under load ({report['scenario']}): {cfg['requests']} requests, "
        f"{cfg['connections']} connections, {cfg['workers']} {cfg['worker_class']} worker(s), "
        f"generator: {cfg['generator_processes']} processes x asyncio"
    )
    print()
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))

    def row(label: str, get: Callable[[dict[str, Any]], Any]) -> None:
        print(f"| {label} | " + " | ".join(str(get(targets[n])) for n in names) + " |")

    row("HTTP answers", lambda t: t["http_answers"])
    row("duration s", lambda t: t["duration_s"])
    row("throughput, answers/s", lambda t: t["answers_per_s"])
    row("2xx comments/s", lambda t: t["comments_2xx_per_s"])
    row("latency p50 ms", lambda t: t["latency_ms"]["p50"])
    row("latency p99 ms", lambda t: t["latency_ms"]["p99"])
    row("latency max ms", lambda t: t["latency_ms"]["max"])
    row(
        "2xx latency p50 / p99 ms",
        lambda t: f"{t['latency_2xx_ms']['p50']} / {t['latency_2xx_ms']['p99']}",
    )
    row("final status per request", lambda t: _fmt_counts(t["final_status"]))
    row("status of every answer", lambda t: _fmt_counts(t["answer_status"]))
    row(
        "retries (attempts / requests)",
        lambda t: f"{t['retries']['retried_attempts']} / {t['retries']['requests_retried']}",
    )
    row("idempotent replays", lambda t: t["retries"]["idempotent_replays"])
    row("socket errors", lambda t: _fmt_counts({k: v for k, v in t["socket_errors"].items() if v}))
    row("server CPU cores", lambda t: t["cpu"]["server_cores"])
    row("redis CPU cores", lambda t: t["cpu"]["redis_cores"] or "-")
    row("generator CPU ms/answer", lambda t: t["generator"]["cpu_ms_per_answer"])
    row("generator CPU cores", lambda t: round(t["generator"]["cpu_s"] / t["duration_s"], 2))
    row(
        "machine busy / steal",
        lambda t: (
            f"{t['cpu']['machine'].get('busy', 0):.0%} / {t['cpu']['machine'].get('steal', 0):.0%}"
        ),
    )
    ratio = report.get("ratio_full_over_bare")
    if ratio:
        print()
        print(
            f"full/bare throughput: **{ratio:.3f}** (the bare endpoint answered "
            f"{1 / ratio:.1f}x faster with the same generator"
            + (
                ", so the generator is not the service's bottleneck)"
                if ratio < 0.67
                else "; the generator may be limiting both: read with care)"
            )
        )
    full = targets["full"]
    v = full["verification"]
    print()
    print("| check in Redis | value |")
    print("|---|---|")
    print(f"| 201 answers | {v['acknowledged_201']} |")
    print(f"| comment hashes in Redis | {v['comment_hashes']} |")
    print(f"| 201s found with the same content | {v['verified_same_content']} |")
    print(f"| acknowledged (201) but lost | **{v['acknowledged_but_lost']}** |")
    print(
        f"| stored without a 201 / stored twice | {v['orphans'].get('stored_without_201', 0)}"
        f" / {v['orphans'].get('stored_twice', 0)} |"
    )
    print(f"| other problems | {_fmt_counts(v['problems'])} |")
    print(f"| count of comment keys == number of 201s | {v['counts_match']} |")
    print(f"| status indexes | {_fmt_counts(v['status_indexes'])} (ids issued {v['ids_issued']}) |")
    per_site = v.get("per_site") or {}
    per_master = v.get("per_master") or {}
    if len(per_site) > 1 or len(per_master) > 1:
        print()
        print("| site | hash tag | requests | 201s | comment hashes | same content | lost | on |")
        print("|---|---|---|---|---|---|---|---|")
        for site, e in per_site.items():
            on = _fmt_counts(e["comment_hashes_on"])
            if e.get("expected_master") and set(e["comment_hashes_on"]) != {e["expected_master"]}:
                on += f" (expected {e['expected_master']})"
            print(
                f"| {site} | `{e['hash_tag']}` | {e['requests']} | {e['acknowledged_201']} "
                f"| {e['comment_hashes']} | {e['verified_same_content']} "
                f"| {e['acknowledged_but_lost']} | {on} |"
            )
        total = sum(m["comment_hashes"] for m in per_master.values()) or 1
        print()
        print("| Redis node | comment hashes | share | sites |")
        print("|---|---|---|---|")
        for label, m in per_master.items():
            print(
                f"| {label} | {m['comment_hashes']} | {m['comment_hashes'] / total:.1%} "
                f"| {', '.join(m['sites']) or '-'} |"
            )
    kill = full.get("kill_redis")
    if kill:
        print()
        print("| Redis SIGKILL mid-run | value |")
        print("|---|---|")
        if not kill.get("killed"):
            print(f"| killed | no: {kill.get('note')} |")
        else:
            rows = [
                ("killed after requests done", kill["killed_after_requests_done"]),
                ("restarted on the same port, same arguments", kill["same_port_and_arguments"]),
                ("down before restart s", kill["down_s_before_restart"]),
                (
                    "Redis restart (until PING answered) s",
                    kill["redis_restart_returned_s_after_start"],
                ),
                ("first 201 after restart s", kill["first_201_s_after_restart"]),
                ("first 201 after the kill s", kill["first_201_s_after_kill"]),
                (
                    "201s answered after the kill, before the restart",
                    kill["acknowledged_after_kill_before_restart"],
                ),
                ("acknowledged but lost", f"**{v['acknowledged_but_lost']}**"),
                (
                    "201s in the last second before the kill",
                    kill["acknowledged_in_last_second_before_kill"],
                ),
                ("answers 503", kill["answers_503"]),
                ("503s spread over s", kill["answers_503_window_s"]),
                (
                    "answers from kill to first 201",
                    _fmt_counts(kill["answers_between_kill_and_first_201"]),
                ),
                (
                    "retried attempts / requests retried",
                    f"{full['retries']['retried_attempts']} / "
                    f"{full['retries']['requests_retried']}",
                ),
                ("idempotent replays after retry", full["retries"]["idempotent_replays"]),
                ("restart error", kill["restart_error"] or "-"),
            ]
            for label, value in rows:
                print(f"| {label} | {value} |")
    print()
    redis_info = full.get("redis", {})
    if redis_info.get("persistence"):
        nodes = redis_info.get("nodes")
        where = f"cluster of {len(nodes)} masters, " if nodes else ""
        print(f"Redis: {where}{redis_info['binary']}, {_fmt_counts(redis_info['persistence'])}")
    print(
        "Limits off: "
        + ", ".join(f"{k}={v!r}" for k, v in cfg["limits_off"].items())
        + "; left on: "
        + "; ".join(f"{k} ({v})" for k, v in cfg["left_on"].items())
    )
    b = cfg["bodies"]
    print(
        f"Bodies: {cfg['requests']} unique, {b['distinct_threads']} threads, "
        f"{b['distinct_emails']} emails, {b['persian_or_arabic']} by Persian/Arabic names, "
        f"{b['with_website']} with a website, {b['with_link_in_text']} with a link"
    )
    src = report["source"]
    dirty = len(src["uncommitted_changes_in_service_code"])
    print(
        f"Service code: {src['kind']} {src['path']} (HEAD {src['commit'][:10]}"
        + (f", {dirty} uncommitted changes" if dirty else "")
        + f"); CPUs: {report['machine']['cpus']}, "
        f"load before: {report['machine']['loadavg_before']}"
    )
    for name in names:
        samples = targets[name]["error_samples"]
        for status, text in samples.items():
            print(f"{name}: first {status} answer: {text[:200]}")
    slog = full.get("service_log") or {}
    if slog:
        print(
            f"Service log: {_fmt_counts(slog['lines_by_level'])}; tracebacks: {slog['tracebacks']}"
        )
        for line in slog["top_warnings_and_errors"]:
            print(f"    {line}")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=50_000, help="comments to submit")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both targets)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (>1: gthread)")
    parser.add_argument(
        "--processes", type=int, default=0, help="generator processes (default: the CPU count)"
    )
    parser.add_argument("--kill-redis", action="store_true", help="SIGKILL Redis mid-run")
    parser.add_argument(
        "--kill-at", type=float, default=0.4, help="share of requests done at the kill"
    )
    parser.add_argument(
        "--down-seconds", type=float, default=1.0, help="seconds between the kill and restart"
    )
    parser.add_argument(
        "--retry-cap", type=float, default=0.5, help="longest wait before retrying a 503 (s)"
    )
    parser.add_argument("--max-attempts", type=int, default=1000, help="attempts per request")
    parser.add_argument("--give-up", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per attempt")
    parser.add_argument(
        "--bare",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also drive benchmarks/bare_app.py (default: yes, except with --kill-redis "
        "or --cluster)",
    )
    parser.add_argument("--cluster", action="store_true", help="3-master Redis Cluster")
    parser.add_argument(
        "--sites",
        type=int,
        default=None,
        help="sites the bodies go to, round robin (default 1: the default site; "
        "with --cluster 3, on different masters)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--from-head", action="store_true", help="run the service from a git archive of HEAD"
    )
    group.add_argument("--source", type=Path, default=None, help="run the service from DIR")
    parser.add_argument(
        "--model-path",
        type=Path,
        default=None,
        help="spam model to use (trained there if missing); default: trained in the temp dir",
    )
    parser.add_argument("--seed", type=int, default=20240613, help="seed of the bodies")
    parser.add_argument("--quiet-wait", type=float, default=30.0, help="wait for idle CPUs (s)")
    parser.add_argument("--quiet-threshold", type=float, default=0.15)
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary directory")
    parser.add_argument("--output", type=Path, default=OUT / "load.json")
    args = parser.parse_args(argv)
    if args.sites is None:
        args.sites = CLUSTER_MASTERS if args.cluster else 1
    for name in ("requests", "sites", "connections", "workers", "threads", "max_attempts"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if not 0 < args.kill_at < 1:
        parser.error("--kill-at must be between 0 and 1")
    if args.kill_redis and args.cluster:
        parser.error("--kill-redis is for the single Redis; not with --cluster")
    return args


def write_json(path: Path, report: dict[str, Any]) -> None:
    """One file for both scenarios: a run replaces its own key and keeps the other's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(path.read_text())
        if isinstance(loaded, dict) and "benchmark" not in loaded:
            data = loaded
    data[report["scenario"]] = report
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, sub._on_signal)
    procs = sub.Processes()
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    keep = args.keep_logs
    try:
        report = run(args, procs, tmp)
    except ClusterUnavailable as exc:
        log(str(exc))
        return 2
    except BenchError as exc:
        keep = True
        log(f"FAILED: {exc}")
        return 1
    except KeyboardInterrupt as exc:
        log(f"interrupted ({str(exc) or 'Ctrl-C'}); stopping everything")
        return 130
    finally:
        # No second signal may cut the cleanup short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        procs.close()
        if keep:
            log(f"temporary files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    write_json(args.output, report)
    print_report(report)
    print(f"\nJSON written to {args.output} (key {report['scenario']!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
