"""What a benchmark run leaves behind: the results file, and a table on the terminal."""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
MAX_LIST_SHOWN = 3  # a short list (a confidence interval) prints; a longer one (a curve) does not


def machine() -> dict:
    """Enough about this machine to tell two results files' conditions apart."""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def write(name: str, figures: dict, params: dict, directory: Path = RESULTS) -> Path:
    """Write `directory/NAME.json` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    result = {
        "name": name,
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": figures,
        "params": params,
    }
    path = directory / f"{name}.json"
    # allow_nan=False: NaN is not JSON; a benchmark says "no figure" with None.
    path.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    return path


def table(figures: dict) -> str:
    """Figures as text: a dict of dicts becomes a table, a number a line; long lists are left out."""
    lines = []
    for key, value in figures.items():
        if isinstance(value, dict) and value and all(isinstance(row, dict) for row in value.values()):
            lines += ["", *_rows(key, value), ""]
        elif isinstance(value, dict):
            lines += [f"{key}:", *(f"  {k}: {_format(v)}" for k, v in value.items())]
        elif _shown(value):
            lines.append(f"{key}: {_format(value)}")
    return "\n".join(lines).strip("\n")


def _rows(title: str, rows: dict[str, dict]) -> list[str]:
    columns = list(dict.fromkeys(c for row in rows.values() for c, v in row.items() if _shown(v)))
    if not columns:
        return []
    cells = [[title, *columns]]
    cells += [[name, *(_format(row.get(c, "")) for c in columns)] for name, row in rows.items()]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    return [text[0], "-" * len(text[0]), *text[1:]]


def _shown(value: object) -> bool:
    """Whether a value fits in a table cell: not a curve (a long list), nor a nested table."""
    if isinstance(value, list):
        return len(value) <= MAX_LIST_SHOWN
    return not isinstance(value, dict)


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)
