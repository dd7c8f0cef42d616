"""python -m bench NAME|all [--quick]"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from tqdm import tqdm

from bench import BENCHMARKS, report


def progress(iterable, total: int | None = None, desc: str | None = None):
    return tqdm(iterable, total=total, desc=desc, unit_scale=True, leave=False, file=sys.stderr)


def run(name: str, quick: bool, results: Path) -> None:
    module = importlib.import_module(f"bench.{name}")
    print(f"== {name}{' (quick)' if quick else ''}", flush=True)
    figures, params = module.run(quick=quick, progress=progress)
    params = {**params, "quick": quick}
    path = report.write(name, figures, params, results)
    if hasattr(module, "plot"):
        module.plot(figures, params, path.with_suffix(".png"))
    print(report.table(figures))
    print(f"-> {path}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=[*BENCHMARKS, "all"], help="which benchmark to run")
    parser.add_argument("--quick", action="store_true", help="a small run, for smoke tests")
    parser.add_argument("--results", type=Path, default=report.RESULTS, help="where to write (default: bench/results/)")
    args = parser.parse_args(argv)
    for name in BENCHMARKS if args.name == "all" else [args.name]:
        run(name, args.quick, args.results)


if __name__ == "__main__":
    main()
