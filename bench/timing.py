"""Small helpers to time calls and summarise the samples."""

from __future__ import annotations

import time


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank `q`-th percentile (0–100) of `samples`."""
    if not samples:
        raise ValueError("no samples to take a percentile of")
    ordered = sorted(samples)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_us(samples_ns: list[int]) -> dict[str, float]:
    """p50, p99 and mean of nanosecond samples, in microseconds."""
    us = [s / 1000 for s in samples_ns]
    return {"p50": percentile(us, 50), "p99": percentile(us, 99), "mean": sum(us) / len(us), "n": len(us)}


def timed(call, *args, **kwargs) -> tuple[object, int, int]:
    """Call `call(*args, **kwargs)`; return its result, how long it took in nanoseconds, and
    how much of that this thread ran on a CPU: on a shared machine the wall time also counts
    the moments another process had the core, the CPU time only what the call cost."""
    start, cpu = time.perf_counter_ns(), time.thread_time_ns()
    result = call(*args, **kwargs)
    return result, time.perf_counter_ns() - start, time.thread_time_ns() - cpu
