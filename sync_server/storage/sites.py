"""Sites: their keys (and the keys retired by rotation), hash sizes and allowed origins."""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson

from sync_server.posterior import PRIOR_INTERCEPT
from sync_server.sites import DEFAULT_HASH_BITS
from sync_server.storage.database import Database
from sync_server.storage.errors import UnknownSite


class SiteStore:
    db: Database

    def create_site(self, site: str, hash_bits: int = DEFAULT_HASH_BITS) -> None:
        """Add a site with a global model of no weights (version 0) at the prior click rate
        (`posterior.PRIOR_INTERCEPT`); an existing site is kept. A key
        retired by `rotate_site_key` stays retired: ValueError."""
        retired = self.retired_site_key(site)
        if retired is not None:
            raise ValueError(f"the key {site!r} was retired when its site became {retired['site']!r}")
        now = time.time()
        with self.db.transaction():
            self.db.execute("INSERT INTO sites (site, hash_bits, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                            [site, hash_bits, now])
            self.db.execute("INSERT INTO models (site, version, intercept, weights, created_at)"
                            " VALUES (?, 0, ?, ?, ?) ON CONFLICT DO NOTHING",
                            [site, PRIOR_INTERCEPT, b"", now])

    def rotate_site_key(self, site: str, new_key: str, admin: str, via: str = "dashboard") -> None:
        """Give `site` the key `new_key` (checked by the caller): everything kept under the old
        key moves to the new one in one transaction. The old key stays reserved for this site:
        no other site can take it, and rotating back to it restores it.

        Updates another process stores for the old key after this are refused (see
        `add_updates`), never kept under a key nobody asks for.
        """
        with self.db.transaction(f"round:{site}", f"round:{new_key}"):
            self.site(site)
            retired = self.retired_site_key(new_key)
            if self.db.value("SELECT count(*) FROM sites WHERE site = ?", [new_key]) or (
                    retired and retired["site"] != site):
                raise ValueError(f"the key {new_key!r} is taken or was retired by another site")
            for table in self.db.table_names():  # every table that keeps something by site, retired keys too
                if "site" in self.db.columns(table):
                    self.db.execute(f'UPDATE "{table}" SET site = ? WHERE site = ?', [new_key, site])
            self.db.execute("DELETE FROM retired_site_keys WHERE key = ?", [new_key])  # rotating back restores it
            self.db.execute("INSERT INTO retired_site_keys (key, site, retired_at) VALUES (?, ?, ?)",
                            [site, new_key, time.time()])
            self._audit(new_key, admin, "key rotated", {"retired": site, "key": new_key}, via)

    def delete_site(self, site: str, admin: str, via: str = "dashboard") -> None:
        """Delete `site` and everything kept for it but its audit log (which records the
        deletion); its key is freed."""
        with self.db.transaction(f"round:{site}"):
            self.site(site)
            for table in self.db.table_names():
                if "site" in self.db.columns(table) and table != "admin_audit":
                    self.db.execute(f'DELETE FROM "{table}" WHERE site = ?', [site])
            self._audit(site, admin, "site deleted", {}, via)

    def set_catalog(self, site: str, document: dict, admin: str, via: str = "dashboard") -> None:
        """Replace `site`'s public catalog (checked by the caller, sync_server.catalog) and audit it."""
        self.site(site)
        slots = document.get("slots", {})
        with self.db.transaction():
            self.db.execute("INSERT INTO catalogs (site, document, imported_at) VALUES (?, ?, ?) ON CONFLICT (site)"
                            " DO UPDATE SET document = excluded.document, imported_at = excluded.imported_at",
                            [site, orjson.dumps(document).decode(), time.time()])
            self._audit(site, admin, "catalog imported",
                        {"slots": len(slots), "variants": sum(map(len, slots.values()))}, via)

    def catalog(self, site: str) -> dict | None:
        """`site`'s public catalog as imported, or None."""
        row = self.db.row("SELECT document FROM catalogs WHERE site = ?", [site])
        return orjson.loads(row["document"]) if row else None

    def add_server_key(self, site: str, key_hash: str, name: str, admin: str, via: str = "cli") -> None:
        """Let the holder of the key with SHA-256 `key_hash` call `site`'s backend endpoints; audited."""
        self.site(site)
        with self.db.transaction():
            self.db.execute("INSERT INTO server_keys (key_hash, site, name, created_at) VALUES (?, ?, ?, ?)",
                            [key_hash, site, name, time.time()])
            self._audit(site, admin, "server key created", {"name": name}, via)

    def server_key_site(self, key_hash: str) -> str | None:
        """The site the key with SHA-256 `key_hash` serves, or None."""
        row = self.db.row("SELECT site FROM server_keys WHERE key_hash = ?", [key_hash])
        return row["site"] if row else None

    def retired_site_key(self, key: str) -> dict | None:
        """When `key` was retired, and the key its site has now; None if it never was."""
        return self.db.row("SELECT * FROM retired_site_keys WHERE key = ?", [key])

    def site(self, site: str) -> dict:
        row = self.db.row("SELECT * FROM sites WHERE site = ?", [site])
        if row is None:
            raise UnknownSite(site)
        return row

    def sites(self) -> list[dict]:
        return self.db.rows("SELECT * FROM sites ORDER BY site")

    def site_origins(self, site: str) -> list[str]:
        """The origins whose pages may call `site`'s API (besides the server's own)."""
        self.site(site)
        return [r["origin"] for r in self.db.rows("SELECT origin FROM site_origins WHERE site = ? ORDER BY origin",
                                                  [site])]

    def set_site_origins(self, site: str, origins: Iterable[str]) -> None:
        """Replace `site`'s allowed origins."""
        self.site(site)
        with self.db.transaction():
            self.db.execute("DELETE FROM site_origins WHERE site = ?", [site])
            self.db.executemany("INSERT INTO site_origins (site, origin) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                [(site, origin) for origin in origins])
