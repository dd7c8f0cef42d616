"""Benchmarks that print figures and write them to `bench/results/NAME.json`.

    python -m bench NAME            # one benchmark, e.g. edge_latency
    python -m bench all             # every benchmark, in the order of BENCHMARKS
    python -m bench NAME --quick    # a small run, for smoke tests

Each run shows progress, prints its figures as a table and writes
`{"name", "when", "machine", "figures", "params"}` as JSON (and a PNG where a picture helps).
Benchmarks compare against baselines *in the same run* and report ratios, because these
machines are noisy; they never pass or fail on timing.

Adding a benchmark
------------------
1. Write `bench/NAME.py` whose docstring says what it measures, with

       def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
           ...
           return figures, params

   `figures` holds the results: a dict of dicts prints as a table, numbers and short lists
   (an interval) print as they are, long lists (a curve) go to the JSON only. `params` says
   how they were obtained. Wrap every long loop in `progress(iterable, total=n, desc="what")`.
2. Optionally add `def plot(figures: dict, params: dict, path: pathlib.Path) -> None` to
   draw `path` (a PNG) with matplotlib.
3. Add `"NAME"` to `BENCHMARKS` below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

BENCHMARKS = ("edge_latency", "edge_quality", "variety", "edge_outcomes", "obd_replay", "sync_ingest", "federated_quality",
              "model_bytes", "poisoning", "browser_boot", "login_flood", "fuzz")

# Called like tqdm: progress(iterable, total=..., desc=...) yields the same items.
Progress = Callable[..., Iterable]
