"""How fast the sync server takes device updates, and what closing a round costs.

- `ingest`: the real server (uvicorn with uvloop and httptools, the real SQLite file in WAL
  mode with synchronous=FULL, group commits) runs in one process, then in two sharing the
  port (SO_REUSEPORT) and the database; this process is the load generator: 200 simulated
  devices on loopback, each on a keep-alive connection, posting realistic sparse deltas (300
  hashed weights, counters, an update_id) one after another. Throughput counts only 202s,
  each one a committed update; latency is from the first byte sent to the last byte of the
  answer. Afterwards the updates table must hold exactly the acknowledged updates. The
  server processes' CPU time per update says what the server costs even when other work
  shares the machine. Goal: ≥ 5,000 updates/s with p99 < 50 ms. Rounds are kept open during
  this part (their cost is the next part's).
- `close_round`: the time `rounds.close_round` takes (read, clip, aggregate, account,
  publish) as devices and nonzeros per delta grow. The fit `time = fixed + per_nonzero ·
  devices · nonzeros` over rounds without noise shows the cost is linear; the same rounds
  with noise add a cost that does not grow with devices: noise on all 2^18 weights, which
  makes the published model dense.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import random
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import uvloop

from bench import Progress
from bench.timing import percentile
from sync_server.privacy import epsilon
from sync_server.rounds import RoundConfig, close_round
from sync_server.storage import Store
from sync_server.updates import Counter, Update

SITE = "bench"
HASH_BITS = 18
DEVICES = 200
NONZEROS = 300
REPEATS = 3
PROCESSES = (1, 2)  # server processes sharing the port and the database
GOAL_UPDATES_PER_S = 5_000
GOAL_P99_MS = 50.0


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    seconds = 3.0 if quick else 15.0
    grid = ([50, 100, 200], [100, 300]) if quick else ([100, 200, 400, 800, 1600], [100, 300, 1000])
    with tempfile.TemporaryDirectory() as tmp:
        ingest = {f"{n} server process{'es' if n > 1 else ''}":
                  _ingest(Path(tmp) / f"ingest-{n}.db", n, seconds, progress) for n in PROCESSES}
        closing = _closing(Path(tmp) / "rounds.db", *grid, progress)
    best = max(ingest.values(), key=lambda figures: figures["updates_per_s"])
    figures = {"ingest": ingest, "close_round": closing,
               "ingest_meets_goal": best["updates_per_s"] >= GOAL_UPDATES_PER_S and best["p99_ms"] < GOAL_P99_MS}
    params = {"devices": DEVICES, "nonzeros_per_delta": NONZEROS, "hash_bits": HASH_BITS, "seconds": seconds,
              "goal_updates_per_s": GOAL_UPDATES_PER_S, "goal_p99_ms": GOAL_P99_MS,
              "server": "uvicorn with uvloop and httptools per process, SO_REUSEPORT; SQLite WAL, synchronous=FULL; "
                        "per-IP rate limit off (one IP plays every device)"}
    return figures, params


# Ingest: the server in its own processes, the devices in this one.

def _ingest(db: Path, processes: int, seconds: float, progress: Progress) -> dict:
    store = Store(db)
    store.create_site(SITE, hash_bits=HASH_BITS)
    store.set_round_config(SITE, RoundConfig(min_devices=1_000_000, target_devices=1_000_000))
    before = store.count_updates(SITE)
    port = _free_port()
    spawn = multiprocessing.get_context("spawn")
    servers = [spawn.Process(target=_serve, args=(db, port), daemon=True) for _ in range(processes)]
    for server in servers:
        server.start()
    try:
        _wait_for(port)
        time.sleep(1.0)  # every process listening, so the kernel spreads the connections
        cpu_before = sum(_cpu_seconds(server.pid) for server in servers)
        latencies, acked, refused = uvloop.run(_load(port, seconds, progress))
        server_cpu = sum(_cpu_seconds(server.pid) for server in servers) - cpu_before
    finally:
        for server in servers:
            server.terminate()
            server.join(10)
    stored = store.count_updates(SITE) - before
    return {"updates_per_s": len(latencies) / seconds, "p50_ms": percentile(latencies, 50) * 1e3,
            "p99_ms": percentile(latencies, 99) * 1e3, "server_cpu_us_per_update": server_cpu / acked * 1e6,
            "acked": acked, "stored": stored, "refused": refused, "every_ack_stored": stored == acked}


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from Linux's /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve(db: Path, port: int) -> None:
    """One server process on `port`, shared with the others through SO_REUSEPORT."""
    import uvicorn

    from sync_server import Settings, create_app

    app = create_app(Settings(db_path=db, demo_dir=None, ip_rate=0))  # one IP plays 200 devices
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, loop="uvloop", http="httptools", log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


async def _load(port: int, seconds: float, progress: Progress) -> tuple[list[float], int, dict[str, int]]:
    """Run the devices for `seconds` after a one-second warm-up: the latencies of the 202s
    in the measured part, how many 202s in all, and how many refusals of each kind."""
    bodies = _bodies(64)
    latencies: list[float] = []
    acked = 0
    refusals: dict[str, int] = {}  # error code -> how often
    start = time.perf_counter()
    measure_from, stop_at = start + 1.0, start + 1.0 + seconds

    async def device(number: int) -> None:
        nonlocal acked
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = 0
        while (now := time.perf_counter()) < stop_at:
            body = bodies[(number + sent) % len(bodies)].replace(b"@ID@", f"{number:04d}-{sent:08d}".encode())
            sent += 1
            writer.write(b"POST /v1/sites/%s/updates HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json"
                         b"\r\ncontent-length: %d\r\n\r\n%s" % (SITE.encode(), len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            answer = await reader.readexactly(length)
            accepted = head.startswith(b"HTTP/1.1 202")
            acked += accepted
            if not accepted:
                error = orjson.loads(answer)["error"]
                refusals[error] = refusals.get(error, 0) + 1
            if accepted and now >= measure_from:
                latencies.append(time.perf_counter() - now)
        writer.close()

    tasks = [asyncio.create_task(device(n)) for n in range(DEVICES)]
    ticks = int(1.0 + seconds)
    for _ in progress(range(ticks), total=ticks, desc="ingest seconds"):
        await asyncio.sleep(1.0)
    await asyncio.gather(*tasks)
    return latencies, acked, refusals


def _bodies(n: int) -> list[bytes]:
    """`n` update bodies with a place (@ID@) for the update_id, like devices send."""
    rng = random.Random(7)
    bodies = []
    for _ in range(n):
        idx = rng.sample(range(1 << HASH_BITS), NONZEROS)
        val = [round(rng.gauss(0.0, 0.01), 6) for _ in idx]
        counters = [{"slot": "hero", "variant": f"v{v}", "arm": "personalized", "impressions": 5, "clicks": 1}
                    for v in range(3)]
        update = {"base_version": 0, "samples": rng.randint(5, 50), "update_id": "bench-@ID@",
                  "delta": {"intercept": round(rng.gauss(0.0, 0.01), 6), "idx": idx, "val": val},
                  "counters": counters}
        bodies.append(orjson.dumps(update))
    return bodies


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on port {port} within {timeout} s")


# Closing rounds, in this process: the same code the server's writer thread runs.

def _closing(db: Path, device_counts: list[int], nonzero_counts: list[int], progress: Progress) -> dict:
    """Rounds without noise for the linear fit (their cost is all per nonzero), then the
    same rounds with noise: the difference is the fixed cost of noising every bucket.
    Each round is timed REPEATS times and the fastest counts, as other work shares the machine."""
    store = Store(db)
    rng = np.random.default_rng(1)
    epsilon([1.0], 1e-6)  # loads the accountant (and SciPy) before any clock starts
    cases = [(sigma, d, k) for sigma in (0.0, 1.0) for k in nonzero_counts for d in device_counts]
    took: dict[tuple[float, int, int], float] = {}
    for number, (sigma, devices, nonzeros) in enumerate(progress(cases, total=len(cases), desc="rounds")):
        updates = [_update(rng, nonzeros) for _ in range(devices)]
        for repeat in range(REPEATS):
            site = f"close-{number}-{repeat}"
            store.create_site(site, hash_bits=HASH_BITS)
            store.set_round_config(site, RoundConfig(min_devices=1, target_devices=devices, noise_multiplier=sigma))
            store.add_updates([(site, update) for update in updates])
            started = time.perf_counter()
            close_round(store, site, rng)
            took[sigma, devices, nonzeros] = min(took.get((sigma, devices, nonzeros), math.inf),
                                                 time.perf_counter() - started)
    work = np.array([d * k for sigma, d, k in took if sigma == 0], dtype=float)
    plain = np.array([t for (sigma, _, _), t in took.items() if sigma == 0])
    noisy = np.array([t for (sigma, _, _), t in took.items() if sigma > 0])
    per_nonzero, fixed = np.polyfit(work, plain, 1)
    fitted = fixed + per_nonzero * work
    return {
        "ms without noise": {f"{d} devices × {k} nonzeros": t * 1e3 for (s, d, k), t in took.items() if s == 0},
        "ms with noise": {f"{d} devices × {k} nonzeros": t * 1e3 for (s, d, k), t in took.items() if s > 0},
        "per_million_nonzeros_ms": per_nonzero * 1e9,
        "fixed_ms": fixed * 1e3,
        "linear_fit_r2": 1 - ((plain - fitted) ** 2).sum() / ((plain - plain.mean()) ** 2).sum(),
        "noise_over_all_buckets_ms": float(np.median(noisy - plain)) * 1e3,
    }


def _update(rng: np.random.Generator, nonzeros: int) -> Update:
    idx = rng.choice(1 << HASH_BITS, size=nonzeros, replace=False).tolist()
    return Update(0, 10, 0.0, idx, rng.normal(0.0, 0.05, size=nonzeros).tolist(),
                  counters=(Counter("hero", "v1", "personalized", 5, 1),))
