"""Everything the server keeps, in a SQLite file (the default, for one machine) or a
PostgreSQL database (shared by server replicas on several machines).

`Store` is the stores of the four aggregates on one connection: sites (sites.py), rounds
and updates (rounds.py), visitors with their consent and profiles (visitors.py), and admins
with their sessions and audit (admins.py). Only this package knows the tables (schema.py);
database.py holds what differs between the two databases.

>>> store = Store(":memory:")
>>> store.create_site("shop", hash_bits=4)
>>> store.open_round("shop")
(1, 0, None)
"""

from __future__ import annotations

from pathlib import Path

from sync_server.storage import schema
from sync_server.storage.admins import AdminStore
from sync_server.storage.database import (
    Database,
    UnknownDatabase,
    connect,
    is_postgres,
    parse_target,
)
from sync_server.storage.errors import (
    AdminExists,
    NoSyncConsent,
    TokenExpired,
    TokenRefused,
    TokenSpent,
    UnknownSite,
)
from sync_server.storage.rounds import RoundStore
from sync_server.storage.sites import SiteStore
from sync_server.storage.visitors import VisitorStore

__all__ = ["AdminExists", "Database", "NoSyncConsent", "Store", "TokenExpired", "TokenRefused", "TokenSpent",
           "UnknownDatabase", "UnknownSite", "connect", "is_postgres", "parse_target"]


class Store(SiteStore, RoundStore, VisitorStore, AdminStore):
    """Sites, rounds and updates, visitors, admins: one database, migrated to the latest schema."""

    def __init__(self, target: str | Path) -> None:
        self.target = parse_target(target)  # a SQLite file's path or a PostgreSQL URL
        self.rules_changes = 0  # editor rules set through this Store: caches of them check it
        self.db = connect(self.target)
        schema.migrate(self.db)

    @property
    def path(self) -> Path | str:
        """What the database is called, for messages and per-database caches."""
        return self.target

    def reopen(self) -> Store:
        """Another connection to the same database (a thread's own)."""
        return Store(self.target)
