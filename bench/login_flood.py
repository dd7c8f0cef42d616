"""A flood of wrong sign-ins against a real server: what it costs the server, and whether
everyone else is still served meanwhile.

An attacker keeps 50 sign-in tries in flight (each a wrong password for a different admin
name, so no per-name limit applies), for `seconds`, as waves: 50 at once, the next wave
when all 50 are answered. Meanwhile a monitor asks `/healthz` every 50 ms and samples the
server process's memory (RSS) every 20 ms. Two shapes of attacker:

- `one_address`: every try from one client address;
- `many_addresses`: each of the 50 from an address of its own (X-Forwarded-For, which the
  server trusts from loopback as from a reverse proxy), so only the global bound on
  password checks holds them.

The baseline, in the same run, is `/healthz` with no flood. Goals (issue 10): memory growth
under 100 MB and `/healthz` p99 under 200 ms during the flood. Each scrypt check needs
32 MiB, so memory follows how many run at once (one), not how many are asked for.
"""

from __future__ import annotations

import asyncio
import collections
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from bench import Progress
from bench.live_server import LiveServer, live_server
from bench.timing import percentile

IN_FLIGHT = 50


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    seconds = 4.0 if quick else 15.0
    figures = {}
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp) / "p13n.db") as server:
        process = psutil.Process(server.pid)
        for shape in progress(["at_rest", "one_address", "many_addresses"], desc="login flood"):
            figures[shape] = _measure(server, process, shape, seconds)
    rest = figures["at_rest"]["healthz_ms"]["p99"]
    for shape in ("one_address", "many_addresses"):
        figures[shape]["healthz_p99_vs_rest"] = round(figures[shape]["healthz_ms"]["p99"] / rest, 2) if rest else None
    return figures, {"in_flight": IN_FLIGHT, "seconds": seconds, "healthz_every_s": 0.05, "rss_every_s": 0.02,
                     "password_checks": "1 at a time, 8 waiting, 2 per address (PasswordChecks defaults)"}


def _measure(server: LiveServer, process: psutil.Process, shape: str, seconds: float) -> dict:
    rss_before = process.memory_info().rss
    cpu_before = sum(process.cpu_times()[:2])
    stop = threading.Event()
    peak = [rss_before]
    sampler = threading.Thread(target=_sample_rss, args=(process, peak, stop))
    sampler.start()
    answers: collections.Counter = collections.Counter()
    attacker = None
    if shape != "at_rest":
        attacker = threading.Thread(target=lambda: asyncio.run(_flood(server, shape, seconds, answers)))
        attacker.start()
    latencies = _probe_healthz(server, seconds)
    if attacker:
        attacker.join()
    stop.set()
    sampler.join()
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    mb = 1024 * 1024
    return {
        "rss_before_mb": round(rss_before / mb, 1),
        "rss_peak_mb": round(peak[0] / mb, 1),
        "rss_growth_mb": round((peak[0] - rss_before) / mb, 1),
        "server_cpu_s": round(cpu, 2),
        "healthz_ms": {"p50": round(statistics.median(latencies), 1), "p99": round(percentile(latencies, 99), 1),
                       "max": round(max(latencies), 1), "n": len(latencies)},
        "sign_in_answers": {str(status): n for status, n in sorted(answers.items())},
    }


async def _flood(server: LiveServer, shape: str, seconds: float, answers: collections.Counter) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60,
                                 limits=httpx.Limits(max_connections=IN_FLIGHT)) as client:
        form = await client.get("/admin/login")
        token = form.text.split('name="csrf" value="')[1].split('"')[0]
        deadline, wave = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            client.cookies = httpx.Cookies({"p13n_login": token})  # each answer sets a new one: keep the first
            tries = []
            for i in range(IN_FLIGHT):
                headers = {"x-forwarded-for": f"10.{wave % 250}.{i}.1"} if shape == "many_addresses" else {}
                fields = {"csrf": token, "name": f"guess-{wave}-{i}", "password": "not the password", "next": "/admin"}
                tries.append(client.post("/admin/login", data=fields, headers=headers))
            for answer in await asyncio.gather(*tries, return_exceptions=True):
                answers[answer.status_code if isinstance(answer, httpx.Response) else type(answer).__name__] += 1
            wave += 1


def _probe_healthz(server: LiveServer, seconds: float) -> list[float]:
    latencies = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            latencies.append(1000 * (time.perf_counter() - started))
            time.sleep(0.05)
    return latencies


def _sample_rss(process: psutil.Process, peak: list[int], stop: threading.Event) -> None:
    while not stop.wait(0.02):
        peak[0] = max(peak[0], process.memory_info().rss)
