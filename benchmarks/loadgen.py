"""A closed-loop HTTP/1.1 load generator for bench_load.py: a fixed list of requests, each
sent until it gets a final answer, by many concurrent connections.

Why not http.client in threads: on a 2-core machine every cycle the generator spends is
taken from the server it measures, and the GIL makes threads pay for each other. So each
generator process runs one asyncio loop with a minimal `asyncio.Protocol` client (no
StreamReader/StreamWriter layers, one future per request, only the status line and four
headers parsed); the response bodies are kept as bytes and parsed by the caller afterwards,
outside the measured window. The requests are pre-encoded bytes, shared with the forked
processes copy-on-write.

Behaviour of one connection (one "client"): take the next request of its process' share,
send it, wait for the answer. The server closes the connection when it says
`Connection: close` (gunicorn's sync workers always do), and the next request opens a new
one. A 503 is retried on the same request after `Retry-After` seconds capped to
`retry_cap` (a real client honouring Retry-After, kept short so a benchmark does not stall),
with jitter so the clients do not come back in lockstep; so is a socket error (refused,
reset, timed out). Requests are expected to carry an Idempotency-Key, which makes every
resend safe. Other statuses are final.

Results per request (final status, attempts, the final body of a 2xx, whether the answer
was an idempotent replay) and per answer (monotonic time it arrived, status, latency) go
back to the caller; `time.monotonic()` is CLOCK_MONOTONIC on Linux, one clock for every
process of the machine, so answer times from all processes line up with the caller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import queue as queue_module
import random
import resource
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"

# Final status codes for requests that never got an HTTP answer.
NO_ANSWER = 0  # only socket errors, attempts used up


def build_request(
    port: int, path: str, body: bytes, headers: dict[str, str], host: str = HOST
) -> bytes:
    """One complete HTTP/1.1 POST, ready to write to a socket."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Exchange(asyncio.Protocol):
    """One TCP connection; one request at a time on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bool, float, bool]] | None = None
        self.head: tuple[int, int | None, bool, float, bool] | None = None
        self.body_start = 0
        self.lost = False
        self.received_any = False

    # asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        self.buf += data
        if self.waiter is not None and not self.waiter.done():
            self._try_complete(eof=False)

    def eof_received(self) -> bool:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self._try_complete(eof=True)
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self._try_complete(eof=True)
            if not self.waiter.done():
                self.waiter.set_exception(exc or ConnectionResetError("connection closed"))

    # ours -------------------------------------------------------------------------------

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes, bool, float, bool]]:
        self.buf.clear()
        self.head = None
        self.received_any = False
        self.waiter = self.loop.create_future()
        assert self.transport is not None
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _try_complete(self, eof: bool) -> None:
        assert self.waiter is not None
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if eof:
                    self.waiter.set_exception(ConnectionResetError("closed before the headers"))
                return
            try:
                self.head = _parse_head(bytes(self.buf[:end]))
            except ValueError as exc:
                self.waiter.set_exception(exc)
                return
            self.body_start = end + 4
        status, length, close, retry_after, replayed = self.head
        have = len(self.buf) - self.body_start
        if length is None:  # no Content-Length: the body ends with the connection
            if eof:
                body = bytes(self.buf[self.body_start :])
                self.waiter.set_result((status, body, True, retry_after, replayed))
            return
        if have >= length:
            body = bytes(self.buf[self.body_start : self.body_start + length])
            self.waiter.set_result((status, body, close or self.lost, retry_after, replayed))
        elif eof:
            self.waiter.set_exception(ConnectionResetError("closed inside the body"))


def _parse_head(head: bytes) -> tuple[int, int | None, bool, float, bool]:
    """Status, Content-Length, whether the server closes, Retry-After, Idempotent-Replayed."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = int(parts[1])
    close = parts[0] == b"HTTP/1.0"
    length: int | None = None
    retry_after = 0.0
    replayed = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"retry-after":
            with contextlib.suppress(ValueError):
                retry_after = float(value)
        elif name == b"idempotent-replayed":
            replayed = value.strip().lower() == b"true"
        elif name == b"transfer-encoding":
            raise ValueError("chunked answers are not supported by this generator")
    return status, length, close, retry_after, replayed


@dataclass
class Options:
    connections: int = 64
    processes: int = 2
    timeout_s: float = 30.0  # per attempt; gunicorn's worker timeout is 30 s as well
    retry_statuses: tuple[int, ...] = (503,)
    retry_cap_s: float = 0.5
    max_attempts: int = 1000
    give_up_s: float = 300.0  # per request, from its first attempt
    socket_retry_s: float = 0.05


@dataclass
class LoadOutcome:
    """Everything the generator saw, in the caller's process."""

    requests: int
    started: float  # time.monotonic()
    finished: float
    final_status: list[int]
    attempts: list[int]
    replayed: list[bool]
    bodies: dict[int, bytes]  # index -> body of the final 2xx answer
    error_samples: dict[int, bytes]  # status -> body of its first answer
    answer_time: array  # type: ignore[type-arg]  # monotonic time of every HTTP answer
    answer_status: array  # type: ignore[type-arg]
    answer_latency_ms: array  # type: ignore[type-arg]
    socket_errors: dict[str, int]
    stale_resends: int  # a kept-alive connection closed under us: sent again, not an error
    cpu_s: float  # CPU time of the generator processes
    processes: int
    connections: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.finished - self.started


def _child(
    slot: int,
    port: int,
    requests: Sequence[bytes],
    indices: list[int],
    connections: int,
    options: Options,
    progress: Any,
    start_at: float,
    results: mp.Queue,  # type: ignore[type-arg]
) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        out = asyncio.run(
            _child_main(slot, port, requests, indices, connections, options, progress, start_at)
        )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out["cpu_s"] = usage.ru_utime + usage.ru_stime
        results.put(out)


async def _child_main(
    slot: int,
    port: int,
    requests: Sequence[bytes],
    indices: list[int],
    connections: int,
    options: Options,
    progress: Any,
    start_at: float,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    todo = deque(indices)
    final: dict[int, tuple[int, int, bool]] = {}
    bodies: dict[int, bytes] = {}
    samples: dict[int, bytes] = {}
    when = array("d")
    statuses = array("H")
    latencies = array("d")
    errors = {"connect": 0, "reset": 0, "timeout": 0, "protocol": 0}
    stale = [0]
    rng = random.Random(slot)
    retry_statuses = set(options.retry_statuses)
    perf = time.perf_counter
    mono = time.monotonic

    async def client() -> None:
        conn: _Exchange | None = None
        while todo:
            index = todo.popleft()
            data = requests[index]
            first_sent = mono()
            attempts = 0
            status = NO_ANSWER
            body = b""
            replayed = False
            while True:
                attempts += 1
                reused = conn is not None
                connecting = conn is None
                try:
                    if conn is None:
                        _, conn = await loop.create_connection(lambda: _Exchange(loop), HOST, port)
                    connecting = False
                    sent = perf()
                    async with asyncio.timeout(options.timeout_s):
                        status, body, close, retry_after, replayed = await conn.send(data)
                except (OSError, TimeoutError, ValueError) as exc:
                    stale_close = (
                        reused
                        and conn is not None
                        and not conn.received_any
                        and isinstance(exc, ConnectionError)
                    )
                    if conn is not None:
                        conn.close()
                        conn = None
                    if stale_close:
                        # The server dropped an idle kept-alive connection as we wrote:
                        # resend at once on a new one (the Idempotency-Key makes it safe).
                        stale[0] += 1
                        attempts -= 1
                        continue
                    if connecting:
                        errors["connect"] += 1
                    elif isinstance(exc, TimeoutError):
                        errors["timeout"] += 1
                    elif isinstance(exc, ValueError):
                        errors["protocol"] += 1
                    else:
                        errors["reset"] += 1
                    status = NO_ANSWER
                    if attempts >= options.max_attempts or mono() - first_sent > options.give_up_s:
                        break
                    await asyncio.sleep(options.socket_retry_s)
                    continue
                done = perf()
                latencies.append((done - sent) * 1000.0)
                when.append(mono())
                statuses.append(status)
                if close:
                    conn.close()
                    conn = None
                if status not in samples and not 200 <= status < 300:
                    samples[status] = body[:2000]
                if (
                    status in retry_statuses
                    and attempts < options.max_attempts
                    and mono() - first_sent <= options.give_up_s
                ):
                    wait = min(retry_after or options.retry_cap_s, options.retry_cap_s)
                    await asyncio.sleep(wait * rng.uniform(0.5, 1.0))
                    continue
                break
            final[index] = (status, attempts, replayed)
            if 200 <= status < 300:
                bodies[index] = body
            progress[slot] += 1
        if conn is not None:
            conn.close()

    pause = start_at - mono()
    if pause > 0:
        await asyncio.sleep(pause)  # every process starts at the same instant
    await asyncio.gather(*(client() for _ in range(connections)))
    return {
        "final": final,
        "bodies": bodies,
        "samples": samples,
        "when": when,
        "statuses": statuses,
        "latencies": latencies,
        "errors": errors,
        "stale": stale[0],
    }


def run_load(
    port: int,
    requests: Sequence[bytes],
    options: Options,
    on_progress: Callable[[int], None] | None = None,
    poll_s: float = 0.01,
) -> LoadOutcome:
    """Send every request (closed loop), return what happened.

    `on_progress(done)` is called from this (the caller's main) thread every `poll_s`
    seconds with the number of requests finished so far: bench_load.py kills and restarts
    Redis from it, in the thread that owns the server.
    """
    ctx = mp.get_context("fork")  # the request list is shared copy-on-write, not pickled
    processes = max(1, min(options.processes, options.connections, len(requests) or 1))
    progress = ctx.Array("q", processes, lock=False)  # slot p written by process p only
    results: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start_at = time.monotonic() + 0.3
    workers = []
    for p in range(processes):
        share = options.connections // processes + (1 if p < options.connections % processes else 0)
        worker = ctx.Process(
            target=_child,
            args=(
                p,
                port,
                requests,
                list(range(p, len(requests), processes)),
                share,
                options,
                progress,
                start_at,
                results,
            ),
            daemon=True,
        )
        worker.start()
        workers.append(worker)
    outs: list[dict[str, Any]] = []
    try:
        while len(outs) < processes:
            if on_progress is not None:
                on_progress(sum(progress))
            try:
                outs.append(results.get(timeout=poll_s))
            except queue_module.Empty:
                if not any(w.is_alive() for w in workers) and results.empty():
                    raise RuntimeError(
                        f"{processes - len(outs)} load process(es) died without results"
                    ) from None
    finally:
        for worker in workers:
            if worker.is_alive() and len(outs) < processes:
                worker.terminate()
            worker.join(10)
    finished = max(max(o["when"], default=start_at) for o in outs)
    count = len(requests)
    final_status = [NO_ANSWER] * count
    attempts = [0] * count
    replayed = [False] * count
    bodies: dict[int, bytes] = {}
    samples: dict[int, bytes] = {}
    when = array("d")
    statuses = array("H")
    latencies = array("d")
    errors = {"connect": 0, "reset": 0, "timeout": 0, "protocol": 0}
    stale = 0
    cpu = 0.0
    for out in outs:
        for index, (status, tries, was_replayed) in out["final"].items():
            final_status[index] = status
            attempts[index] = tries
            replayed[index] = was_replayed
        bodies.update(out["bodies"])
        for status, body in out["samples"].items():
            samples.setdefault(status, body)
        when.extend(out["when"])
        statuses.extend(out["statuses"])
        latencies.extend(out["latencies"])
        for key, value in out["errors"].items():
            errors[key] += value
        stale += out["stale"]
        cpu += out["cpu_s"]
    return LoadOutcome(
        requests=count,
        started=start_at,
        finished=finished,
        final_status=final_status,
        attempts=attempts,
        replayed=replayed,
        bodies=bodies,
        error_samples=samples,
        answer_time=when,
        answer_status=statuses,
        answer_latency_ms=latencies,
        socket_errors=errors,
        stale_resends=stale,
        cpu_s=cpu,
        processes=processes,
        connections=options.connections,
    )


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (nan when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(0, -(-len(sorted_values) * q // 100) - 1)
    return sorted_values[min(int(rank), len(sorted_values) - 1)]


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
