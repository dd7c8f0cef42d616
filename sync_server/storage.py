"""Everything the server keeps, in one SQLite file through sqlite-utils.

Only this module knows the tables, so another backend (PostgreSQL for several
nodes) can take its place behind the same methods.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from sync_server.updates import Update


class UnknownSite(LookupError):
    """No site has that key."""


class Store:
    """Sites, their global model versions, and the updates devices sent."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, used from the event loop and the CLI; never two threads at once.
        self.db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
        self.db.enable_wal()
        # FULL: an acknowledged update is on disk even if the machine, not just the process, dies.
        self.db.execute("PRAGMA synchronous = FULL")
        self._create_tables()

    def _create_tables(self) -> None:
        self.db["sites"].create(
            {"site": str, "hash_bits": int, "created_at": float}, pk="site", if_not_exists=True
        )
        self.db["models"].create(
            {"site": str, "version": int, "intercept": float, "weights": str, "created_at": float},
            pk=("site", "version"), foreign_keys=[("site", "sites")], if_not_exists=True,
        )
        self.db["updates"].create(
            {"id": int, "site": str, "base_version": int, "samples": int, "intercept": float,
             "idx": str, "val": str, "received_at": float},
            pk="id", foreign_keys=[("site", "sites")], if_not_exists=True,
        )
        self.db["updates"].create_index(["site", "base_version"], if_not_exists=True)

    def create_site(self, site: str, hash_bits: int = 18) -> None:
        """Add a site with an empty global model (version 0); an existing site is kept."""
        with self.db.conn:
            self.db["sites"].insert(
                {"site": site, "hash_bits": hash_bits, "created_at": time.time()}, ignore=True
            )
            self.db["models"].insert(
                {"site": site, "version": 0, "intercept": 0.0, "weights": "[]", "created_at": time.time()},
                ignore=True,
            )

    def site(self, site: str) -> dict:
        try:
            return self.db["sites"].get(site)
        except sqlite_utils.db.NotFoundError:
            raise UnknownSite(site) from None

    def sites(self) -> list[dict]:
        return list(self.db["sites"].rows_where(order_by="site"))

    def latest_model(self, site: str) -> dict:
        """The newest global model of `site`, as devices receive it."""
        self.site(site)
        row = next(self.db["models"].rows_where("site = ?", [site], order_by="version desc", limit=1))
        return {"site": site, "version": row["version"], "intercept": row["intercept"],
                "weights": json.loads(row["weights"])}

    def add_update(self, site: str, update: Update) -> int:
        """Store one device update durably and return its id."""
        row = {"site": site, "base_version": update.base_version, "samples": update.samples,
               "intercept": update.intercept, "idx": json.dumps(update.idx),
               "val": json.dumps(update.val), "received_at": time.time()}
        with self.db.conn:
            return self.db["updates"].insert(row).last_pk

    def count_updates(self, site: str) -> int:
        return self.db["updates"].count_where("site = ?", [site])
