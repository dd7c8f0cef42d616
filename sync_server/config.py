"""Settings for one sync server process."""

from __future__ import annotations

import dataclasses
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where things are and how much the server accepts. Defaults suit the demo."""

    db_path: Path | str = ROOT / "data" / "p13n.db"  # a SQLite file, or a postgresql:// URL for replicas
    dist_dir: Path = ROOT / "dist"
    demo_dir: Path | None = ROOT / "browser_pkg" / "demo"
    demo_site: str = "demo"
    # Each round's noise touches every weight, so a global model is dense: 2^12 weights keep the
    # demo's model download small (about 80 kB); a site sets its own with create-site --hash-bits.
    demo_hash_bits: int = 12
    max_body_bytes: int = 1_000_000
    body_seconds: float = 10.0  # a request's whole body must arrive within this (bodylimit.py)
    max_profile_bytes: int = 64_000  # a profile's JSON; the body above caps every request
    secret_key_path: Path | None = None  # the key of visitors' secret hashes (auth.py); None: DB.key
    ip_rate: float = 50.0  # /v1 requests per second per client IP, refilled continuously (0: no limit)
    ip_burst: int = 200  # ... and at most this many at once
    visitor_rate: float = 0.5  # consent and profile requests per second per visitor
    visitor_burst: int = 20

    def secret_key(self) -> Path:
        """The key file of visitors' secret hashes: beside a SQLite file unless given; replicas
        sharing a PostgreSQL database must each be given the same one."""
        if self.secret_key_path is not None:
            return self.secret_key_path
        if "://" in str(self.db_path):
            raise ValueError("with a PostgreSQL database, give --secret-key FILE: the same key file on every replica")
        return self.db_path.with_suffix(".key")
