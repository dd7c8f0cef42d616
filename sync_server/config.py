"""Settings for one sync server process."""

from __future__ import annotations

import dataclasses
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where things are and how much the server accepts. Defaults suit the demo."""

    db_path: Path = ROOT / "data" / "p13n.db"
    dist_dir: Path = ROOT / "dist"
    demo_dir: Path | None = ROOT / "browser_pkg" / "demo"
    demo_site: str = "demo"
    max_body_bytes: int = 1_000_000
