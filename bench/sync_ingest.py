"""How fast the sync server takes device updates, and what closing a round costs.

- `ingest`: the real server (uvicorn with uvloop and httptools, group commits) runs in one
  process, then in two sharing the port (SO_REUSEPORT) and the database: the real SQLite file
  in WAL mode with synchronous=FULL, then PostgreSQL (a throwaway cluster on this machine,
  fsync and synchronous_commit on, as replicas on several machines would share it) with one,
  two and three processes; `scaling` is each backend's throughput with two processes over
  its throughput with one. The load generator is another process: `wrk` (found
  on the PATH, else installed with apt-get when this runs as root, else a Python client) with
  `sync_ingest.lua`, playing 200 simulated devices on loopback, each on a keep-alive
  connection, posting realistic sparse deltas (300 hashed weights, counters, a fresh
  update_id, a participation token of its own) one after another, in JSON and in the compact
  form. The tokens are minted beforehand with the server's key, as devices hold them ahead of
  time; the server checks each one (a VOPRF evaluation) and stores it as spent. Throughput counts only 202s,
  each one a committed update; latency is from sending a request to the end of its answer.
  Afterwards every acknowledged update id must be in the updates table. The server
  processes' CPU time per update says what the server costs even when other work shares the
  machine, and PostgreSQL's processes' CPU per update what the database costs; the load
  generator's own CPU per request shows it leaves the cores to the server, and
  `cores_busy_with_other_work` how much of the machine other work took meanwhile (with the
  load averages). `updates_per_core_second` is what the server, the database and the load
  generator took per core-second of CPU: the rate two cores of their own would allow, when
  other work on the machine keeps the measured rate down.
  Goal: ≥ 5,000 updates/s with p99 < 50 ms. Rounds are kept open during this part (their cost
  is the next part's).
- `close_round`: the CPU time `rounds.close_round` takes (read, clip, aggregate, account,
  publish) as devices and nonzeros per delta grow. The least-squares fit `time = fixed +
  per_device · devices + per_nonzero · devices · nonzeros` over rounds without noise, its r²
  and its largest miss show the cost is linear; the same rounds with noise add a cost that
  does not grow with devices: noise on all 2^18 weights, which makes the model dense.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import math
import multiprocessing
import os
import random
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import psycopg
import uvloop

from bench import Progress
from bench.timing import percentile
from sync_server.auth import VisitorSecrets
from sync_server.records import Counter, RoundConfig, Update
from sync_server.rounds import close_round
from sync_server.storage import Store
from sync_server.tokens import SERVER_KEY_NAME, TokenKeys
from sync_server.updates import COMPACT_TYPE, compact_body
from tests import databases

SITE = "bench"
ORIGIN = "https://shop.example"  # the site's pages, where the devices run
HASH_BITS = 18
DEVICES = 200
NONZEROS = 300
REPEATS = 3
PROCESSES = {"sqlite": (1, 2), "postgresql": (1, 2, 3)}  # server processes sharing the port and the database
ENCODINGS = {"json": b"application/json", "compact": COMPACT_TYPE}
WARM_UP_SECONDS = 1
GOAL_UPDATES_PER_S = 5_000
GOAL_P99_MS = 50.0
LUA_SCRIPT = Path(__file__).with_suffix(".lua")
TOKENS_PER_SECOND = 12_000  # minted per second of load: more than the server takes


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    load_averages = os.getloadavg()  # other work on the machine: the figures are only as good as it is quiet
    seconds = 3 if quick else 15
    grid = ([50, 100, 200], [100, 300]) if quick else ([100, 200, 400, 800, 1600], [100, 300, 1000])
    load = _load_generator()
    print(f"load generator: {load.description}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, databases.throwaway_cluster() as cluster:
        targets = {"sqlite": lambda work: work / "p13n.db", "postgresql": lambda _: databases.new_schema(cluster)}
        ingest = {f"{backend}, {encoding}, {n} server process{'es' if n > 1 else ''}":
                  _ingest(Path(tmp), backend, targets[backend], encoding, n, seconds, load, progress)
                  for backend in PROCESSES for encoding in ENCODINGS for n in PROCESSES[backend]}
        closing, fit = _closing(Path(tmp) / "rounds.db", *grid, progress)
    scaling = {f"{backend}, {encoding}": ingest[f"{backend}, {encoding}, 2 server processes"]["updates_per_s"]
               / ingest[f"{backend}, {encoding}, 1 server process"]["updates_per_s"]
               for backend in PROCESSES for encoding in ENCODINGS}
    figures = {"ingest": ingest, "scaling_2_over_1_process": scaling, "close_round": closing, "close_round_fit": fit,
               "ingest_meets_goal_with": "; ".join(name for name, row in ingest.items() if row["meets_goal"]) or "none"}
    params = {"devices": DEVICES, "nonzeros_per_delta": NONZEROS, "hash_bits": HASH_BITS, "seconds": seconds,
              "goal_updates_per_s": GOAL_UPDATES_PER_S, "goal_p99_ms": GOAL_P99_MS,
              "load_generator": load.description, "cpus": os.cpu_count(),
              "load_averages_1_5_15_min_at_start": load_averages, "load_averages_at_end": os.getloadavg(),
              "server": "uvicorn with uvloop and httptools per process, SO_REUSEPORT; SQLite WAL, synchronous=FULL, "
                        "or PostgreSQL 15 on the same machine (fsync, synchronous_commit on); "
                        "per-IP rate limit off (one IP plays every device)"}
    return figures, params


# Ingest: the server in its own processes, the devices in another.

@dataclasses.dataclass
class Loaded:
    """What one load run saw: the update ids acknowledged, the refusals, latency percentiles."""

    acked: list[int]
    refused: dict[str, int]
    latency_ms: dict[str, float]
    cpu_seconds: float  # the load generator's own


def _ingest(tmp: Path, backend: str, target: Callable[[Path], Path | str], encoding: str, processes: int,
            seconds: int, load, progress: Progress) -> dict:
    work = tmp / f"ingest-{backend}-{encoding}-{processes}"
    work.mkdir()
    db, key = target(work), work / "p13n.key"
    store = Store(db)
    store.create_site(SITE, hash_bits=HASH_BITS)
    store.set_round_config(SITE, RoundConfig(min_devices=1_000_000, target_devices=1_000_000))
    store.set_site_origins(SITE, [ORIGIN])
    bodies = _bodies(64, encoding)
    _mint_tokens(key, (WARM_UP_SECONDS + seconds) * TOKENS_PER_SECOND, work / "tokens", progress)
    port = _free_port()
    spawn = multiprocessing.get_context("spawn")
    servers = [spawn.Process(target=_serve, args=(db, key, port), daemon=True) for _ in range(processes)]
    for server in servers:
        server.start()
    try:
        _wait_for(port)
        time.sleep(1.0)  # every process listening, so the kernel spreads the connections
        warm_up = load.run(port, bodies, encoding, WARM_UP_SECONDS, "w", work)
        cpu_before, busy_before = sum(_cpu_seconds(server.pid) for server in servers), _busy_cpu_seconds()
        database_before = _database_cpu_seconds(db)
        measured = load.run(port, bodies, encoding, seconds, "m", work, progress)
        server_cpu = sum(_cpu_seconds(server.pid) for server in servers) - cpu_before
        database_cpu = _database_cpu_seconds(db) - database_before
        others = _busy_cpu_seconds() - busy_before - server_cpu - database_cpu - measured.cpu_seconds
    finally:
        for server in servers:
            server.terminate()
            server.join(10)
    acked = warm_up.acked + measured.acked
    stored = {row[0] for row in store.db.execute("SELECT id FROM updates WHERE site = ?", [SITE])}
    store.db.close()
    throughput, p99 = len(measured.acked) / seconds, measured.latency_ms["99"]
    return {"updates_per_s": throughput, "p50_ms": measured.latency_ms["50"], "p99_ms": p99,
            "meets_goal": throughput >= GOAL_UPDATES_PER_S and p99 < GOAL_P99_MS,
            "server_cpu_us_per_update": server_cpu / len(measured.acked) * 1e6,
            "database_cpu_us_per_update": database_cpu / len(measured.acked) * 1e6,
            "load_cpu_us_per_request": measured.cpu_seconds / len(measured.acked) * 1e6,
            "updates_per_core_second": len(measured.acked) / (server_cpu + database_cpu + measured.cpu_seconds),
            "cores_busy_with_other_work": others / seconds, "load_average_1_min": os.getloadavg()[0],
            "body_bytes": round(np.mean([len(body) for body in bodies])),
            "acked": len(acked), "stored": len(stored), "refused": measured.refused,
            "every_ack_stored": len(set(acked)) == len(acked) and stored >= set(acked)}


def _mint_tokens(key: Path, n: int, path: Path, progress: Progress) -> None:
    """`n` tokens of round 1, one JSON object a line, made with the key the server will use."""
    keys = TokenKeys(VisitorSecrets.from_key_file(key).derive(SERVER_KEY_NAME))
    path.write_bytes(b"\n".join(orjson.dumps(keys.mint(SITE, 1))
                                for _ in progress(range(n), total=n, desc="minting tokens")) + b"\n")


def _cpu_seconds(pid: int, with_reaped_children: bool = False) -> float:
    """CPU time (user + system) a process has used so far, from Linux's /proc; with the time
    of the children it has waited for, if asked."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15 if with_reaped_children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _database_cpu_seconds(db: Path | str) -> float:
    """CPU time PostgreSQL's processes have used so far (its postmaster, the backends it has
    reaped, the live ones); 0 for SQLite, which runs inside the server processes."""
    if isinstance(db, Path):
        return 0.0
    with psycopg.connect(db) as conn:
        data = Path(conn.execute("SHOW data_directory").fetchone()[0])
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    total = _cpu_seconds(postmaster, with_reaped_children=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                total += _cpu_seconds(int(stat.parent.name))
    return total


def _busy_cpu_seconds() -> float:
    """CPU time every process on the machine has used so far (all but idle and I/O wait)."""
    user, nice, system, _, _, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _serve(db: Path | str, key: Path, port: int) -> None:
    """One server process on `port`, shared with the others through SO_REUSEPORT."""
    import uvicorn

    from sync_server.app import create_app
    from sync_server.config import Settings

    app = create_app(Settings(db_path=db, secret_key_path=key, demo_dir=None, ip_rate=0))  # one IP plays 200 devices
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, loop="uvloop", http="httptools", log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _load_generator():
    """wrk if it is here or apt-get can bring it, else the Python client."""
    wrk = shutil.which("wrk")
    if wrk is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: installing it with apt-get install -y wrk", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], stdout=subprocess.DEVNULL, check=False)
        wrk = shutil.which("wrk")
    return Wrk(wrk) if wrk else PythonDevices()


class Wrk:
    """wrk with `sync_ingest.lua`, on one thread (it needs a fraction of a core)."""

    def __init__(self, path: str) -> None:
        self.path = path
        version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        self.description = f"{version.split(' Copyright')[0].strip()} at {path}, with {LUA_SCRIPT.name}"

    def run(self, port: int, bodies: list[bytes], encoding: str, seconds: int, label: str, work: Path,
            progress: Progress | None = None) -> Loaded:
        bodies_file, acks = work / "bodies", work / f"acks-{label}"
        bodies_file.write_bytes(b"".join(b"%d\n%s" % (len(body), body) for body in bodies))
        command = [self.path, "-t1", f"-c{DEVICES}", f"-d{seconds}s", "--latency", "-s", str(LUA_SCRIPT),
                   f"http://127.0.0.1:{port}/v1/sites/{SITE}/updates", "--", str(bodies_file),
                   ENCODINGS[encoding].decode(), str(acks), label, ORIGIN, str(work / "tokens"),
                   str(WARM_UP_SECONDS * TOKENS_PER_SECOND if label == "m" else 0)]
        before = _children_cpu_seconds()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        _wait_showing_progress(seconds, encoding, progress)
        output, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed ({process.returncode}): {output}")
        latency_ms = {line.split()[0][1:]: int(line.split()[1]) / 1e3
                      for line in output.splitlines() if line.startswith("p")}
        return Loaded(*_read_acks(work.glob(f"acks-{label}.*")), latency_ms, _children_cpu_seconds() - before)


class PythonDevices:
    """The fallback: asyncio devices in a second process. It costs the machine far more CPU
    per request than wrk, which the figures then show as less throughput."""

    description = "Python asyncio devices in a second process (no wrk)"

    def run(self, port: int, bodies: list[bytes], encoding: str, seconds: int, label: str, work: Path,
            progress: Progress | None = None) -> Loaded:
        spawn = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
            devices = pool.submit(_python_devices, port, bodies, ENCODINGS[encoding], seconds, label,
                                  work / f"acks-{label}.0", work / "tokens",
                                  WARM_UP_SECONDS * TOKENS_PER_SECOND if label == "m" else 0)
            _wait_showing_progress(seconds, encoding, progress)
            latencies, cpu = devices.result()
        latency_ms = {q: percentile(latencies, float(q)) * 1e3 for q in ("50", "90", "99", "99.9")}
        return Loaded(*_read_acks(work.glob(f"acks-{label}.*")), latency_ms, cpu)


def _python_devices(port: int, bodies: list[bytes], content_type: bytes, seconds: int, run: str,
                    acks: Path, tokens: Path, first_token: int) -> tuple[list[float], float]:
    """Run DEVICES keep-alive connections for `seconds`, as sync_ingest.lua does; the latencies
    and this process's CPU seconds."""
    latencies: list[float] = []
    unspent = iter(tokens.read_bytes().splitlines()[first_token:])

    async def device(number: int, answers) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        stop_at, sent = time.perf_counter() + seconds, 0
        while (started := time.perf_counter()) < stop_at:
            sent += 1
            body = bodies[sent % len(bodies)].replace(b"@ID@", b"%s-%d-%09d" % (run.encode(), number, sent), 1)
            body = body.replace(b'"@TOKEN@"', next(unspent, b'"no tokens left"'), 1)
            writer.write(b"POST /v1/sites/%s/updates HTTP/1.1\r\nhost: bench\r\norigin: %s\r\ncontent-type: %s"
                         b"\r\ncontent-length: %d\r\n\r\n%s" % (SITE.encode(), ORIGIN.encode(), content_type,
                                                                  len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            answer = await reader.readexactly(int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0]))
            latencies.append(time.perf_counter() - started)
            status = head.split(b" ", 2)[1]
            answers.write(answer + b"\n" if status == b"202" else b"! %s %s\n" % (status, answer))
        writer.close()

    async def devices() -> None:
        with acks.open("wb") as answers:
            await asyncio.gather(*(device(n, answers) for n in range(DEVICES)))

    uvloop.run(devices())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return latencies, usage.ru_utime + usage.ru_stime


def _wait_showing_progress(seconds: int, encoding: str, progress: Progress | None) -> None:
    if progress is not None:
        for _ in progress(range(seconds), total=seconds, desc=f"ingest {encoding}, seconds"):
            time.sleep(1.0)


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # of the children waited for so far
    return usage.ru_utime + usage.ru_stime


def _read_acks(paths) -> tuple[list[int], dict[str, int]]:
    """The update ids of the 202s written to `paths`, and how often each error code came."""
    acked: list[int] = []
    refused: collections.Counter[str] = collections.Counter()
    for path in paths:
        for line in path.read_bytes().splitlines():
            if line.startswith(b"!"):
                refused[orjson.loads(line.split(b" ", 2)[2])["error"]] += 1
            else:
                acked.append(orjson.loads(line)["accepted"])
    return acked, dict(refused)


def _bodies(n: int, encoding: str) -> list[bytes]:
    """`n` update bodies with places for the update_id (@ID@) and the token ("@TOKEN@"), like
    devices send."""
    rng = random.Random(7)
    bodies = []
    for _ in range(n):
        idx = rng.sample(range(1 << HASH_BITS), NONZEROS)
        val = [round(rng.gauss(0.0, 0.01), 6) for _ in idx]
        counters = [{"slot": "hero", "variant": f"v{v}", "arm": "personalized", "impressions": 5, "clicks": 1}
                    for v in range(3)]
        update = {"base_version": 0, "samples": rng.randint(5, 50), "update_id": "bench-@ID@",
                  "delta": {"intercept": round(rng.gauss(0.0, 0.01), 6)}, "counters": counters, "token": "@TOKEN@"}
        if encoding == "compact":
            bodies.append(compact_body(update, idx, val))
        else:
            update["delta"] |= {"idx": idx, "val": val}
            bodies.append(orjson.dumps(update))
    return bodies


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, timeout: float = 120.0) -> None:
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
    same rounds with noise: the difference is the fixed cost of noising every bucket, which
    makes the model dense, so a noisy round is timed after a first one (loading a dense model
    is part of every round but a site's first). A round's cost is the CPU time it takes (what
    other work on the machine changes least), the least of REPEATS; the updates are
    checkpointed into the database file first, so the round's commit does not copy them."""
    store = Store(db)
    rng = np.random.default_rng(1)
    sizes = [(d, k) for k in nonzero_counts for d in device_counts]
    cases = [(sigma, d, k) for sigma in (0.0, 1.0) for d, k in sizes]
    took: dict[tuple[float, int, int], float] = {}
    for number, (sigma, devices, nonzeros) in enumerate(progress(cases, total=len(cases), desc="rounds")):
        updates = [_update(rng, nonzeros) for _ in range(devices)]
        for repeat in range(REPEATS):
            site = f"close-{number}-{repeat}"
            store.create_site(site, hash_bits=HASH_BITS)
            # No budget: these rounds measure cost, and a budget would refuse every one of them.
            store.set_round_config(site, RoundConfig(min_devices=1, target_devices=devices, noise_multiplier=sigma,
                                                     epsilon_budget=None))
            for round_ in range(2 if sigma else 1):
                store.add_updates([(site, dataclasses.replace(update, base_version=round_)) for update in updates])
                store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # so the round's commit does not copy them
                started = time.process_time()
                closed = close_round(store, site, rng)
                spent = time.process_time() - started
                if closed is None or closed.version != round_ + 1:
                    raise RuntimeError(f"round {round_ + 1} of {site} did not close: its cost would be nothing's")
            took[sigma, devices, nonzeros] = min(took.get((sigma, devices, nonzeros), math.inf), spent)
    devices = np.array([d for d, _ in sizes], dtype=float)
    work = np.array([d * k / 1e6 for d, k in sizes])  # millions of nonzeros
    plain = np.array([took[0.0, d, k] for d, k in sizes]) * 1e3  # ms
    noisy = np.array([took[1.0, d, k] for d, k in sizes]) * 1e3
    # Linear: a fixed cost, a cost per device (its row, its counters) and one per nonzero.
    terms = np.column_stack([np.ones_like(work), devices / 1e3, work])
    (fixed, per_thousand_devices, per_million), *_ = np.linalg.lstsq(terms, plain, rcond=None)
    fitted = terms @ (fixed, per_thousand_devices, per_million)
    rows = {f"{d} devices × {k} nonzeros": {"million_nonzeros": w, "ms": t, "linear_fit_ms": f, "ms_with_noise": n}
            for (d, k), w, t, f, n in zip(sizes, work, plain, fitted, noisy)}
    fit = {"fixed_ms": fixed, "per_thousand_devices_ms": per_thousand_devices, "per_million_nonzeros_ms": per_million,
           "r2": 1 - ((plain - fitted) ** 2).sum() / ((plain - plain.mean()) ** 2).sum(),
           "largest_miss_of_the_fit": float(np.max(np.abs(plain - fitted) / plain)),
           "noise_over_all_buckets_ms": float(np.median(noisy - plain))}
    return rows, fit


def _update(rng: np.random.Generator, nonzeros: int) -> Update:
    idx = rng.choice(1 << HASH_BITS, size=nonzeros, replace=False).tolist()
    return Update(0, 10, 0.0, idx, rng.normal(0.0, 0.05, size=nonzeros).tolist(),
                  counters=(Counter("hero", "v1", "personalized", 5, 1),))


def plot(figures: dict, params: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fig, (ingest, closing) = pyplot.subplots(1, 2, figsize=(12, 4.5))
    runs = figures["ingest"]
    bars = ingest.bar(range(len(runs)), [run["updates_per_s"] for run in runs.values()], color="tab:blue")
    for bar, run in zip(bars, runs.values()):
        ingest.annotate(f"p99 {run['p99_ms']:.0f} ms", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize="small")
    ingest.axhline(params["goal_updates_per_s"], color="black", linestyle=":")
    ingest.set_xticks(range(len(runs)), [name.replace(", ", "\n") for name in runs], fontsize="small")
    ingest.set(ylabel="acknowledged updates / s", title=f"Ingest, {params['devices']} devices on loopback "
               f"(goal: {params['goal_updates_per_s']:,}/s, p99 < {params['goal_p99_ms']:.0f} ms)")
    by_nonzeros: dict[str, list[tuple[int, dict]]] = collections.defaultdict(list)
    for name, row in figures["close_round"].items():
        devices, _, nonzeros = name.partition(" devices × ")
        by_nonzeros[nonzeros].append((int(devices), row))
    for (nonzeros, cases), color in zip(by_nonzeros.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        devices = [d for d, _ in cases]
        closing.loglog(devices, [row["ms"] for _, row in cases], "o", color=color, label=nonzeros)
        closing.loglog(devices, [row["linear_fit_ms"] for _, row in cases], "-", color=color)
        closing.loglog(devices, [row["ms_with_noise"] for _, row in cases], "x", color=color)
    closing.set(xlabel="devices in the round", ylabel="CPU ms",
                title="Closing a round: o without noise, x with noise; lines: the linear fit")
    closing.legend(title="per delta", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot.close(fig)
